"""Forecast model v2: two random effects, the band from every draw on knots (``make bench``).

The target of issue 15: a 1000-draw, 10-year daily forecast with 6-monthly maintenance within
20 ms. The baseline is the plain approach with the same draws (two random effects and, as the
product forecasts by default, a posterior draw of the population parameters each): every draw
computed on every day, then ``numpy.quantile`` per day. The product's call took about 31 ms two
rounds ago and 21-27 ms before the blocked in-place evaluation (docs/model.md, "How it is
computed fast").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from needleplan.domain import Condition, Smoking, reference_assessment
from needleplan.forecasting.chain import curve_inputs, forecast, horizon_days, series_days
from needleplan.forecasting.models import improvement, persistence_from
from needleplan.forecasting.params import default_params
from needleplan.forecasting.uncertainty import load_posterior

REF = reference_assessment()
#: A patient with factors: every draw also carries its own size of each covariate effect.
SMOKER_DIABETIC = REF.model_copy(
    update={"smoking": Smoking.CURRENT, "conditions": frozenset({Condition.DIABETES})}
)
SERIES = series_days(5, 35)
UPKEEP = series_days(5, 35, maintenance_months=6)


def _every_draw_every_day(sd: np.ndarray, parameters: bool = False) -> object:
    p = default_params()
    rng = np.random.default_rng(0)
    u_r = rng.standard_normal(1000)
    u_p = persistence_from(u_r, rng.standard_normal(1000), p)
    day = np.arange(horizon_days(10) + 1, dtype=np.float64)
    drawn = None
    if parameters:
        post = load_posterior()
        drawn = post.rates(rng.integers(0, len(post), 1000), p)
    curves = improvement(day, curve_inputs(REF, sd, u_r, p, u_p, drawn))
    return np.quantile(curves, [0.1, 0.5, 0.9], axis=0)


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        (
            "v2 forecast(), 1000 draws x 10 y daily, series: knots vs every draw every day",
            lambda: forecast(REF, SERIES, n_initial=5, parameter_uncertainty=False),
            lambda: _every_draw_every_day(SERIES),
        ),
        (
            "v2 forecast(maintenance_months=6) with parameter uncertainty (the product's call) "
            "vs every draw every day",
            lambda: forecast(REF, UPKEEP, n_initial=5, maintenance_months=6),
            lambda: _every_draw_every_day(UPKEEP, parameters=True),
        ),
    ]


def _best(fn: Callable[[], object], rounds: int = 20) -> float:
    """Best CPU time of one call [s]: on the shared machine wall time mostly measures the
    other processes (at a load of 10 on 2 cores it is 2-4x the CPU time)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def figures() -> list[tuple[str, str, str, bool, str, str]]:
    """Absolute times next to the every-draw-every-day baseline measured in the same run."""
    rows: list[tuple[str, str, str, bool, str, str]] = []
    base_series = _best(lambda: _every_draw_every_day(SERIES))
    base_upkeep = _best(lambda: _every_draw_every_day(UPKEEP, parameters=True))
    cases: list[tuple[str, Any, dict[str, Any], float]] = [
        ("series, patients only", SERIES, {"parameter_uncertainty": False}, base_series),
        ("series, patients + parameters", SERIES, {}, base_series),
        (
            "series + maintenance 6 mo (maintenance_months=6), patients only",
            UPKEEP,
            {"maintenance_months": 6, "parameter_uncertainty": False},
            base_upkeep,
        ),
        (
            "series + maintenance 6 mo (maintenance_months=6), patients + parameters "
            "(the product's call)",
            UPKEEP,
            {"maintenance_months": 6},
            base_upkeep,
        ),
    ]
    cases.append(
        (
            "series + maintenance 6 mo, a smoker with diabetes, patients + parameters + "
            "covariate effects",
            UPKEEP,
            {"maintenance_months": 6, "who": SMOKER_DIABETIC},
            base_upkeep,
        )
    )
    for label, sd, options, base in cases:
        kw: dict[str, Any] = dict(options)
        who = kw.pop("who", REF)
        t = _best(partial(forecast, who, sd, n_initial=5, **kw))
        rows.append(
            (
                f"v2 forecast(), 1000 draws x 10 y daily, {label}",
                f"{t * 1e3:.1f} ms CPU",
                "< 20 ms",
                t < 0.02,
                f"{base * 1e3:.1f} ms CPU",
                f"{base / t:.1f}x",
            )
        )
    t = _best(lambda: forecast(REF, UPKEEP, n_initial=5, maintenance_months=6, band=False))
    rows.append(
        (
            "v2 forecast(band=False, maintenance_months=6), typical patient only",
            f"{t * 1e3:.1f} ms CPU",
            "(for reference)",
            True,
            "",
            "",
        )
    )
    return rows

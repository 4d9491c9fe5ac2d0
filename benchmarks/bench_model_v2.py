"""Forecast model v2: two random effects, the band from every draw on knots (``make bench``).

The target of issue 15: a 1000-draw, 10-year daily forecast within 20 ms. The baseline is the
plain approach with the same two random effects: every draw computed on every day, then
``numpy.quantile`` per day.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from needleplan.domain import reference_assessment
from needleplan.forecasting.chain import forecast, series_days, simulate
from needleplan.forecasting.models import persistence_from
from needleplan.forecasting.params import default_params

REF = reference_assessment()
SERIES = series_days(5, 35)
UPKEEP = series_days(5, 35, maintenance_months=6)


def _every_draw_every_day(sd: np.ndarray) -> object:
    p = default_params()
    rng = np.random.default_rng(0)
    u_r = rng.standard_normal(1000)
    u_p = persistence_from(u_r, rng.standard_normal(1000), p)
    _, curves = simulate(REF, sd, u_r, years=10, persistence=u_p)
    return np.quantile(curves, [0.1, 0.5, 0.9], axis=0)


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        (
            "v2 forecast(), 1000 draws x 10 y daily, series: knots vs every draw every day",
            lambda: forecast(REF, SERIES, n_initial=5),
            lambda: _every_draw_every_day(SERIES),
        ),
    ]


def _best(fn: Callable[[], object], rounds: int = 10) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def figures() -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    for label, sd in (("series", SERIES), ("series + maintenance 6 mo", UPKEEP)):
        t = _best(lambda sd=sd: forecast(REF, sd, n_initial=5))
        rows.append(
            (
                f"v2 forecast(), 1000 draws x 10 y daily, {label}",
                f"{t * 1e3:.1f} ms",
                "< 20 ms",
                t < 0.02,
            )
        )
        if label != "series":
            t = _best(lambda sd=sd: forecast(REF, sd, n_initial=5, maintenance_months=6))
            rows.append(
                (
                    "v2 forecast(maintenance_months=6), as the product calls it (headline: least "
                    "over upkeep every 3..6 months)",
                    f"{t * 1e3:.1f} ms",
                    "< 20 ms",
                    t < 0.02,
                )
            )
        t = _best(lambda sd=sd: forecast(REF, sd, n_initial=5, band=False))
        rows.append(
            (
                f"v2 forecast(band=False), typical patient only, {label}",
                f"{t * 1e3:.1f} ms",
                "(for reference)",
                True,
            )
        )
    return rows

"""Forecast model: the package's closed form against a ``solve_ivp`` reference of the same ODEs.

The reference integrates the model's differential equations numerically, segment by segment
between sessions, applying each session's dose as a jump:

    dA/dt  = -r A                       A(0) = 100   (untreated firmness, ageing)
    dP/dt  = -k_b P                     P(s_k+) = P(s_k-) + g_k   (wound-healing signal)
    dCf/dt = (1 - phi) k_b P - k_f Cf   (fast-fading new collagen)
    dCs/dt = phi k_b P - k_s Cs         (remodelled, long-lived collagen)
    improvement = A + C (1 - exp(-(Cf + Cs)/C)) - 100

with g_k = G q_k a_k, q_k = 1 - exp(-(s_k - s_{k-1})/tau_h), a_k = exp(-beta_A (age_k - 50)/10),
written out again here (not imported from the package) so the comparison checks the package's
closed-form superposition and its dose bookkeeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from needleplan.domain import Assessment, parse_assessment, reference_assessment
from needleplan.forecasting.chain import forecast, series_days, simulate
from needleplan.forecasting.models import patient_modifiers
from needleplan.forecasting.params import ModelParams, default_params

YEARS = 10.0


def reference_curve(
    assessment: Assessment,
    session_days: NDArray[np.float64],
    z: float = 0.0,
    *,
    years: float = YEARS,
    params: ModelParams | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Improvement on each day by numerical integration (DOP853, tight tolerances)."""
    p = default_params() if params is None else params
    m = patient_modifiers(assessment)
    age = float(assessment.age)
    kb = 1.0 / p.build_days
    zp = p.random_effect_correlation * z  # persistence at its mean given the response z
    kf = m.fade * math.exp(-p.omega_fade * zp) / p.fast_fade_days
    ks = m.fade * math.exp(-p.omega_fade * zp) / (p.slow_fade_years * 365.25)
    raw = (
        p.ageing_rate_per_year
        * math.exp(p.age_ageing_per_decade * (age - 50.0) / 10.0)
        * m.ageing
        * math.exp(-p.omega_ageing * zp)
    )
    r = raw / (1.0 + (raw / 0.012) ** 8) ** (1.0 / 8.0) / 365.25  # adult-range soft cap
    phi = p.remodelled_fraction
    cap = p.capacity * m.capacity
    gain = p.gain * m.response * math.exp(p.omega_response * z)
    heal = p.heal_days * m.heal

    def rhs(_t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
        a, sig, cf, cs = y
        return np.array(
            [-r * a, -kb * sig, (1 - phi) * kb * sig - kf * cf, phi * kb * sig - ks * cs]
        )

    end = math.floor(years * 365.25 + 1e-9)
    day = np.arange(end + 1, dtype=np.float64)
    out = np.empty_like(day)
    state = np.array([100.0, 0.0, 0.0, 0.0])
    bounds = [*session_days.tolist(), float(end) + 1.0]
    for k, s in enumerate(session_days):
        q = 1.0 if k == 0 else 1.0 - math.exp(-(s - session_days[k - 1]) / heal)
        a_k = math.exp(-p.age_response_per_decade * (age + s / 365.25 - 50.0) / 10.0)
        state = state + np.array([0.0, gain * q * a_k, 0.0, 0.0])
        t_next = min(bounds[k + 1], float(end))
        mask = (day >= s) & (day < bounds[k + 1])
        t_eval = day[mask]
        last_segment = k + 1 == len(session_days)
        if not last_segment:
            t_eval = np.append(t_eval, session_days[k + 1])  # the state at the next session
        sol = solve_ivp(
            rhs, (s, t_next), state, method="DOP853", t_eval=t_eval, rtol=1e-12, atol=1e-12
        )
        a, _, cf, cs = sol.y[:, : int(mask.sum())]
        out[mask] = a + cap * (1.0 - np.exp(-(cf + cs) / cap)) - 100.0
        if not last_segment:
            state = sol.y[:, -1]
    return day, out


SMOKER = parse_assessment(
    {**reference_assessment().to_json_dict(), "smoking": "current", "conditions": ["diabetes"]}
)
SCHEDULES: list[tuple[str, Assessment, NDArray[np.float64], float]] = [
    ("reference, 5 sessions", reference_assessment(), series_days(5, 35), 0.0),
    (
        "reference, 5 + maintenance 6 mo",
        reference_assessment(),
        series_days(5, 35, maintenance_months=6),
        0.0,
    ),
    ("reference, single session, p90 draw", reference_assessment(), series_days(1, 35), 1.28),
    (
        "smoker with diabetes, 10 + maint 9 mo, p10",
        SMOKER,
        series_days(10, 24, maintenance_months=9),
        -1.28,
    ),
]


def package_curve(a: Assessment, sd: NDArray[np.float64], z: float) -> NDArray[np.float64]:
    return np.asarray(simulate(a, sd, [z], years=YEARS)[1][0], dtype=np.float64)


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    name, a, sd, z = SCHEDULES[1]
    return [
        (
            f"one 10-year daily curve ({name}) vs solve_ivp",
            lambda: package_curve(a, sd, z),
            lambda: reference_curve(a, sd, z),
        ),
        (
            "forecast(), 1000 draws x 10 y, series + maintenance 6 mo: knots vs every draw",
            lambda: forecast(a, sd, years=10, draws=1000, seed=0, n_initial=5),
            lambda: _every_draw(a, sd),
        ),
    ]


def _every_draw(a: Assessment, sd: NDArray[np.float64]) -> object:
    """Every one of 1000 draws computed, then numpy.quantile per day (the plain approach)."""
    z = np.random.default_rng(0).standard_normal(1000)
    _, curves = simulate(a, sd, z, years=10)
    return np.quantile(curves, [0.1, 0.5, 0.9], axis=0)


def _best(fn: Callable[[], object], rounds: int = 15) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def figures() -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    for name, a, sd, z in SCHEDULES:
        diff = float(np.max(np.abs(package_curve(a, sd, z) - reference_curve(a, sd, z)[1])))
        rows.append((f"max |package - solve_ivp|: {name}", f"{diff:.2e}", "<= 1e-6", diff <= 1e-6))
    ref = reference_assessment()
    for label, sd in (
        ("series", series_days(5, 35)),
        ("series + maintenance 6 mo", series_days(5, 35, maintenance_months=6)),
    ):
        t = _best(partial(forecast, ref, sd, years=10, draws=1000, seed=0, n_initial=5))
        rows.append(
            (
                f"forecast(), 1000 draws x 10 y daily, {label}",
                f"{t * 1e3:.2f} ms",
                "< 50 ms",
                t < 0.05,
            )
        )
    sd = series_days(5, 35, maintenance_months=6)

    def brute() -> object:
        z = np.random.default_rng(0).standard_normal(1000)
        _, curves = simulate(ref, sd, z, years=10)
        return np.quantile(curves, [0.1, 0.5, 0.9], axis=0)

    t = _best(brute, rounds=3)
    rows.append(
        (
            "same, every draw computed every day + numpy.quantile (no knots)",
            f"{t * 1e3:.0f} ms",
            "(for reference)",
            True,
        )
    )
    return rows

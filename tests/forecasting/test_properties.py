"""Hypothesis properties: a risk factor never lengthens, a healthier lifestyle never shortens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment
from needleplan.forecasting.chain import ForecastResult, forecast, series_days
from tests.strategies import assessment_dicts, examples

Change = Callable[[dict[str, Any]], dict[str, Any] | None]


def _step(field: str, order: list[Any]) -> Change:
    """Move ``field`` one step along ``order`` (towards the end); None if already last."""

    def change(d: dict[str, Any]) -> dict[str, Any] | None:
        i = order.index(d[field])
        return None if i == len(order) - 1 else {**d, field: order[i + 1]}

    return change


def _add(field: str, value: str) -> Change:
    def change(d: dict[str, Any]) -> dict[str, Any] | None:
        return None if value in d[field] else {**d, field: [*d[field], value]}

    return change


def _remove(field: str, value: str) -> Change:
    def change(d: dict[str, Any]) -> dict[str, Any] | None:
        return {**d, field: [v for v in d[field] if v != value]} if value in d[field] else None

    return change


WORSE: dict[str, Change] = {
    "smoking": _step("smoking", ["never", "former", "current"]),
    "sun_exposure": _step("sun_exposure", ["low", "moderate", "high"]),
    "spf_habit": _step("spf_habit", [True, False]),
    "sun_damage_history": _step("sun_damage_history", [False, True]),
    "diet": _step("diet", ["good", "average", "poor"]),
    "aftercare": _step("aftercare", ["good", "fair", "poor"]),
    "repair_capacity": _step("repair_capacity", ["good", "normal", "reduced"]),
    "diabetes": _add("conditions", "diabetes"),
    "autoimmune": _add("conditions", "autoimmune"),
    "accelerated_aging": _add("genetics", "accelerated_aging"),
    "slow_healing": _add("genetics", "slow_healing"),
    # every other factor that raises the guideline's session count
    "severity": _step("severity", ["mild", "moderate", "advanced", "severe"]),
    "deep_wrinkles": _add("concerns", "deep_wrinkles"),
    "enlarged_pores": _add("concerns", "enlarged_pores"),
    "loose_neck_skin": _add("concerns", "loose_neck_skin"),
    "goal": _step("goal", ["preventive", "subtle", "noticeable", "maximal"]),
    "body_area": _add("areas", "abdomen"),
}

HEALTHIER: dict[str, Change] = {
    "stop smoking": _step("smoking", ["current", "former", "never"]),
    "less sun": _step("sun_exposure", ["high", "moderate", "low"]),
    "start SPF": _step("spf_habit", [False, True]),
    "better diet": _step("diet", ["poor", "average", "good"]),
    "better aftercare": _step("aftercare", ["poor", "fair", "good"]),
}

SCHEDULES = [
    series_days(1, 35, years=6),
    series_days(5, 35, years=6),
    series_days(4, 28, maintenance_months=9, years=6),
]
INITIAL = [1, 5, 4]


def run(d: dict[str, Any], schedule: int) -> ForecastResult:
    return forecast(
        parse_assessment(d),
        SCHEDULES[schedule],
        years=6,
        draws=101,
        seed=5,
        n_initial=INITIAL[schedule],
    )


def assert_not_longer(worse: ForecastResult, base: ForecastResult) -> None:
    tol = 1e-9
    for attr in ("p10", "median", "p90"):
        assert np.all(getattr(worse, attr) <= getattr(base, attr) + tol), attr
    wb = worse.milestones.noticeable_months_after_last_initial
    bb = base.milestones.noticeable_months_after_last_initial
    assert wb.median <= bb.median + tol
    assert wb.p10 <= bb.p10 + tol
    assert wb.p90 <= bb.p90 + tol
    assert worse.milestones.noticeable_years_total <= base.milestones.noticeable_years_total + tol


@settings(max_examples=examples(60), deadline=None)
@given(
    base=assessment_dicts(contraindications=False),
    factor=st.sampled_from(sorted(WORSE)),
    schedule=st.integers(0, len(SCHEDULES) - 1),
)
def test_a_risk_factor_never_lengthens_the_forecast(
    base: dict[str, Any], factor: str, schedule: int
) -> None:
    worse = WORSE[factor](base)
    if worse is None:
        return
    assert_not_longer(run(worse, schedule), run(base, schedule))


@settings(max_examples=examples(60), deadline=None)
@given(
    base=assessment_dicts(contraindications=False),
    change=st.sampled_from(sorted(HEALTHIER)),
    schedule=st.integers(0, len(SCHEDULES) - 1),
)
def test_a_healthier_lifestyle_never_shortens_the_forecast(
    base: dict[str, Any], change: str, schedule: int
) -> None:
    better = HEALTHIER[change](base)
    if better is None:
        return
    assert_not_longer(run(base, schedule), run(better, schedule))


@settings(max_examples=examples(40), deadline=None)
@given(
    base=assessment_dicts(contraindications=False),
    years_older=st.integers(1, 30),
    schedule=st.integers(0, len(SCHEDULES) - 1),
)
def test_an_older_patient_never_keeps_results_longer(
    base: dict[str, Any], years_older: int, schedule: int
) -> None:
    if base["age"] + years_older > 90:
        return
    older = {**base, "age": base["age"] + years_older}
    assert_not_longer(run(older, schedule), run(base, schedule))


@settings(max_examples=examples(40), deadline=None)
@given(
    base=assessment_dicts(contraindications=False),
    n=st.integers(1, 12),
    interval=st.integers(14, 90),
    maintenance=st.one_of(st.none(), st.integers(3, 24)),
    draws=st.integers(1, 400),
)
def test_any_schedule_in_the_validated_range_gives_an_ordered_finite_band(
    base: dict[str, Any], n: int, interval: int, maintenance: int | None, draws: int
) -> None:
    sd = series_days(n, interval, maintenance_months=maintenance, years=8)
    res = forecast(parse_assessment(base), sd, years=8, draws=draws, n_initial=n)
    assert np.all(np.isfinite(res.median))
    assert np.all(res.p10 <= res.median + 1e-12)
    assert np.all(res.median <= res.p90 + 1e-12)
    band = res.milestones.noticeable_months_after_last_initial
    assert 0 <= band.p10 <= band.median <= band.p90

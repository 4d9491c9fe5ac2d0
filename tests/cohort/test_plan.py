"""Recall plans: the clinic's recall rule (scheduling.recall) applied to the forecast median."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.cohort.plan import initial_days, median_z, plan_courses, recall_draws
from needleplan.cohort.population import fixed_population
from needleplan.cohort.profiles import guideline_key, profile_outcome
from needleplan.domain import parse_assessment, reference_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.params import DAYS_PER_MONTH, default_params
from needleplan.guideline import load_guideline, make_protocol
from needleplan.scheduling.clinic import example_clinic
from needleplan.scheduling.recall import maintenance_due, recall_day
from tests.strategies import examples

from ..strategies import assessment_dicts

PARAMS = default_params()
GUIDELINE = load_guideline()
THRESHOLD = example_clinic().recall_threshold


def _profile(assessment_data: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
    a = parse_assessment(assessment_data)
    pop = fixed_population([a], GUIDELINE, description="one")
    return pop.table.age, pop.table.values


def _naive_recalls(a_data: dict[str, object], last_day: float, threshold: float) -> list[float]:
    """Recall days with forecast() + recall_day(), one round at a time."""
    a = parse_assessment(a_data)
    p = make_protocol(a, GUIDELINE)
    sessions = series_days(p.initial_sessions, p.recommended_interval_days, years=15).tolist()
    draws, seed = recall_draws()
    out: list[float] = []
    while True:
        last = sessions[-1]
        lo = last + p.maintenance_interval_months.min * DAYS_PER_MONTH
        hi = last + p.maintenance_interval_months.max * DAYS_PER_MONTH
        res = forecast(
            a,
            sessions,
            years=(math.ceil(hi) + 62) / 365.25,
            draws=draws,
            seed=seed,
            n_initial=len(sessions),
        )
        day = math.floor(recall_day(res.day, res.median, last, threshold, lo, hi).day)
        if day > last_day:
            return out
        out.append(float(day))
        sessions.append(float(day))


def test_recall_forecast_settings_are_maintenance_dues() -> None:
    draws, seed = recall_draws()
    res = forecast(
        reference_assessment(), [0.0, 35.0], years=1.0, draws=draws, seed=seed, n_initial=2
    )
    z_lo, z_hi, w = median_z()
    assert z_lo <= z_hi
    assert 0.0 <= w <= 1.0
    assert res.draws == draws
    assert res.seed == seed


@settings(max_examples=examples(25), deadline=None)
@given(data=assessment_dicts(contraindications=False), threshold=st.sampled_from([3.0, 4.9, 7.0]))
def test_plans_equal_forecast_plus_recall_day(data: dict[str, object], threshold: float) -> None:
    """Every planned recall is the day recall_day() gives on forecast()'s median, rounded down,
    for the course so far (series plus earlier maintenance)."""
    expected = _naive_recalls(data, 4 * 365.0, threshold)
    age, values = _profile(data)
    plan = plan_courses(
        age,
        values,
        params=PARAMS,
        recall_threshold=threshold,
        last_day=np.array([4 * 365.0]),
        rounds=20,
    )
    got = plan.maintenance[0][~np.isnan(plan.maintenance[0])].tolist()
    assert got == expected


def test_first_recall_matches_maintenance_due_within_calendar_months() -> None:
    """maintenance_due() bounds the window in calendar months; the cohort in 30.44-day months."""
    a = reference_assessment()
    p = make_protocol(a, GUIDELINE)
    first = date(2026, 1, 5)
    dates = [first + timedelta(days=int(d)) for d in series_days(5, 35.0, years=1)]
    due = maintenance_due(a, dates, example_clinic(), p)
    age, values = _profile(reference_assessment().model_dump(mode="json"))
    plan = plan_courses(
        age, values, params=PARAMS, recall_threshold=THRESHOLD, last_day=np.array([900.0]), rounds=3
    )
    cohort_due = first + timedelta(days=int(plan.maintenance[0, 0]))
    assert abs((cohort_due - due.due).days) <= 3


@st.composite
def profiles(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        rows.append(
            [
                draw(st.integers(1, 12)),
                draw(st.integers(14, 90)),
                draw(st.integers(3, 8)),
                draw(st.integers(9, 24)),
                *[math.exp(draw(st.floats(-0.8, 0.8))) for _ in range(5)],
            ]
        )
    ages = [draw(st.integers(18, 90)) for _ in range(n)]
    return np.asarray(ages, dtype=float), np.asarray(rows, dtype=float)


@settings(max_examples=examples(60), deadline=None)
@given(profile=profiles(), threshold=st.floats(1.0, 9.0))
def test_bisection_equals_the_exhaustive_daily_search(
    profile: tuple[np.ndarray, np.ndarray], threshold: float
) -> None:
    """The fast search (peak by day up to the dose peak, then bisection) gives the same days
    as evaluating every day of every window."""
    age, values = profile
    kwargs = {
        "params": PARAMS,
        "recall_threshold": threshold,
        "last_day": np.full(age.size, 3000.0),
        "rounds": 16,
    }
    fast = plan_courses(age, values, **kwargs)
    slow = plan_courses(age, values, exhaustive=True, **kwargs)
    np.testing.assert_array_equal(fast.maintenance, slow.maintenance)
    np.testing.assert_array_equal(fast.forecast_recall, slow.forecast_recall)


def test_recalls_stay_inside_her_maintenance_window() -> None:
    rng = np.random.default_rng(5)
    age = rng.integers(18, 91, 200).astype(float)
    values = np.column_stack(
        [
            rng.integers(1, 13, 200),
            rng.integers(14, 91, 200),
            rng.integers(3, 9, 200),
            rng.integers(9, 25, 200),
            np.exp(rng.normal(0, 0.3, (200, 5))),
        ]
    ).astype(float)
    plan = plan_courses(
        age,
        values,
        params=PARAMS,
        recall_threshold=THRESHOLD,
        last_day=np.full(200, 5000.0),
        rounds=30,
    )
    series_end = np.nanmax(initial_days(values[:, 0], values[:, 1]), axis=1)
    previous = np.column_stack([series_end, plan.maintenance[:, :-1]])
    gaps = plan.maintenance - previous
    ok = ~np.isnan(gaps)
    lo = np.floor(values[:, 2] * DAYS_PER_MONTH)[:, None]
    hi = (values[:, 3] * DAYS_PER_MONTH)[:, None]
    assert np.all((gaps >= lo - 1)[ok])
    assert np.all((gaps <= hi)[ok])
    assert np.all(np.nanmax(plan.maintenance, axis=1) <= 5000.0)


def test_reference_patient_is_recalled_at_her_longest_interval() -> None:
    """Her forecast stays above the recall threshold past 12 months after the series, so each
    recall falls on the latest bound (the SPEC: maintenance every 6-12 months keeps it up)."""
    outcome = profile_outcome(reference_assessment(), GUIDELINE, guideline_key(GUIDELINE))
    assert outcome.values is not None
    age, values = _profile(reference_assessment().model_dump(mode="json"))
    plan = plan_courses(
        age,
        values,
        params=PARAMS,
        recall_threshold=THRESHOLD,
        last_day=np.array([1800.0]),
        rounds=10,
    )
    days = plan.maintenance[0][~np.isnan(plan.maintenance[0])]
    assert days.size == 4
    gaps = np.diff([140.0, *days])
    assert gaps == pytest.approx(12 * DAYS_PER_MONTH, abs=1.0)

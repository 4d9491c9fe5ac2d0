"""Maintenance recall from forecast curves (pure functions tested on synthetic curves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain.assessment import reference_assessment
from needleplan.exceptions import InputError
from needleplan.scheduling import (
    ClinicConfig,
    add_months,
    maintenance_due,
    noticeable_days,
    recall_day,
    schedule_course,
    threshold_crossing,
)
from tests.scheduling.conftest import make_protocol
from tests.strategies import examples

# A piecewise-linear curve whose threshold crossing is known exactly: peak 20 at day 200, then
# 8 at day 500 and 0 at day 1000; 4.9 is reached at 500 + (8 - 4.9) / 8 * 500 = 693.75.
DAY = np.array([0.0, 140.0, 200.0, 500.0, 1000.0])
MEDIAN = np.array([0.0, 10.0, 20.0, 8.0, 0.0])


def test_crossing_is_interpolated_between_grid_points() -> None:
    crossing, rises = threshold_crossing(DAY, MEDIAN, 140.0, 4.9)
    assert rises
    assert crossing == pytest.approx(693.75)


def test_crossing_counts_only_after_the_peak_following_the_last_session() -> None:
    """An early dip below the threshold (before the post-series peak) is not a recall."""
    day = np.array([0.0, 30.0, 60.0, 100.0, 200.0, 400.0])
    median = np.array([0.0, 6.0, 3.0, 12.0, 7.0, 2.0])
    crossing, _ = threshold_crossing(day, median, 60.0, 4.9)
    assert crossing == pytest.approx(200.0 + (7.0 - 4.9) / 5.0 * 200.0)


@pytest.mark.parametrize(
    ("threshold", "expected_day", "forecast_day", "reason"),
    [
        (15.0, 325.0, 325.0, "forecast"),  # 200 + 5/12 * 300, inside the bounds
        (18.0, 320.0, 250.0, "earliest bound"),  # falls sooner than the earliest bound
        (4.9, 505.0, 693.75, "latest bound"),  # falls later than the latest bound
        (25.0, 320.0, None, "earliest bound"),  # never rises above 25
        (-1.0, 505.0, None, "latest bound"),  # never falls to -1 within the forecast
    ],
)
def test_recall_is_the_crossing_clamped_to_the_maintenance_bounds(
    threshold: float, expected_day: float, forecast_day: float | None, reason: str
) -> None:
    """Bounds: days 320-505 (6 and 12 months after a last session on day 140)."""
    found = recall_day(DAY, MEDIAN, 140.0, threshold, 320.0, 505.0)
    assert found.day == pytest.approx(expected_day)
    if forecast_day is None:
        assert found.forecast_day is None
    else:
        assert found.forecast_day == pytest.approx(forecast_day)
    assert found.reason.startswith(reason)


def test_noticeable_days_measures_from_the_last_session() -> None:
    assert noticeable_days(DAY, MEDIAN, 140.0, 4.9) == pytest.approx(693.75 - 140.0)
    assert noticeable_days(DAY, MEDIAN, 140.0, 25.0) == 0.0
    assert noticeable_days(DAY, MEDIAN, 140.0, -1.0) == pytest.approx(1000.0 - 140.0)


@pytest.mark.parametrize(
    ("day", "median"),
    [
        ([0.0], [1.0]),
        ([0.0, 1.0], [1.0]),
        ([1.0, 0.0], [1.0, 2.0]),
        ([0.0, 1.0], [1.0, float("nan")]),
    ],
)
def test_bad_curves_are_rejected(day: list[float], median: list[float]) -> None:
    with pytest.raises(InputError):
        threshold_crossing(np.array(day), np.array(median), 0.0, 4.9)


def test_bounds_must_be_ordered() -> None:
    with pytest.raises(InputError, match="latest"):
        recall_day(DAY, MEDIAN, 140.0, 4.9, 400.0, 300.0)


@settings(max_examples=examples(60), deadline=None)
@given(
    peak=st.floats(6.0, 40.0),
    rise=st.floats(10.0, 120.0),
    tau=st.floats(60.0, 2000.0),
    lo_months=st.integers(3, 9),
    extra=st.integers(0, 6),
)
def test_recall_is_always_within_bounds_and_monotone_in_the_threshold(
    peak: float, rise: float, tau: float, lo_months: int, extra: int
) -> None:
    """For smooth rise-and-decay curves the recall day lies within its bounds, and a higher
    threshold (less tolerance for fading) never recalls later."""
    day = np.arange(0.0, 4000.0, 7.0)
    last = 140.0
    t = np.clip(day - last, 0.0, None)
    median = peak * (1 - np.exp(-t / rise)) * np.exp(-t / tau)
    lo, hi = last + 30.4 * lo_months, last + 30.4 * (lo_months + extra)
    days = [recall_day(day, median, last, thr, lo, hi).day for thr in (2.0, 4.9, 8.0)]
    assert all(lo <= d <= hi for d in days)
    assert days[0] >= days[1] >= days[2]


def test_add_months_clamps_to_the_end_of_short_months() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 6, 15), 12) == date(2028, 6, 15)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)


@dataclass
class FakeForecast:
    day: npt.NDArray[Any]
    median: npt.NDArray[Any]


class LinearFade:
    """A stand-in forecast: median 20 at the last session, falling linearly to 0."""

    def __init__(self, days_to_threshold: float, threshold: float = 4.9) -> None:
        self.slope = (20.0 - threshold) / days_to_threshold
        self.calls: list[tuple[list[float], dict[str, Any]]] = []

    def __call__(self, assessment: object, session_days: list[float], **kw: Any) -> FakeForecast:
        self.calls.append((list(session_days), kw))
        day = np.arange(0.0, kw["years"] * 365.25, 1.0)
        last = session_days[-1]
        median = np.where(day < last, 10.0, 20.0 - self.slope * (day - last))
        return FakeForecast(day, median)


def test_maintenance_due_follows_the_forecast_within_six_to_twelve_months(
    berlin: ClinicConfig,
) -> None:
    protocol = make_protocol()
    course = schedule_course(protocol, date(2027, 1, 11), berlin)
    last = course.dates[-1]
    fake = LinearFade(270.0)
    due = maintenance_due(reference_assessment(), course.dates, berlin, protocol, forecaster=fake)
    assert due.due == last + timedelta(days=270)
    assert due.reason.startswith("forecast")
    days, kw = fake.calls[0]
    assert days == [0.0, 35.0, 70.0, 105.0, 140.0]
    assert kw["seed"] == 0
    assert kw["years"] * 365.25 >= (add_months(last, 12) - course.dates[0]).days


def test_maintenance_due_is_clamped_and_recomputed_when_the_forecast_changes(
    berlin: ClinicConfig,
) -> None:
    protocol = make_protocol()
    course = schedule_course(protocol, date(2027, 1, 11), berlin)
    last = course.dates[-1]
    fast = maintenance_due(
        reference_assessment(), course.dates, berlin, protocol, forecaster=LinearFade(60.0)
    )
    assert fast.due == add_months(last, 6)
    assert fast.forecast_due == last + timedelta(days=60)
    slow = maintenance_due(
        reference_assessment(), course.dates, berlin, protocol, forecaster=LinearFade(900.0)
    )
    assert slow.due == add_months(last, 12)
    first = course.with_maintenance(fast)
    assert first.maintenance is not None
    assert first.maintenance.sequence == 0
    again = first.with_maintenance(fast)
    assert again.maintenance is not None
    assert again.maintenance.sequence == 0  # same date: no change
    changed = again.with_maintenance(slow)
    assert changed.maintenance is not None
    assert changed.maintenance.sequence == 1


def test_session_dates_must_not_go_backwards(berlin: ClinicConfig) -> None:
    with pytest.raises(InputError, match="backwards"):
        maintenance_due(
            reference_assessment(),
            [date(2027, 2, 1), date(2027, 1, 1)],
            berlin,
            make_protocol(),
            forecaster=LinearFade(100.0),
        )


# --- with the real forecast model (needleplan.forecasting.chain.forecast) ---------------------


def _risky() -> Any:
    from needleplan.domain import parse_assessment

    return parse_assessment(
        {
            "age": 62,
            "severity": "advanced",
            "areas": ["full_face"],
            "smoking": "current",
            "sun_exposure": "high",
            "spf_habit": False,
            "aftercare": "poor",
            "conditions": ["diabetes"],
        }
    )


def test_real_forecast_recall_is_within_bounds_reproducible_and_matches_the_curve(
    berlin: ClinicConfig,
) -> None:
    from needleplan.forecasting.chain import forecast
    from needleplan.scheduling.recall import forecast_years, session_days

    protocol = make_protocol()
    course = schedule_course(protocol, date(2027, 1, 11), berlin)
    for assessment in (reference_assessment(), _risky()):
        due = maintenance_due(assessment, course.dates, berlin, protocol)
        last = course.dates[-1]
        assert add_months(last, 6) <= due.due <= add_months(last, 12)
        assert maintenance_due(assessment, course.dates, berlin, protocol) == due
        # The date is the curve's own threshold crossing (when inside the bounds).
        days = [float(d) for d in session_days(course.dates)]
        curve = forecast(
            assessment,
            days,
            years=forecast_years(course.dates, add_months(last, 12)),
            draws=400,
            seed=0,
            n_initial=len(days),
        )
        crossing, _ = threshold_crossing(curve.day, curve.median, days[-1], 4.9)
        if due.reason.startswith("forecast"):
            assert crossing is not None
            assert due.due == course.dates[0] + timedelta(days=int(crossing))


def test_real_forecast_recalls_a_high_risk_patient_no_later_than_the_reference(
    berlin: ClinicConfig,
) -> None:
    """Smoking, diabetes, heavy sun and poor aftercare shorten her forecast (SPEC), so her
    recall after the same series comes no later."""
    protocol = make_protocol()
    course = schedule_course(protocol, date(2027, 1, 11), berlin)
    ref = maintenance_due(reference_assessment(), course.dates, berlin, protocol)
    risky = maintenance_due(_risky(), course.dates, berlin, protocol)
    assert risky.due <= ref.due
    assert risky.due < add_months(course.dates[-1], 12)  # the forecast, not the fixed bound

"""Re-planning after a moved or missed session: re-anchoring, SEQUENCE, gap costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from needleplan.domain.assessment import reference_assessment
from needleplan.exceptions import InputError, SchedulingError
from needleplan.scheduling import (
    ClinicConfig,
    CourseSchedule,
    replan,
    schedule_course,
)
from tests.scheduling.conftest import make_protocol

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def course(berlin: ClinicConfig) -> CourseSchedule:
    """Mondays 10:00 from 2027-01-11, 35 days apart, with Dr. Lena Vogel."""
    return schedule_course(make_protocol(), date(2027, 1, 11), berlin, course_id="course-7")


def _in_windows(schedule: CourseSchedule, lo: int, hi: int) -> bool:
    days = schedule.dates
    return all(lo <= (b - a).days <= hi for a, b in pairwise(days))


def test_moving_a_session_reanchors_the_following_ones(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    new_start = datetime(2027, 3, 25, 15, 0, tzinfo=BERLIN)  # Thursday instead of Monday 22nd
    result = replan(course, 3, berlin, make_protocol(), new_start=new_start)
    s = result.schedule.sessions
    assert s[0] == course.sessions[0]
    assert s[1] == course.sessions[1]
    assert s[2].start == new_start
    assert s[2].sequence == 1
    assert _in_windows(result.schedule, 28, 42)
    # Later sessions go back to session 1's weekday and time (Monday 10:00) inside their windows.
    assert all(x.start.weekday() == 0 and x.start.hour == 10 for x in s[3:])
    assert result.changed[0] == 3
    assert set(result.changed) <= {3, 4, 5}
    for x in s[3:]:
        original = course.session(x.number)
        assert x.sequence == (1 if x.start != original.start else 0)
    assert result.gaps == ()
    assert result.schedule.course_id == course.course_id


def test_moving_onto_a_closed_day_or_booked_slot_is_refused(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    with pytest.raises(SchedulingError, match="public holiday"):
        replan(
            course, 3, berlin, make_protocol(), new_start=datetime(2027, 3, 29, 10, tzinfo=BERLIN)
        )
    with pytest.raises(SchedulingError, match="working hours"):
        replan(
            course, 3, berlin, make_protocol(), new_start=datetime(2027, 3, 22, 7, tzinfo=BERLIN)
        )


def test_own_sessions_in_busy_do_not_block_the_replan(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    """The storage layer may pass every appointment, including this course's own."""
    busy = [s.as_busy() for s in course.sessions]
    result = replan(
        course,
        2,
        berlin,
        make_protocol(),
        new_start=datetime(2027, 2, 16, 10, tzinfo=BERLIN),
        busy=busy,
    )
    assert result.schedule.sessions[1].start.date() == date(2027, 2, 16)


def test_a_missed_session_is_rebooked_inside_its_window_when_possible(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    result = replan(course, 2, berlin, make_protocol(), missed=True)
    second = result.schedule.sessions[1]
    assert second.start.date() > date(2027, 2, 15)
    assert (second.start.date() - date(2027, 1, 11)).days <= 42
    assert _in_windows(result.schedule, 28, 42)
    assert "session 2 was missed and is rebooked" in result.schedule.warnings
    assert result.gaps == ()


@dataclass
class FakeForecast:
    day: npt.NDArray[Any]
    median: npt.NDArray[Any]


def gap_sensitive_forecaster(
    assessment: object, session_days: list[float], **kw: Any
) -> FakeForecast:
    """Each session adds 4 points; a session more than 42 days after the previous adds only 1.
    After the last session the median fades 1 point per 30 days."""
    day = np.arange(0.0, kw["years"] * 365.25, 1.0)
    gains = [4.0] + [4.0 if b - a <= 42 else 1.0 for a, b in pairwise(session_days)]
    level = np.zeros_like(day)
    for d, g in zip(session_days, gains, strict=True):
        level += np.where(day >= d, g, 0.0)
    last = session_days[-1]
    median = level - np.clip(day - last, 0.0, None) / 30.0
    return FakeForecast(day, median)


def test_a_gap_beyond_the_window_is_costed_and_an_extra_session_advised(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    protocol = make_protocol(session_range=(4, 6))
    result = replan(
        course,
        3,
        berlin,
        protocol,
        missed=True,
        not_before=date(2027, 5, 3),  # 77 days after session 2: 35 days beyond the window
        assessment=reference_assessment(),
        forecaster=gap_sensitive_forecaster,
    )
    assert len(result.gaps) == 1
    gap = result.gaps[0]
    assert gap.session_number == 3
    assert gap.gap_days == (result.schedule.sessions[2].start.date() - date(2027, 2, 15)).days
    assert gap.overrun_days == gap.gap_days - 42
    assert gap.noticeable_days_replanned is not None
    assert gap.noticeable_days_planned is not None
    assert gap.peak_difference == pytest.approx(-3.0)
    assert gap.extra_session_advised
    assert result.extra_session_advised
    assert "one extra session is advised" in gap.explanation
    assert any("later than the protocol's 42-day maximum" in w for w in result.schedule.warnings)
    assert result.schedule.maintenance is not None  # recomputed from the new dates


def test_no_extra_session_when_the_protocol_range_is_full(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    protocol = make_protocol(session_range=(4, 5))
    result = replan(
        course,
        3,
        berlin,
        protocol,
        missed=True,
        not_before=date(2027, 5, 3),
        assessment=reference_assessment(),
        forecaster=gap_sensitive_forecaster,
    )
    assert not result.gaps[0].extra_session_advised
    assert "no room" in result.gaps[0].explanation


def test_gap_without_assessment_is_reported_without_forecast(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    result = replan(course, 3, berlin, make_protocol(), missed=True, not_before=date(2027, 5, 3))
    gap = result.gaps[0]
    assert gap.noticeable_days_planned is None
    assert not gap.extra_session_advised
    assert "pass the assessment" in gap.explanation


def test_replan_needs_exactly_one_of_move_or_missed(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    with pytest.raises(InputError, match="exactly one"):
        replan(course, 2, berlin, make_protocol())
    with pytest.raises(InputError, match="exactly one"):
        replan(
            course,
            2,
            berlin,
            make_protocol(),
            missed=True,
            new_start=datetime(2027, 2, 16, 10, tzinfo=BERLIN),
        )
    with pytest.raises(InputError, match="timezone-aware"):
        replan(course, 2, berlin, make_protocol(), new_start=datetime(2027, 2, 16, 10))
    with pytest.raises(InputError, match="session_number"):
        replan(course, 9, berlin, make_protocol(), missed=True)


def test_moving_closer_than_the_minimum_interval_warns(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    result = replan(
        course, 2, berlin, make_protocol(), new_start=datetime(2027, 2, 1, 10, tzinfo=BERLIN)
    )
    assert any("only 21 days after session 1" in w for w in result.schedule.warnings)


def test_moving_the_first_session_re_anchors_the_whole_course(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    new_start = datetime(2027, 1, 13, 9, 0, tzinfo=BERLIN)  # Wednesday 09:00
    result = replan(course, 1, berlin, make_protocol(), new_start=new_start)
    s = result.schedule.sessions
    assert s[0].start == new_start
    assert all(x.start.weekday() == 2 for x in s)
    assert result.changed == (1, 2, 3, 4, 5)
    assert _in_windows(result.schedule, 28, 42)
    assert timedelta(0) < s[1].start - s[0].start


def test_real_forecast_costs_a_long_gap_with_a_lower_peak(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    """With the real model a session 2 months late gives a lower peak and no longer result."""
    result = replan(
        course,
        3,
        berlin,
        make_protocol(),
        missed=True,
        not_before=date(2027, 6, 1),
        assessment=reference_assessment(),
    )
    gap = result.gaps[0]
    assert gap.overrun_days > 0
    assert gap.peak_difference is not None
    assert gap.peak_difference < 0
    assert gap.noticeable_days_replanned is not None
    assert gap.noticeable_days_planned is not None
    assert gap.noticeable_days_replanned <= gap.noticeable_days_planned
    assert result.schedule.maintenance is not None


def test_a_missed_first_session_restarts_the_course_from_the_next_day(
    course: CourseSchedule, berlin: ClinicConfig
) -> None:
    result = replan(course, 1, berlin, make_protocol(), missed=True)
    s = result.schedule.sessions
    assert s[0].start.date() > date(2027, 1, 11)
    assert s[0].start.hour == 10  # the original start time is kept
    assert result.changed == (1, 2, 3, 4, 5)
    assert _in_windows(result.schedule, 28, 42)
    assert result.gaps == ()

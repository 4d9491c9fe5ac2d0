"""Course scheduling: windows, preferences, holidays, DST, conflicts, infeasible series."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from needleplan.exceptions import BlockedError, InputError
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    ScheduledSession,
    SessionSchedulingError,
    schedule_course,
)
from tests.scheduling.conftest import make_protocol, simple_clinic

BERLIN = ZoneInfo("Europe/Berlin")


def _gaps(sessions: tuple[ScheduledSession, ...]) -> list[int]:
    days = [s.start.date() for s in sessions]
    return [(b - a).days for a, b in pairwise(days)]


def test_reference_course_sits_mid_window_on_the_same_weekday_and_time(
    berlin: ClinicConfig,
) -> None:
    course = schedule_course(make_protocol(), date(2027, 1, 11), berlin, course_id="c1")
    assert len(course.sessions) == 5
    assert course.sessions[0].start == datetime(2027, 1, 11, 10, 0, tzinfo=BERLIN)
    assert _gaps(course.sessions) == [35, 35, 35, 35]  # the middle of 28-42 days
    assert {s.start.weekday() for s in course.sessions} == {0}
    assert {(s.start.hour, s.start.minute) for s in course.sessions} == {(10, 0)}
    assert {s.practitioner for s in course.sessions} == {"Dr. Lena Vogel"}
    assert all(s.end - s.start == timedelta(minutes=60) for s in course.sessions)
    assert course.warnings == ()
    assert course.course_id == "c1"


def test_windows_are_recorded_on_each_session(berlin: ClinicConfig) -> None:
    course = schedule_course(make_protocol(), date(2027, 1, 11), berlin)
    assert course.sessions[0].window is None
    for prev, s in zip(course.sessions, course.sessions[1:], strict=False):
        assert s.window == (
            prev.start.date() + timedelta(days=28),
            prev.start.date() + timedelta(days=42),
        )


def test_start_on_a_holiday_moves_session_one_and_says_why(berlin: ClinicConfig) -> None:
    course = schedule_course(make_protocol(), date(2027, 3, 29), berlin)  # Easter Monday
    assert course.sessions[0].start.date() == date(2027, 3, 30)
    assert "public holiday (Easter Monday)" in course.warnings[0]


def test_a_holiday_on_the_preferred_day_moves_the_session_within_its_window(
    berlin: ClinicConfig,
) -> None:
    """35 days after 2027-04-12 is Pentecost Monday (2027-05-17): the session moves off it,
    to the nearest day rather than to another Monday a week away."""
    course = schedule_course(make_protocol(sessions=2), date(2027, 4, 12), berlin)
    second = course.sessions[1].start.date()
    assert second != date(2027, 5, 17)
    assert berlin.holiday(second) is None
    assert 28 <= (second - date(2027, 4, 12)).days <= 42
    # One day off the preferred day (cost 1 + weekday 4) beats a week off (cost 7).
    assert second == date(2027, 5, 18)


@pytest.mark.parametrize(
    ("start", "before", "after"),
    [
        (date(2027, 3, 1), timedelta(hours=1), timedelta(hours=2)),  # spring forward 2027-03-28
        (date(2027, 9, 20), timedelta(hours=2), timedelta(hours=1)),  # fall back 2027-10-31
    ],
)
def test_local_time_is_kept_across_dst_changes_in_berlin(
    berlin: ClinicConfig, start: date, before: timedelta, after: timedelta
) -> None:
    course = schedule_course(make_protocol(sessions=3), start, berlin)
    offsets = [s.start.utcoffset() for s in course.sessions]
    assert offsets[0] == before
    assert offsets[-1] == after
    assert {(s.start.hour, s.start.minute) for s in course.sessions} == {(10, 0)}
    for s in course.sessions:
        assert s.end - s.start == timedelta(hours=1)


def test_sessions_avoid_existing_appointments_without_overlap(berlin: ClinicConfig) -> None:
    busy = [
        Busy(
            "Dr. Lena Vogel",
            datetime(2027, 2, 15, 9, tzinfo=BERLIN),
            datetime(2027, 2, 15, 18, tzinfo=BERLIN),
        )
    ]
    course = schedule_course(
        make_protocol(), date(2027, 1, 11), berlin, practitioner="Dr. Lena Vogel", busy=busy
    )
    second = course.sessions[1]
    assert second.start.date() != date(2027, 2, 15)
    assert not any(b.overlaps(s) for b in busy for s in course.sessions)


def test_any_practitioner_mode_switches_only_when_needed(berlin: ClinicConfig) -> None:
    """Lena is booked for the whole preferred Monday: Marta takes it rather than a weekday shift."""
    busy = [
        Busy(
            "Dr. Lena Vogel",
            datetime(2027, 2, 15, 9, tzinfo=BERLIN),
            datetime(2027, 2, 15, 18, tzinfo=BERLIN),
        )
    ]
    course = schedule_course(make_protocol(sessions=3), date(2027, 1, 11), berlin, busy=busy)
    assert [s.practitioner for s in course.sessions] == [
        "Dr. Lena Vogel",
        "Marta Nowak",
        "Dr. Lena Vogel",
    ]
    assert course.sessions[1].start.date() == date(2027, 2, 15)


def test_named_practitioner_is_only_booked_on_her_working_days(berlin: ClinicConfig) -> None:
    course = schedule_course(
        make_protocol(sessions=4), date(2027, 1, 15), berlin, practitioner="Dr. Lena Vogel"
    )
    assert course.sessions[0].start.date() == date(2027, 1, 18)  # she does not work Fridays
    assert all(s.start.weekday() < 4 for s in course.sessions)


def test_whole_series_search_backtracks_when_the_preferred_choice_dead_ends() -> None:
    """Window 5-9 days. The preferred session 2 (day 7) would put session 3's window
    (days 12-16) inside a closure; the search takes an earlier session 2 instead."""
    start = date(2027, 1, 4)  # Monday
    clinic = simple_clinic(
        opening_hours={
            d: ["09:00-17:00"]
            for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        },
        closures=[{"start": start + timedelta(days=11), "end": start + timedelta(days=16)}],
    )
    course = schedule_course(make_protocol(sessions=3, interval=(5, 9)), start, clinic)
    days = [(s.start.date() - start).days for s in course.sessions]
    assert days[0] == 0
    assert 5 <= days[1] - days[0] <= 9
    assert 5 <= days[2] - days[1] <= 9
    assert not 11 <= days[2] <= 16
    assert days[1] != 7  # the unconstrained preference would have been day 7


def test_infeasible_window_names_the_session_why_and_the_nearest_alternative() -> None:
    start = date(2027, 1, 4)
    clinic = simple_clinic(
        closures=[{"start": date(2027, 1, 20), "end": date(2027, 2, 20), "reason": "renovation"}]
    )
    with pytest.raises(SessionSchedulingError) as err:
        schedule_course(make_protocol(sessions=3, interval=(21, 28)), start, clinic)
    exc = err.value
    assert exc.session_number == 2
    assert exc.window == (date(2027, 1, 25), date(2027, 2, 1))
    assert "clinic closure (renovation) (8 days)" in exc.reason
    assert exc.alternative is not None
    assert exc.alternative.start.date() == date(2027, 2, 22)  # first open day after
    assert exc.alternative.overrun_days == 21
    assert str(exc).startswith("session 2: no free slot between 2027-01-25 and 2027-02-01")
    assert "\n" not in str(exc)


def test_allow_overrun_books_the_nearest_alternative_with_a_warning() -> None:
    clinic = simple_clinic(closures=[{"start": date(2027, 1, 20), "end": date(2027, 2, 20)}])
    course = schedule_course(
        make_protocol(sessions=3, interval=(21, 28)), date(2027, 1, 4), clinic, allow_overrun=True
    )
    assert course.sessions[1].start.date() == date(2027, 2, 22)
    assert any("session 2 is 21 days later" in w for w in course.warnings)
    assert 21 <= _gaps(course.sessions)[1] <= 28


def test_fully_booked_practitioner_is_the_reason_given() -> None:
    clinic = simple_clinic(practitioners=[{"name": "Ann"}], first_session_search_days=0)
    busy = [
        Busy("Ann", datetime(2027, 1, 25, 8, tzinfo=BERLIN), datetime(2027, 2, 2, 8, tzinfo=BERLIN))
    ]
    with pytest.raises(SessionSchedulingError, match="Ann fully booked") as err:
        schedule_course(
            make_protocol(sessions=2, interval=(21, 28)), date(2027, 1, 4), clinic, busy=busy
        )
    assert err.value.alternative is not None
    assert err.value.alternative.start == datetime(2027, 2, 2, 10, tzinfo=BERLIN)  # 10:00 kept


def test_session_one_moves_later_when_that_lets_the_whole_series_fit() -> None:
    """Session 2's window from the requested start is fully booked; starting a few days later
    puts it after the booking, so the series is proposed with a warning instead of failing."""
    clinic = simple_clinic(practitioners=[{"name": "Ann"}])
    busy = [
        Busy("Ann", datetime(2027, 1, 25, 8, tzinfo=BERLIN), datetime(2027, 2, 2, 8, tzinfo=BERLIN))
    ]
    course = schedule_course(
        make_protocol(sessions=2, interval=(21, 28)), date(2027, 1, 4), clinic, busy=busy
    )
    assert course.sessions[0].start.date() > date(2027, 1, 4)
    assert "to let the whole series fit" in course.warnings[0]
    assert not any(b.overlaps(s) for b in busy for s in course.sessions)


def test_blocked_protocol_raises_blocked_error(berlin: ClinicConfig) -> None:
    with pytest.raises(BlockedError, match="pregnancy"):
        schedule_course(make_protocol(blocked=True), date(2027, 1, 11), berlin)


def test_bad_inputs_are_input_errors(berlin: ClinicConfig) -> None:
    with pytest.raises(InputError, match="practitioner"):
        schedule_course(make_protocol(), date(2027, 1, 11), berlin, practitioner="Nobody")
    with pytest.raises(InputError, match="session_duration"):
        schedule_course(make_protocol(), date(2027, 1, 11), berlin, session_duration=1)
    with pytest.raises(InputError, match=r"interval_days\.min"):
        schedule_course(make_protocol(interval=(0, 3)), date(2027, 1, 11), berlin)
    with pytest.raises(InputError, match="timezone-aware"):
        Busy("Ann", datetime(2027, 1, 1, 9), datetime(2027, 1, 1, 10))


def test_first_session_with_no_slot_in_the_search_horizon_is_session_one() -> None:
    clinic = simple_clinic(closures=[{"start": date(2027, 1, 1), "end": date(2027, 3, 1)}])
    with pytest.raises(SessionSchedulingError) as err:
        schedule_course(make_protocol(), date(2027, 1, 4), clinic)
    assert err.value.session_number == 1
    assert "clinic closure" in err.value.reason
    assert err.value.alternative is not None
    assert err.value.alternative.start.date() == date(2027, 3, 2)


def test_to_json_has_the_documented_keys(berlin: ClinicConfig) -> None:
    course = schedule_course(make_protocol(), date(2027, 1, 11), berlin)
    data = course.to_json()
    assert set(data) >= {"sessions", "maintenance_due", "warnings"}
    first = data["sessions"][0]
    assert first["number"] == 1
    assert first["start"] == "2027-01-11T10:00:00+01:00"
    assert first["end"] == "2027-01-11T11:00:00+01:00"
    assert first["practitioner"] == "Dr. Lena Vogel"


def test_southern_hemisphere_dst_keeps_local_time_in_sydney() -> None:
    """Sydney leaves summer time on 2027-04-04 (+11:00 -> +10:00)."""
    clinic = simple_clinic(
        timezone="Australia/Sydney", holidays={"country": "AU", "subdivision": "NSW"}
    )
    course = schedule_course(make_protocol(sessions=2, interval=(28, 42)), date(2027, 3, 1), clinic)
    assert [s.start.utcoffset() for s in course.sessions] == [
        timedelta(hours=11),
        timedelta(hours=10),
    ]
    assert {(s.start.hour, s.start.minute) for s in course.sessions} == {(10, 0)}
    assert str(course.sessions[0].start.tzinfo) == "Australia/Sydney"

"""Calendar primitives: DST-safe local times, closed-day reasons, free slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from needleplan.scheduling import Busy, ClinicConfig
from needleplan.scheduling.calendar import (
    BusyIndex,
    add_minutes,
    closed_reason,
    day_options,
    local_datetime,
    slot_problem,
)
from tests.scheduling.conftest import simple_clinic

BERLIN = ZoneInfo("Europe/Berlin")


def test_wall_time_skipped_by_spring_forward_does_not_exist() -> None:
    """Berlin skips 02:00-03:00 on 2027-03-28: 02:30 is never offered."""
    assert local_datetime(date(2027, 3, 28), 150, BERLIN) is None
    three = local_datetime(date(2027, 3, 28), 180, BERLIN)
    assert three is not None
    assert three.utcoffset() == timedelta(hours=2)


def test_repeated_wall_time_at_fall_back_takes_the_first_occurrence() -> None:
    dt = local_datetime(date(2027, 10, 31), 150, BERLIN)
    assert dt is not None
    assert dt.utcoffset() == timedelta(hours=2)  # still summer time


def test_duration_is_elapsed_time_across_a_dst_change() -> None:
    start = datetime(2027, 10, 31, 1, 30, tzinfo=BERLIN)
    end = add_minutes(start, 120)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=2)
    assert (end.hour, end.minute) == (2, 30)  # wall clock shows only one hour later
    assert end.utcoffset() == timedelta(hours=1)


def test_closed_reasons_name_holiday_closure_weekday_day_off_and_working_days(
    berlin: ClinicConfig,
) -> None:
    lena = berlin.practitioner("Dr. Lena Vogel")
    assert closed_reason(berlin, lena, date(2027, 3, 29)) == "public holiday (Easter Monday)"
    assert closed_reason(berlin, lena, date(2027, 12, 28)) == "clinic closure (winter break)"
    assert closed_reason(berlin, lena, date(2027, 1, 9)) == "clinic closed on Saturdays"
    assert closed_reason(berlin, lena, date(2027, 4, 19)) == "Dr. Lena Vogel: day off"
    assert closed_reason(berlin, lena, date(2027, 7, 20)) == "Dr. Lena Vogel: leave"
    assert (
        closed_reason(berlin, lena, date(2027, 1, 15)) == "Dr. Lena Vogel does not work on Fridays"
    )
    assert closed_reason(berlin, lena, date(2027, 1, 11)) is None


def test_slots_respect_spans_lunch_break_and_practitioner_hours(berlin: ClinicConfig) -> None:
    lena = berlin.practitioner("Dr. Lena Vogel")
    opts = day_options(berlin, lena, date(2027, 1, 13), 60, BusyIndex.build([]))  # Wednesday
    times = [(s.hour, s.minute) for s in opts.starts]
    assert times[0] == (9, 0)
    assert times[-1] == (12, 0)  # she works 09:00-13:00 on Wednesdays
    monday = day_options(berlin, lena, date(2027, 1, 11), 60, BusyIndex.build([]))
    minutes = [s.hour * 60 + s.minute for s in monday.starts]
    assert all(m + 60 <= 13 * 60 or m >= 14 * 60 for m in minutes)  # never across lunch
    assert all(m % berlin.slot_minutes == 0 for m in minutes)
    assert max(minutes) == 17 * 60


def test_busy_periods_remove_overlapping_starts_but_touching_ones_stay() -> None:
    clinic = simple_clinic()
    ann = clinic.practitioner("Ann")
    busy = [
        Busy(
            "Ann",
            datetime(2027, 1, 11, 10, tzinfo=BERLIN),
            datetime(2027, 1, 11, 11, tzinfo=BERLIN),
        )
    ]
    opts = day_options(clinic, ann, date(2027, 1, 11), 60, BusyIndex.build(busy))
    starts = {(s.hour, s.minute) for s in opts.starts}
    assert (9, 0) in starts  # ends exactly when the busy period begins
    assert (11, 0) in starts  # starts exactly when it ends
    assert not starts & {(9, 15), (9, 30), (9, 45), (10, 0), (10, 30), (10, 45)}
    bo = day_options(
        clinic, clinic.practitioner("Bo"), date(2027, 1, 11), 60, BusyIndex.build(busy)
    )
    assert len(bo.starts) > len(opts.starts)  # Bo is not affected by Ann's appointment


def test_fully_booked_day_says_so() -> None:
    clinic = simple_clinic()
    busy = [
        Busy(
            "Ann", datetime(2027, 1, 11, 8, tzinfo=BERLIN), datetime(2027, 1, 11, 18, tzinfo=BERLIN)
        )
    ]
    opts = day_options(
        clinic, clinic.practitioner("Ann"), date(2027, 1, 11), 60, BusyIndex.build(busy)
    )
    assert opts.starts == ()
    assert opts.reason == "Ann fully booked"


def test_slot_problem_checks_hours_and_bookings_for_any_minute() -> None:
    clinic = simple_clinic()
    ann = clinic.practitioner("Ann")
    idx = BusyIndex.build(
        [
            Busy(
                "Ann",
                datetime(2027, 1, 11, 10, tzinfo=BERLIN),
                datetime(2027, 1, 11, 11, tzinfo=BERLIN),
            )
        ]
    )
    assert slot_problem(clinic, ann, datetime(2027, 1, 11, 11, 5, tzinfo=BERLIN), 60, idx) is None
    assert "already booked" in str(
        slot_problem(clinic, ann, datetime(2027, 1, 11, 10, 30, tzinfo=BERLIN), 60, idx)
    )
    assert "outside Ann's working hours" in str(
        slot_problem(clinic, ann, datetime(2027, 1, 11, 16, 30, tzinfo=BERLIN), 60, idx)
    )
    assert slot_problem(clinic, ann, datetime(2027, 1, 9, 10, tzinfo=BERLIN), 60, idx) == (
        "clinic closed on Saturdays"
    )
    # The same instant given in UTC is judged in the clinic's zone.
    utc = datetime(2027, 1, 11, 10, 5, tzinfo=UTC)  # 11:05 in Berlin
    assert slot_problem(clinic, ann, utc, 60, idx) is None

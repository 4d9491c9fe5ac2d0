"""Hypothesis properties of course scheduling over random clinics, bookings and protocols.

Whatever the clinic and its bookings, a proposed course has every session inside its window,
on an open day and within working hours, never double-books a practitioner, and when no
course fits, the error names a real session and offers a slot that really is free.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import holidays
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    SessionSchedulingError,
    parse_clinic,
    schedule_course,
)
from tests.scheduling.conftest import make_protocol
from tests.strategies import examples

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")


@st.composite
def hours(draw: st.DrawFn) -> list[str]:
    open_h = draw(st.integers(7, 11))
    close_h = draw(st.integers(13, 20))
    if draw(st.booleans()):
        return [f"{open_h:02d}:00-12:00", f"13:00-{close_h:02d}:30"]
    return [f"{open_h:02d}:00-{close_h:02d}:00"]


@st.composite
def clinics(draw: st.DrawFn) -> dict[str, Any]:
    open_days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    opening = {d: draw(hours()) for d in open_days}
    n_practitioners = draw(st.integers(1, 3))
    practitioners: list[dict[str, Any]] = []
    for i in range(n_practitioners):
        p: dict[str, Any] = {"name": f"P{i}"}
        if draw(st.booleans()):
            works = draw(st.lists(st.sampled_from(open_days), min_size=1, unique=True))
            p["hours"] = {d: ["08:00-16:00"] if draw(st.booleans()) else opening[d] for d in works}
        offs = draw(st.lists(st.dates(date(2027, 1, 1), date(2027, 12, 31)), max_size=6))
        p["days_off"] = offs
        practitioners.append(p)
    closures = []
    for _ in range(draw(st.integers(0, 3))):
        begin = draw(st.dates(date(2027, 1, 1), date(2027, 12, 31)))
        closures.append({"start": begin, "end": begin + timedelta(days=draw(st.integers(0, 20)))})
    return {
        "name": "Random Clinic",
        "timezone": draw(st.sampled_from(ZONES)),
        "opening_hours": opening,
        "practitioners": practitioners,
        "closures": closures,
        "holidays": draw(
            st.sampled_from([None, {"country": "DE", "subdivision": "BE"}, {"country": "US"}])
        ),
        "slot_minutes": draw(st.sampled_from([15, 30])),
        "session_minutes": {"default": draw(st.sampled_from([30, 45, 60, 90]))},
        "first_session_search_days": draw(st.integers(0, 14)),
    }


@st.composite
def busy_lists(draw: st.DrawFn, clinic: ClinicConfig) -> list[Busy]:
    names = [p.name for p in clinic.practitioners]
    out = []
    for _ in range(draw(st.integers(0, 25))):
        day = draw(st.dates(date(2027, 1, 1), date(2028, 3, 31)))
        begin = datetime(day.year, day.month, day.day, draw(st.integers(6, 19)), tzinfo=clinic.tz)
        length = timedelta(minutes=draw(st.sampled_from([30, 60, 240, 60 * 24 * 3])))
        out.append(Busy(draw(st.sampled_from(names)), begin, begin + length))
    return out


def _assert_session_fits(clinic: ClinicConfig, who: str, start: datetime, end: datetime) -> None:
    """Checked from the config itself (not through the scheduler's own calendar helpers)."""
    practitioner = clinic.practitioner(who)
    assert start.tzinfo is not None
    local, local_end = start.astimezone(clinic.tz), end.astimezone(clinic.tz)
    assert start.utcoffset() == local.utcoffset()
    day = local.date()
    assert local_end.date() == day
    if clinic.holidays is not None:
        calendar = holidays.country_holidays(
            clinic.holidays.country, subdiv=clinic.holidays.subdivision
        )
        assert day not in calendar, "booked on a public holiday"
    assert not any(c.start <= day <= (c.end or c.start) for c in clinic.closures)
    assert not any(o.start <= day <= (o.end or o.start) for o in practitioner.days_off)
    weekday = DAYS[day.weekday()]
    a = local.hour * 60 + local.minute
    b = local_end.hour * 60 + local_end.minute
    assert any(s.start <= a and b <= s.end for s in clinic.opening_hours.get(weekday, []))
    if practitioner.hours is not None:
        assert any(s.start <= a and b <= s.end for s in practitioner.hours.get(weekday, []))


@settings(max_examples=examples(70), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_proposed_course_is_inside_windows_open_and_never_double_booked(
    data: st.DataObject,
) -> None:
    clinic = parse_clinic(data.draw(clinics()))
    busy = data.draw(busy_lists(clinic))
    sessions = data.draw(st.integers(1, 6))
    lo = data.draw(st.integers(7, 35))
    hi = lo + data.draw(st.integers(0, 14))
    protocol = make_protocol(sessions=sessions, interval=(lo, hi))
    start = data.draw(st.dates(date(2027, 1, 1), date(2027, 6, 30)))
    who = data.draw(st.sampled_from([None, *[p.name for p in clinic.practitioners]]))
    failure: SessionSchedulingError | None = None
    try:
        course = schedule_course(protocol, start, clinic, practitioner=who, busy=busy)
    except SessionSchedulingError as exc:
        failure = exc
    if failure is not None:
        event("no course fits")
        assert 1 <= failure.session_number <= sessions
        if failure.alternative is not None:
            alt = failure.alternative
            _assert_session_fits(clinic, alt.practitioner, alt.start, alt.end)
            assert not any(b.overlaps(Busy(alt.practitioner, alt.start, alt.end)) for b in busy)
            assert failure.window is not None
            assert alt.start.astimezone(clinic.tz).date() > failure.window[1]
        return
    event("course proposed")
    assert len(course.sessions) == sessions
    days = [s.start.astimezone(clinic.tz).date() for s in course.sessions]
    assert start <= days[0] <= start + timedelta(days=clinic.first_session_search_days)
    for a, b in pairwise(days):
        assert lo <= (b - a).days <= hi
    for s in course.sessions:
        _assert_session_fits(clinic, s.practitioner, s.start, s.end)
        assert not any(b.overlaps(s) for b in busy), "double booked with an existing appointment"
        if who is not None:
            assert s.practitioner == who
    own = [s.as_busy() for s in course.sessions]
    for i, a in enumerate(own):
        for b in own[i + 1 :]:
            assert not a.overlaps(b)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_replan_keeps_earlier_sessions_uids_and_never_double_books(data: st.DataObject) -> None:
    """After a move or a missed session: earlier sessions untouched, later sessions either in
    their window or flagged as late, no overlap with bookings, SEQUENCE only goes up."""
    from needleplan.exceptions import SchedulingError
    from needleplan.scheduling import replan

    clinic = parse_clinic(data.draw(clinics()))
    busy = data.draw(busy_lists(clinic))
    sessions = data.draw(st.integers(2, 6))
    lo = data.draw(st.integers(7, 35))
    hi = lo + data.draw(st.integers(0, 14))
    protocol = make_protocol(sessions=sessions, interval=(lo, hi))
    start = data.draw(st.dates(date(2027, 1, 1), date(2027, 6, 30)))
    try:
        course = schedule_course(protocol, start, clinic, busy=busy, course_id="p")
    except SessionSchedulingError:
        return
    number = data.draw(st.integers(1, sessions))
    session = course.session(number)
    try:
        if data.draw(st.booleans()):
            result = replan(course, number, clinic, protocol, missed=True, busy=busy)
        else:
            shift = timedelta(
                days=data.draw(st.integers(-3, 10)), minutes=15 * data.draw(st.integers(-8, 8))
            )
            result = replan(
                course, number, clinic, protocol, new_start=session.start + shift, busy=busy
            )
    except SchedulingError:
        event("replan refused")
        return
    event("replanned")
    new = result.schedule
    assert new.course_id == course.course_id
    assert [s.number for s in new.sessions] == [s.number for s in course.sessions]
    for old, s in zip(course.sessions, new.sessions, strict=True):
        if s.number < number:
            assert s == old
        assert s.sequence in (old.sequence, old.sequence + 1)
        assert (s.sequence > old.sequence) == (s.number in result.changed)
        _assert_session_fits(clinic, s.practitioner, s.start, s.end)
        assert not any(b.overlaps(s) for b in busy)
    days = [s.start.astimezone(clinic.tz).date() for s in new.sessions]
    for i in range(max(number - 1, 1), len(days)):
        gap = (days[i] - days[i - 1]).days
        if gap > hi:
            assert any(g.session_number == i + 1 for g in result.gaps)
        if gap < lo:
            assert any(f"session {i + 1} is only" in w for w in new.warnings)

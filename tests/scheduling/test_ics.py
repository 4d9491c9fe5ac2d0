"""iCalendar export: every field, stable UIDs, SEQUENCE, VTIMEZONE, two independent parsers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.exceptions import SchedulingError
from needleplan.scheduling import (
    ClinicConfig,
    CourseSchedule,
    MaintenanceDue,
    course_ics,
    maintenance_uid,
    replan,
    schedule_course,
    session_uid,
)
from tests.scheduling.conftest import make_protocol
from tests.strategies import examples

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def _course(berlin: ClinicConfig, course_id: str = "course-42") -> CourseSchedule:
    course = schedule_course(make_protocol(), date(2027, 1, 11), berlin, course_id=course_id)
    return course.with_maintenance(MaintenanceDue(date(2028, 5, 31), None, "latest bound"))


def test_every_field_of_every_event_parses_back_with_icalendar(berlin: ClinicConfig) -> None:
    course = _course(berlin)
    cal = icalendar.Calendar.from_ical(course_ics(course, stamp=STAMP))
    assert cal["VERSION"] == "2.0"
    assert str(cal["PRODID"]).startswith("-//needleplan//")
    assert cal["CALSCALE"] == "GREGORIAN"
    assert cal["METHOD"] == "PUBLISH"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = cal.walk("VEVENT")
    assert len(events) == 5
    for event, session in zip(events, course.sessions, strict=True):
        assert str(event["UID"]) == session_uid("course-42", session.number)
        assert int(event["SEQUENCE"]) == 0
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND")
        assert start == session.start
        assert end == session.end
        assert str(start.tzinfo) == "Europe/Berlin"
        assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
        assert event["DTEND"].params["TZID"] == "Europe/Berlin"
        assert event.decoded("DTSTAMP") == STAMP
        assert str(event["SUMMARY"]) == f"Microneedling session {session.number} of 5"
        assert str(event["DESCRIPTION"]) == f"Practitioner: {session.practitioner}"
        assert str(event["LOCATION"]) == berlin.location
        assert event["STATUS"] == "CONFIRMED"
        assert event["TRANSP"] == "OPAQUE"
    todos = cal.walk("VTODO")
    assert len(todos) == 1
    todo = todos[0]
    assert str(todo["UID"]) == maintenance_uid("course-42")
    assert todo.decoded("DUE") == date(2028, 5, 31)
    assert int(todo["SEQUENCE"]) == 0
    assert todo["STATUS"] == "NEEDS-ACTION"
    assert "maintenance" in str(todo["SUMMARY"]).lower()


def test_no_patient_health_details_in_the_event_text(berlin: ClinicConfig) -> None:
    text = course_ics(_course(berlin), stamp=STAMP).decode("utf-8").lower()
    for word in ("diabetes", "smok", "pregnan", "severity", "moderate", "age ", "laxity", "acne"):
        assert word not in text


def test_vtimezone_matches_the_offsets_on_both_sides_of_dst(berlin: ClinicConfig) -> None:
    course = _course(berlin)
    cal = icalendar.Calendar.from_ical(course_ics(course, stamp=STAMP))
    tz = cal.walk("VTIMEZONE")[0]
    offsets = {c.decoded("TZOFFSETTO") for c in tz.walk() if "TZOFFSETTO" in c}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}
    # The parsed start times keep the wall clock (10:00) while the UTC offset changes.
    starts = [e.decoded("DTSTART") for e in cal.walk("VEVENT")]
    assert {s.hour for s in starts} == {10}
    assert {s.utcoffset() for s in starts} == {timedelta(hours=1), timedelta(hours=2)}


def test_second_parser_recurring_ical_events_sees_the_same_events(berlin: ClinicConfig) -> None:
    course = _course(berlin)
    cal = icalendar.Calendar.from_ical(course_ics(course, stamp=STAMP))
    found = recurring_ical_events.of(cal).between(date(2027, 1, 1), date(2027, 12, 31))
    starts = sorted(e.decoded("DTSTART") for e in found if e.name == "VEVENT")
    assert starts == [s.start for s in course.sessions]


def _unfold(raw: bytes) -> list[str]:
    """RFC 5545 section 3.1: content lines end in CRLF; a CRLF followed by a space or tab is a
    fold. Checks the 75-octet limit on the way."""
    assert raw.endswith(b"\r\n")
    physical = raw.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in physical)
    assert all(len(line) <= 75 for line in physical), "line longer than 75 octets"
    logical: list[bytes] = []
    for line in physical:
        if line[:1] in (b" ", b"\t"):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return [line.decode("utf-8") for line in logical]


def test_hand_parser_finds_balanced_components_and_the_same_uids(berlin: ClinicConfig) -> None:
    course = _course(berlin)
    lines = _unfold(course_ics(course, stamp=STAMP))
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    stack: list[str] = []
    for line in lines:
        if line.startswith("BEGIN:"):
            stack.append(line[6:])
        elif line.startswith("END:"):
            assert stack.pop() == line[4:]
    assert stack == []
    uids = [line[4:] for line in lines if line.startswith("UID:")]
    expected = [session_uid("course-42", n) for n in range(1, 6)] + [maintenance_uid("course-42")]
    assert [u for u in uids if u in expected] == expected
    dtstarts = [line for line in lines if line.startswith("DTSTART;TZID=Europe/Berlin:")]
    assert dtstarts[0] == "DTSTART;TZID=Europe/Berlin:20270111T100000"
    assert len(dtstarts) == 5
    assert "DUE;VALUE=DATE:20280531" in lines
    assert any(re.fullmatch(r"LOCATION:Example Skin Clinic\\, .*", line) for line in lines)


def test_re_export_after_a_move_keeps_uids_and_bumps_sequence(berlin: ClinicConfig) -> None:
    course = _course(berlin)
    before = icalendar.Calendar.from_ical(course_ics(course, stamp=STAMP))
    moved = replan(
        course, 3, berlin, make_protocol(), new_start=datetime(2027, 3, 23, 10, tzinfo=BERLIN)
    ).schedule
    after = icalendar.Calendar.from_ical(course_ics(moved, stamp=STAMP))
    uid_before = [str(e["UID"]) for e in before.walk("VEVENT")]
    uid_after = [str(e["UID"]) for e in after.walk("VEVENT")]
    assert uid_before == uid_after
    seq = {str(e["UID"]): int(e["SEQUENCE"]) for e in after.walk("VEVENT")}
    assert seq[session_uid("course-42", 1)] == 0
    assert seq[session_uid("course-42", 2)] == 0
    assert seq[session_uid("course-42", 3)] == 1
    for event in after.walk("VEVENT"):
        number = int(str(event["SUMMARY"]).split()[2])
        changed = moved.session(number).start != course.session(number).start
        assert int(event["SEQUENCE"]) == (1 if changed else 0)


def test_same_course_exported_twice_is_byte_identical(berlin: ClinicConfig) -> None:
    assert course_ics(_course(berlin), stamp=STAMP) == course_ics(_course(berlin), stamp=STAMP)


@settings(max_examples=examples(25), deadline=None)
@given(
    course_id=st.text(min_size=1, max_size=40),
    sessions=st.integers(1, 6),
    start=st.dates(date(2027, 1, 1), date(2027, 12, 1)),
    shift_days=st.integers(1, 6),
)
def test_uids_are_stable_and_distinct_across_re_exports_and_moves(
    berlin: ClinicConfig, course_id: str, sessions: int, start: date, shift_days: int
) -> None:
    protocol = make_protocol(sessions=sessions)
    course = schedule_course(protocol, start, berlin, course_id=course_id)
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(course_ics(course)).walk("VEVENT")]
    again = [str(e["UID"]) for e in icalendar.Calendar.from_ical(course_ics(course)).walk("VEVENT")]
    assert uids == again
    assert len(set(uids)) == sessions
    last = course.sessions[-1]
    # Move the last session a few days later, to a slot that is free.
    for extra in range(shift_days, shift_days + 40):
        target = last.start + timedelta(days=extra)
        try:
            moved = replan(course, last.number, berlin, protocol, new_start=target).schedule
        except SchedulingError:  # a closed day or outside hours: try the next one
            continue
        cal = icalendar.Calendar.from_ical(course_ics(moved))
        assert [str(e["UID"]) for e in cal.walk("VEVENT")] == uids
        assert int(cal.walk("VEVENT")[-1]["SEQUENCE"]) == 1
        break
    else:
        raise AssertionError("no free slot found to move the last session to")

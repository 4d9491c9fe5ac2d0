"""Find a slot, book a single visit in it, and the waitlist (services.clinic_calendar_slots,
services.waitlist), on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from needleplan import services
from needleplan.domain import Area, IntRange, Protocol
from needleplan.domain.records import AppointmentKind, Role, User
from needleplan.exceptions import ConflictError, InputError, PermissionDeniedError
from needleplan.scheduling import ClinicConfig, parse_clinic
from needleplan.services import waitlist
from needleplan.services.clinic_calendar_slots import (
    book_visit,
    find_free_slots,
    parse_slot_key,
    visit_minutes,
)
from needleplan.storage import Database

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2031, 3, 3)
NOW = datetime(2031, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, before opening

CLINIC: dict[str, Any] = {
    "name": "Slot Clinic",
    "timezone": "Europe/Berlin",
    "opening_hours": {
        "monday": ["09:00-12:00", "13:00-17:00"],
        "tuesday": ["09:00-17:00"],
        "wednesday": ["09:00-17:00"],
    },
    "closures": [{"start": "2031-03-04", "reason": "training"}],
    "practitioners": [
        {"name": "Alice"},
        {"name": "Bob", "days_off": [{"start": "2031-03-03", "reason": "conference"}]},
    ],
    "session_minutes": {"default": 60},
}


def _clinic() -> ClinicConfig:
    return parse_clinic(CLINIC, source="test")


def _desk(role: Role = Role.FRONT_DESK, active: bool = True) -> User:
    return User(id=0, username="desk", role=role, created_at=NOW, active=active)


def _patient(db: Database, given: str = "Ina") -> int:
    return services.register_patient(
        db,
        {
            "given_name": given,
            "family_name": "Test",
            "birth_date": "1980-01-01",
            "consent_treatment": True,
        },
    ).id


def test_free_slots_skip_closures_days_off_breaks_and_bookings(db: Database) -> None:
    clinic = _clinic()
    ids = services.sync_practitioners(db, clinic)
    p = _patient(db)
    first = datetime.combine(MONDAY, time(9), ZONE)
    services.book_appointment(
        db, p, (first, first + timedelta(hours=1), ids["Alice"]), kind="review", now=NOW
    )
    slots = find_free_slots(db, clinic, "session", limit=20, per_day=20, now=NOW)
    starts = [(s.start.astimezone(ZONE), s.practitioner) for s in slots]
    monday = [s for s, _ in starts if s.date() == MONDAY]
    # Alice on Monday, every 15 minutes: 10:00-11:00 before the lunch break (09:00 is booked),
    # 13:00-16:00 after it (an hour must end by 17:00).
    morning = [f"10:{m:02d}" for m in (0, 15, 30, 45)] + ["11:00"]
    afternoon = [f"{h}:{m:02d}" for h in (13, 14, 15) for m in (0, 15, 30, 45)] + ["16:00"]
    assert [f"{s:%H:%M}" for s in monday] == morning + afternoon
    assert all(who == "Alice" for s, who in starts if s.date() == MONDAY)  # Bob's day off
    assert not [s for s, _ in starts if s.date() == MONDAY + timedelta(days=1)]  # closure
    assert {who for s, who in starts if s.date() == MONDAY + timedelta(days=2)} == {"Alice", "Bob"}
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)


def test_free_slots_start_after_now_and_not_before_and_practitioner(db: Database) -> None:
    clinic = _clinic()
    noon = datetime(2031, 3, 3, 10, 30, tzinfo=UTC)  # 11:30 in Berlin
    slots = find_free_slots(db, clinic, "consultation", per_day=50, now=noon)
    assert slots
    assert slots[0].start >= noon
    assert visit_minutes(clinic, AppointmentKind.CONSULTATION) == 30
    later = find_free_slots(
        db, clinic, "review", practitioner="Bob", not_before=date(2031, 3, 5), now=NOW
    )
    assert {s.practitioner for s in later} == {"Bob"}
    assert min(s.start.astimezone(ZONE).date() for s in later) == date(2031, 3, 5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "massage"}, "kind"),
        ({"limit": 0}, "limit"),
        ({"practitioner": "Eve"}, "practitioner"),
    ],
)
def test_free_slot_search_refuses_bad_input(
    db: Database, kwargs: dict[str, Any], field: str
) -> None:
    args = {"kind": "session"} | kwargs
    kind = args.pop("kind")
    with pytest.raises(InputError) as err:
        find_free_slots(db, _clinic(), kind, now=NOW, **args)
    assert err.value.problems[0].field == field


def test_book_visit_books_audits_and_the_slot_is_no_longer_offered(db: Database) -> None:
    clinic = _clinic()
    p = _patient(db)
    slot = find_free_slots(db, clinic, "consultation", now=NOW)[0]
    who, start = parse_slot_key(slot.key, clinic)
    appt = book_visit(db, _desk(), clinic, p, "consultation", start, who, now=NOW)
    assert appt.kind is AppointmentKind.CONSULTATION
    assert appt.end - appt.start == timedelta(minutes=30)
    assert slot.key not in {s.key for s in find_free_slots(db, clinic, "consultation", now=NOW)}
    events = services.audit_log(db, patient_id=p)
    assert any(
        e.action == "appointment.book" and f"appointment {appt.id}" in e.detail for e in events
    )
    with pytest.raises(ConflictError):
        book_visit(db, _desk(), clinic, _patient(db, "Other"), "consultation", start, who, now=NOW)


def test_book_visit_refuses_past_closed_and_unknown(db: Database) -> None:
    clinic = _clinic()
    ids = services.sync_practitioners(db, clinic)
    p = _patient(db)
    with pytest.raises(InputError, match="past"):
        book_visit(
            db, _desk(), clinic, p, "review", NOW - timedelta(hours=1), ids["Alice"], now=NOW
        )
    closed = datetime(2031, 3, 4, 10, 0, tzinfo=ZONE)
    with pytest.raises(InputError, match="training"):
        book_visit(db, _desk(), clinic, p, "review", closed, ids["Alice"], now=NOW)
    with pytest.raises(InputError) as err:
        book_visit(db, _desk(), clinic, p, "review", closed, 999, now=NOW)
    assert err.value.problems[0].field == "practitioner"
    with pytest.raises(PermissionDeniedError):
        book_visit(db, _desk(active=False), clinic, p, "review", closed, ids["Alice"], now=NOW)
    assert services.appointments_between(db, NOW, NOW + timedelta(days=30)) == []


def test_a_session_joins_her_open_course(db: Database) -> None:
    clinic = _clinic()
    ids = services.sync_practitioners(db, clinic)
    p = _patient(db)
    protocol = Protocol(
        initial_sessions=2,
        session_range=IntRange(min=2, max=4),
        interval_days=IntRange(min=28, max=42),
        maintenance_interval_months=IntRange(min=6, max=12),
        difficult_case=False,
        blocked=False,
        areas=[Area.FULL_FACE],
        guideline_version="test",
    )
    course = services.book_course(db, p, protocol, now=NOW).course
    start = datetime(2031, 3, 5, 9, 0, tzinfo=ZONE)
    appt = book_visit(db, _desk(), clinic, p, "session", start, ids["Alice"], now=NOW)
    assert appt.course_id == course.id


def test_waitlist_matches_a_freed_slot_and_booking_takes_her_off(db: Database) -> None:
    clinic = _clinic()
    ids = services.sync_practitioners(db, clinic)
    desk = _desk()
    first, second, third = _patient(db, "First"), _patient(db, "Second"), _patient(db, "Third")
    waitlist.add_to_waitlist(db, desk, first, "session", now=NOW)
    waitlist.add_to_waitlist(
        db, desk, second, "session", practitioner_id=ids["Bob"], now=NOW + timedelta(minutes=1)
    )
    waitlist.add_to_waitlist(
        db, desk, third, "session", not_before=date(2031, 3, 20), now=NOW + timedelta(minutes=2)
    )
    waitlist.add_to_waitlist(db, desk, third, "review", now=NOW)
    start = datetime(2031, 3, 5, 9, 0, tzinfo=ZONE)
    alice = waitlist.waitlist_matches(db, "session", ids["Alice"], start, start.date())
    assert [e.patient_id for e in alice] == [first]
    bob = waitlist.waitlist_matches(db, "session", ids["Bob"], start, start.date())
    assert [e.patient_id for e in bob] == [first, second]
    book_visit(db, desk, clinic, first, "session", start, ids["Alice"], now=NOW)
    assert [w.patient.id for w in waitlist.open_waitlist(db, desk, "session")] == [second, third]
    removed = waitlist.open_waitlist(db, desk, "review")[0].entry
    waitlist.remove_from_waitlist(db, desk, removed.id, now=NOW)
    assert waitlist.open_waitlist(db, desk, "review") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"kind": "spa"}, "kind"), ({"note": "x" * 201}, "note"), ({"note": "a\nb"}, "note")],
)
def test_waitlist_refuses_bad_input(db: Database, kwargs: dict[str, Any], field: str) -> None:
    p = _patient(db)
    args = {"kind": "session"} | kwargs
    kind = args.pop("kind")
    with pytest.raises(InputError) as err:
        waitlist.add_to_waitlist(db, _desk(), p, kind, now=NOW, **args)
    assert err.value.problems[0].field == field

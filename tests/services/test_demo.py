"""The demo clinic: every course state, the services' invariants hold, same seed same clinic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.exceptions import ConflictError
from needleplan.storage.backup import snapshot
from needleplan.storage.repositories import slot_starts
from tests.demo_support import DEMO, DemoClinic

TODAY = DEMO.today
DEMO_PATIENTS = DEMO.patients
#: The same-seed comparison: small, yet with patients in several course states.
SAME_SEED_PATIENTS = 16


@pytest.fixture
def demo(demo_clinic: DemoClinic) -> tuple[Any, services.DemoSummary]:
    """A database holding the shared demo clinic (tests/demo_support.py: DEMO, built once per run
    through the services and copied for each test) and the summary its fill returned."""
    return demo_clinic.db, demo_clinic.summary


def test_demo_has_every_state_and_consistent_records(demo: Any) -> None:
    db, summary = demo
    assert summary.patients == DEMO_PATIENTS
    assert all(summary.courses[s.value] > 0 for s in CourseStatus), summary.courses
    with db.transaction() as uow:
        courses = uow.courses.all()
        for course in courses:
            ledger = uow.courses.ledger(course.id)
            assert sum(e.delta for e in ledger) == course.remaining_sessions
            appts = uow.appointments.for_course(course.id)
            performed = [a for a in appts if a.status is AppointmentStatus.PERFORMED]
            assert len(uow.sessions.for_course(course.id)) == len(performed)
            assert course.remaining_sessions == course.planned_sessions - len(performed)
            if course.status is CourseStatus.COMPLETED:
                assert course.remaining_sessions == 0
            if course.status in (CourseStatus.PLANNED, CourseStatus.CANCELLED):
                assert performed == []
            if course.status is CourseStatus.LAPSED:
                assert not [a for a in appts if a.status is AppointmentStatus.BOOKED]
    tables = snapshot(db.engine)["tables"]
    cols = {n: {c: i for i, c in enumerate(t["columns"])} for n, t in tables.items()}
    claims = Counter(
        r[cols["slot_claims"]["appointment_id"]] for r in tables["slot_claims"]["rows"]
    )
    from datetime import datetime

    for r in tables["appointments"]["rows"]:
        a = cols["appointments"]
        expected = (
            0
            if r[a["status"]] == "cancelled"
            else len(
                slot_starts(
                    datetime.fromisoformat(r[a["start_at"]]), datetime.fromisoformat(r[a["end_at"]])
                )
            )
        )
        assert claims.get(r[a["id"]], 0) == expected
    assert services.recall_list(db, due_by=TODAY)  # some patients are due now
    assert services.authenticate(db, "frontdesk", "demo-password") is not None
    newcomer = services.register_patient(
        db,
        {
            "consent_treatment": True,
            "given_name": "New",
            "family_name": "One",
            "birth_date": "1980-01-01",
        },
    )
    assert newcomer.id == DEMO_PATIENTS + 1
    with pytest.raises(ConflictError):
        services.fill_demo_clinic(db, patients=5, seed=11, today=TODAY)


@pytest.mark.postgres
def test_same_seed_gives_the_same_clinic_on_either_backend(pg_server: Any, tmp_path: Path) -> None:
    """Filled twice with the same seed and day, once on SQLite and once on PostgreSQL, the demo
    clinics have the same patients, courses and appointments (so the PostgreSQL copies the other
    tests restore from the shared SQLite build hold the clinic a PostgreSQL fill makes)."""
    from needleplan.storage import Database

    built: list[Database] = []
    try:
        for url in (f"sqlite:///{tmp_path / 'a.sqlite3'}", pg_server.create_database("same_seed")):
            built.append(Database.open(url))
            summary = services.fill_demo_clinic(
                built[-1], patients=SAME_SEED_PATIENTS, seed=5, today=TODAY
            )
            assert sum(1 for n in summary.courses.values() if n) >= 3  # a varied clinic
        db, other = built
        a = [(p.mrn, p.display_name, p.birth_date) for p in services.list_patients(db, limit=100)]
        b = [
            (p.mrn, p.display_name, p.birth_date) for p in services.list_patients(other, limit=100)
        ]
        assert len(a) == SAME_SEED_PATIENTS
        assert a == b
        with db.transaction() as u1, other.transaction() as u2:
            assert [(c.status, c.planned_sessions) for c in u1.courses.all()] == [
                (c.status, c.planned_sessions) for c in u2.courses.all()
            ]
            assert [(x.start, x.status) for x in u1.appointments.all()] == [
                (x.start, x.status) for x in u2.appointments.all()
            ]
    finally:
        for database in built:
            database.dispose()


def test_demo_practitioners_all_work_in_the_bundled_example_clinic() -> None:
    """Demo courses can be re-planned in the example clinic's calendar: same staff in both."""
    from needleplan.scheduling import example_clinic
    from needleplan.services.demo import PRACTITIONERS

    assert set(PRACTITIONERS) <= {p.name for p in example_clinic().practitioners}


def test_every_demo_appointment_obeys_the_demo_calendar(demo: Any) -> None:
    """No demo booking on a closure, public holiday, closed weekday or a practitioner's day off,
    and each lies inside her working hours that day (the calendar the demo was booked in)."""
    from needleplan.scheduling.calendar import closed_reason, working_spans
    from needleplan.services.demo import demo_calendar

    calendar = demo_calendar()
    db, _ = demo
    names = {p.id: p.name for p in services.list_practitioners(db)}
    with db.transaction() as uow:
        appointments = uow.appointments.all()
    assert len(appointments) > 200
    assert any(a.start.date() > TODAY for a in appointments)
    problems = []
    for a in appointments:
        practitioner = calendar.practitioner(names[a.practitioner_id])
        start, end = a.start.astimezone(calendar.tz), a.end.astimezone(calendar.tz)
        reason = closed_reason(calendar, practitioner, start.date())
        minutes = (start.hour * 60 + start.minute, end.hour * 60 + end.minute)
        spans = working_spans(calendar, practitioner, start.date())
        if reason is None and not any(lo <= minutes[0] and minutes[1] <= hi for lo, hi in spans):
            reason = f"outside working hours {spans}"
        if reason is not None:
            problems.append((a.id, start.isoformat(), practitioner.name, reason))
    assert problems == []


def test_demo_contact_attempts_are_spread_over_office_hours(demo: Any) -> None:
    """Recall outreach happens on open days in opening hours, days apart, never after today."""
    from needleplan.domain.records import RecallStatus
    from needleplan.scheduling.calendar import closed_reason, working_spans
    from needleplan.services.demo import demo_calendar

    calendar = demo_calendar()
    desk = calendar.practitioners[0].model_copy(update={"hours": None, "days_off": []})
    db, _ = demo
    entries = services.recall_list(db, statuses=tuple(RecallStatus))
    attempts = [a for e in entries for a in e.attempts]
    assert len(attempts) >= 10
    assert len({a.at for a in attempts}) == len(attempts)  # no two at the same instant
    assert len({a.at.astimezone(calendar.tz).hour for a in attempts}) >= 4
    for entry in entries:
        days = [a.at.astimezone(calendar.tz).date() for a in entry.attempts]
        assert days == sorted(set(days))  # in order, on different days
    for a in attempts:
        local = a.at.astimezone(calendar.tz)
        assert local.date() < TODAY
        assert closed_reason(calendar, desk, local.date()) is None
        minute = local.hour * 60 + local.minute
        assert any(lo <= minute < hi for lo, hi in working_spans(calendar, desk, local.date()))

"""The large clinic generator (``needleplan demo --large``): its bulk rows read back through the
repositories and keep the invariants the services keep, on SQLite and PostgreSQL; the services
work on the result (search, booking, a new patient's id)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from needleplan import services
from needleplan.domain.records import AppointmentStatus, CourseStatus, RecallStatus
from needleplan.exceptions import ConflictError, InputError
from needleplan.services._clock import add_months
from needleplan.services._integrity import age_on
from needleplan.services.large_clinic import fill_large_clinic, large_clinic_calendar
from needleplan.storage.backup import check_readable
from needleplan.storage.repositories import slot_starts

TODAY = date(2026, 11, 18)
PATIENTS = 700


@pytest.fixture
def large(db: Any) -> tuple[Any, Any]:
    summary = fill_large_clinic(db, patients=PATIENTS, seed=11, today=TODAY)
    return db, summary


def test_generated_rows_read_back_as_the_app_reads_them(large: tuple[Any, Any]) -> None:
    db, summary = large
    with db.engine.connect() as conn:
        check_readable(conn)  # every row through the repositories' validated domain values
    assert summary.patients == PATIENTS
    assert set(summary.courses) == {s.value for s in CourseStatus}, summary.courses
    assert summary.appointments > 0
    assert summary.recalls > 0
    assert summary.contact_attempts > 0
    assert len(services.list_practitioners(db)) == 20


def test_generated_courses_keep_the_services_invariants(large: tuple[Any, Any]) -> None:
    db, summary = large
    zone = large_clinic_calendar().tz
    with db.transaction() as uow:
        courses = uow.courses.all()
        assert Counter(c.status.value for c in courses) == summary.courses
        recalls = {r.course_id: r for r in uow.recalls.query(statuses=tuple(RecallStatus))}
        for course in courses:
            ledger = uow.courses.ledger(course.id)
            assert sum(e.delta for e in ledger) == course.remaining_sessions
            appts = uow.appointments.for_course(course.id)
            performed = [a for a in appts if a.status is AppointmentStatus.PERFORMED]
            sessions = uow.sessions.for_course(course.id)
            assert sorted(s.appointment_id for s in sessions) == sorted(a.id for a in performed)
            assert course.remaining_sessions == course.planned_sessions - len(performed)
            if course.status is CourseStatus.COMPLETED:
                assert course.remaining_sessions == 0
                entry = recalls[course.id]
                last = max(s.performed_at for s in sessions)
                months = course.protocol.maintenance_interval_months.min
                assert entry.due_date == add_months(last.date(), months)
            else:
                assert course.id not in recalls
            if course.status in (CourseStatus.PLANNED, CourseStatus.CANCELLED):
                assert performed == []
            if course.status in (CourseStatus.LAPSED, CourseStatus.CANCELLED):
                assert not [a for a in appts if a.status is AppointmentStatus.BOOKED]
            for a in appts:
                local = a.start.astimezone(zone)
                assert local.weekday() < 5, a
                assert 9 <= local.hour < 17, a
                assert (a.status is AppointmentStatus.PERFORMED) == (
                    local.date() < TODAY and a.status is not AppointmentStatus.MISSED
                ) or a.status is AppointmentStatus.CANCELLED
        for patient in uow.patients.search(None, limit=PATIENTS):
            for record in uow.assessments.history(patient.id):
                day = record.assessed_at.astimezone(zone).date()
                assert record.assessment.age == age_on(patient.birth_date, day)
                assert day < TODAY


def test_every_live_appointment_holds_its_slots_and_no_two_overlap(large: tuple[Any, Any]) -> None:
    db, _ = large
    with db.engine.connect() as conn:
        claims: dict[int, int] = Counter(
            r[0] for r in conn.execute(text("SELECT appointment_id FROM slot_claims"))
        )
    with db.transaction() as uow:
        appointments = uow.appointments.all()
    by_practitioner: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in appointments:
        live = a.status is not AppointmentStatus.CANCELLED
        assert claims.get(a.id, 0) == (len(slot_starts(a.start, a.end)) if live else 0)
        if live:
            by_practitioner[a.practitioner_id].append((a.start, a.end))
    for spans in by_practitioner.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


def test_services_work_on_a_generated_clinic(large: tuple[Any, Any]) -> None:
    db, _ = large
    patient = services.get_patient(db, 123)
    assert patient.email is not None
    assert patient.phone is not None
    for query in (patient.family_name[:4], patient.email, patient.phone, patient.mrn):
        found, total = services.search_patients(db, query, limit=500)
        assert patient.id in {p.id for p in found}, query
        assert total >= 1
    newcomer = services.register_patient(
        db, {"given_name": "New", "family_name": "One", "birth_date": "1980-01-01"}
    )
    assert newcomer.id == PATIENTS + 1  # the id sequences moved past the written rows
    due = services.recall_worklist(db, today=TODAY, tab="month", per_page=50)
    assert due.entries
    assert all(e.due_date.month == TODAY.month for e in due.entries)
    with db.transaction() as uow:
        open_course = {
            c.patient_id for c in uow.courses.all() if c.status.value in ("planned", "active")
        }
    free = next(p for p in range(1, PATIENTS) if p not in open_course)
    start = datetime.now(UTC).date() + timedelta(days=7)
    booked = services.plan_and_book_course(db, free, start, large_clinic_calendar())
    assert len(booked.booking.appointments) >= 1


def test_generator_refuses_a_clinic_with_records_and_bad_sizes(large: tuple[Any, Any]) -> None:
    db, _ = large
    with pytest.raises(ConflictError):
        fill_large_clinic(db, patients=5, today=TODAY)
    with pytest.raises(InputError, match="patients"):
        fill_large_clinic(db, patients=0, today=TODAY)

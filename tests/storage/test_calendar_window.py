"""The calendar's one-query read of a window (docs/scale.md) gives what the per-table reads
gave: the same appointments in the same order, her name and contact, the course's planned
session count, on SQLite and PostgreSQL, for everyone or one practitioner."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.records import AppointmentStatus
from needleplan.scheduling import example_clinic
from needleplan.services.courses import planned_sessions_by_course
from needleplan.services.patients import patients_by_id

SHOWN = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.PERFORMED,
    AppointmentStatus.MISSED,
)


@pytest.fixture
def booked(clinic: Any) -> Any:
    cfg = example_clinic()
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "Ann",
            "family_name": "O'Hara <b>",
            "birth_date": f"{date.today().year - 50}-01-01",
            "phone": "+49 30 555",
            "consent_treatment": True,
        },
    )
    for pid in (clinic.patient.id, other.id):
        services.record_assessment(clinic.db, pid, reference_assessment())
        services.plan_and_book_course(clinic.db, pid, date(2030, 9, 2), cfg)
    first = services.appointments_between(
        clinic.db, datetime(2030, 9, 1, tzinfo=UTC), datetime(2030, 9, 30, tzinfo=UTC)
    )[0]
    services.cancel_appointment(clinic.db, first.id, reason="ill")
    return clinic


def _old_read(db: Any, start: datetime, end: datetime, who: int | None) -> list[tuple[Any, ...]]:
    appointments = services.appointments_between(
        db, start, end, practitioner_id=who, statuses=SHOWN
    )
    patients = patients_by_id(db, {a.patient_id for a in appointments})
    totals = planned_sessions_by_course(
        db, {a.course_id for a in appointments if a.course_id is not None}
    )
    return [
        (
            a,
            patients[a.patient_id].given_name,
            patients[a.patient_id].family_name,
            patients[a.patient_id].phone or "",
            patients[a.patient_id].email or "",
            totals.get(a.course_id) if a.course_id is not None else None,
            False,
        )
        for a in appointments
    ]


def test_the_window_read_is_the_per_table_reads(booked: Any) -> None:
    start, end = datetime(2030, 8, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC)
    items = services.calendar_window(booked.db, start, end, statuses=SHOWN)
    assert len(items) >= 9  # two courses, one visit cancelled (not shown)
    assert [
        (i.appointment, i.given_name, i.family_name, i.phone, i.email, i.planned_sessions, i.online)
        for i in items
    ] == _old_read(booked.db, start, end, None)
    assert all(i.appointment.status is not AppointmentStatus.CANCELLED for i in items)
    assert "O'Hara <b>" in {i.family_name for i in items}
    who = items[0].appointment.practitioner_id
    mine = services.calendar_window(booked.db, start, end, practitioner_id=who, statuses=SHOWN)
    assert mine
    assert all(i.appointment.practitioner_id == who for i in mine)
    assert [i.appointment for i in mine] == [a for a, *_ in _old_read(booked.db, start, end, who)]
    week = services.calendar_window(booked.db, start, start + timedelta(days=7), statuses=SHOWN)
    assert week == []

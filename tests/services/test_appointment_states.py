"""Appointment status changes go through the domain's transitions: an illegal one raises
StateError naming the appointment and both states, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import Appointment, AppointmentStatus, CourseStatus
from needleplan.exceptions import StateError
from tests.consent_support import sign_treatment

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _slots(who: int, n: int = 3) -> list[tuple[datetime, datetime, int]]:
    return [
        (T0 + timedelta(days=35 * i), T0 + timedelta(days=35 * i, minutes=45), who)
        for i in range(n)
    ]


def _session(who: int, at: datetime) -> dict[str, Any]:
    return {
        "performed_at": at.isoformat(),
        "areas": ["full_face"],
        "device": "Dermapen 4",
        "needle_depth_mm": {"full_face": 1.0},
        "passes": 3,
        "practitioner_id": who,
    }


def _stored(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a refused change."""
    from sqlalchemy import select

    from needleplan.storage.tables import metadata

    with db.engine.connect() as conn:
        return {
            t.name: sorted(
                (tuple(r) for r in conn.execute(select(t))),
                key=repr,
            )
            for t in metadata.sorted_tables
        }


def _cancel(clinic: Any, appt: Appointment) -> None:
    services.cancel_appointment(clinic.db, appt.id, reason="patient ill")


def _missed(clinic: Any, appt: Appointment) -> None:
    services.mark_missed(clinic.db, appt.id)


def _record(clinic: Any, appt: Appointment) -> None:
    services.record_session(
        clinic.db, _session(clinic.alice.id, appt.start), appointment_id=appt.id
    )


ACTIONS: dict[str, tuple[Callable[[Any, Appointment], None], AppointmentStatus]] = {
    "cancel": (_cancel, AppointmentStatus.CANCELLED),
    "missed": (_missed, AppointmentStatus.MISSED),
    "record": (_record, AppointmentStatus.PERFORMED),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_change_from_booked_is_stored(clinic: Any, protocol: Any, action: str) -> None:
    sign_treatment(clinic.db, clinic.patient.id)
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, _slots(clinic.alice.id))
    appt = booking.appointments[0]
    do, target = ACTIONS[action]
    do(clinic, appt)
    stored = {
        a.id: a.status for a in services.course_file(clinic.db, booking.course.id).appointments
    }
    assert stored[appt.id] is target


@pytest.mark.parametrize(("first", "then"), [(a, b) for a in ACTIONS for b in ACTIONS])
def test_no_change_after_a_final_status_and_nothing_is_stored(
    clinic: Any, protocol: Any, first: str, then: str
) -> None:
    """E.g. cancelling a performed session, recording on a cancelled one, marking it missed."""
    sign_treatment(clinic.db, clinic.patient.id)
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, _slots(clinic.alice.id))
    appt = booking.appointments[0]
    do_first, current = ACTIONS[first]
    do_then, target = ACTIONS[then]
    do_first(clinic, appt)
    before = _stored(clinic.db)
    with pytest.raises(StateError) as caught:
        do_then(clinic, appt)
    assert str(caught.value) == (
        f"appointment {appt.id} cannot change from {current.value} to {target.value} "
        f"(allowed from {current.value}: none)"
    )
    assert _stored(clinic.db) == before


def test_cancelling_a_course_cancels_only_its_booked_appointments(
    clinic: Any, protocol: Any
) -> None:
    sign_treatment(clinic.db, clinic.patient.id)
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, _slots(clinic.alice.id))
    first, second, third = booking.appointments
    _record(clinic, first)
    _missed(clinic, second)
    services.change_course_status(clinic.db, booking.course.id, CourseStatus.CANCELLED)
    stored = {
        a.id: a.status for a in services.course_file(clinic.db, booking.course.id).appointments
    }
    assert stored == {
        first.id: AppointmentStatus.PERFORMED,
        second.id: AppointmentStatus.MISSED,
        third.id: AppointmentStatus.CANCELLED,
    }

"""Appointment status changes (cancel, missed) and calendar queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from needleplan.domain.records import (
    Appointment,
    AppointmentStatus,
)
from needleplan.services._clock import aware
from needleplan.services.courses import renumber_courses
from needleplan.services.messaging import enqueue as messages
from needleplan.storage import Database
from needleplan.storage.repositories import CalendarItem

T = TypeVar("T")

#: Appointments that hold their practitioner's time (their slot claims are kept).
HOLDING = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.MISSED,
    AppointmentStatus.PERFORMED,
)


def cancel_appointment(db: Database, appointment_id: int, *, reason: str = "") -> Appointment:
    """Cancel a booked appointment and free the practitioner's time.

    Raises :class:`StateError` (nothing changed) unless the appointment is booked.
    """
    with db.transaction() as uow:
        uow.appointments.get(appointment_id, lock=True)
        appt = uow.appointments.set_status(
            appointment_id,
            AppointmentStatus.CANCELLED,
            note=f"cancelled: {reason.strip()}" if reason else "",
        )
        uow.appointments.release(appointment_id)
        uow.flush()
        if appt.course_id is not None:
            renumber_courses(uow, {appt.course_id})
        messages.notify_cancelled(uow, appointment_id)
        return uow.appointments.get(appointment_id)


def mark_missed(db: Database, appointment_id: int) -> Appointment:
    """Record that the patient did not come (the time stays taken; the session stays owed).

    Raises :class:`StateError` (nothing changed) unless the appointment is booked.
    """
    with db.transaction() as uow:
        uow.appointments.get(appointment_id, lock=True)
        return uow.appointments.set_status(appointment_id, AppointmentStatus.MISSED)


def appointments_between(
    db: Database,
    start: datetime,
    end: datetime,
    *,
    practitioner_id: int | None = None,
    statuses: Sequence[AppointmentStatus] = (AppointmentStatus.BOOKED,),
) -> list[Appointment]:
    """Appointments overlapping ``[start, end)`` (default: booked ones, i.e. busy times)."""
    with db.transaction() as uow:
        return uow.appointments.between(
            aware(start, "start"), aware(end, "end"), practitioner_id, statuses
        )


def calendar_window(
    db: Database,
    start: datetime,
    end: datetime,
    *,
    practitioner_id: int | None = None,
    statuses: Sequence[AppointmentStatus] = (AppointmentStatus.BOOKED,),
) -> list[CalendarItem]:
    """What a calendar shows for ``[start, end)``: the appointments (as
    :func:`appointments_between`) with the patient's name and contact, the course's planned
    session count and whether each was booked online, read in one query (a clinic group's
    week is a thousand appointments; docs/scale.md)."""
    with db.transaction() as uow:
        return uow.calendar.window(
            aware(start, "start"), aware(end, "end"), practitioner_id, statuses
        )


def get_appointment(db: Database, appointment_id: int) -> Appointment:
    """One appointment (``NotFoundError`` when there is none)."""
    with db.transaction() as uow:
        return uow.appointments.get(appointment_id)

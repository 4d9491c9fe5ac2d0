"""Future bookings a clinic calendar does not allow (a change to save, or the calendar in force).

Split out of :mod:`needleplan.services.clinic_calendar`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from needleplan.domain.records import Appointment, AppointmentStatus
from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.calendar import BusyIndex, slot_problem
from needleplan.services._clock import utc_now
from needleplan.storage import Database

#: How far ahead :func:`affected_appointments` looks [days] (booked appointments only).
_HORIZON_DAYS = 366 * 30


@dataclass(frozen=True)
class AffectedAppointment:
    """A future booked appointment a calendar does not allow, and why.

    ``already`` is True when the calendar in force refuses it too (the change does not cause it).
    """

    appointment: Appointment
    practitioner: str
    reason: str
    already: bool = False


def appointment_problem(
    clinic: ClinicConfig, practitioner: str, appointment: Appointment
) -> str | None:
    """Why ``clinic`` would not allow ``appointment`` with ``practitioner`` (a name), or None."""
    person = next((p for p in clinic.practitioners if p.name == practitioner), None)
    if person is None:
        return f"{practitioner} is not a practitioner in this calendar"
    minutes = max(1, round((appointment.end - appointment.start).total_seconds() / 60))
    return slot_problem(clinic, person, appointment.start, minutes, BusyIndex.build([]))


def affected_appointments(
    db: Database,
    new_clinic: ClinicConfig,
    now: datetime | None = None,
    *,
    current: ClinicConfig | None = None,
) -> list[AffectedAppointment]:
    """Booked appointments starting at or after ``now`` that ``new_clinic`` would not allow.

    Each is checked as a booking would be (:func:`~needleplan.scheduling.calendar.slot_problem`
    without the double-booking check): public holiday, clinic closure, clinic closed that
    weekday, practitioner's day off or not working that weekday, outside clinic or
    practitioner hours (wall clock in the new calendar's time zone), or a practitioner the new
    calendar does not list. With ``current`` (the calendar in force) each is marked ``already``
    when ``current`` refuses it too. Soonest first.
    """
    start = now if now is not None else utc_now()
    if start.tzinfo is None or start.utcoffset() is None:
        raise InputError.one("now", start.isoformat(), "must be timezone-aware")
    with db.transaction() as uow:
        names = {p.id: p.name for p in uow.clinics.practitioners()}
        booked = uow.appointments.between(
            start, start + timedelta(days=_HORIZON_DAYS), None, (AppointmentStatus.BOOKED,)
        )
    out: list[AffectedAppointment] = []
    for appointment in booked:
        if appointment.start < start:
            continue  # already under way
        name = names.get(appointment.practitioner_id, f"practitioner {appointment.practitioner_id}")
        reason = appointment_problem(new_clinic, name, appointment)
        if reason is None:
            continue
        already = (
            current is not None and appointment_problem(current, name, appointment) is not None
        )
        out.append(AffectedAppointment(appointment, name, reason, already))
    return out


def new_conflicts(affected: Sequence[AffectedAppointment]) -> list[AffectedAppointment]:
    """The affected appointments the change itself causes (not refused already)."""
    return [a for a in affected if not a.already]

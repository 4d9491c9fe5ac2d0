"""The visit's wall-clock rules: when a visit may be checked in, charted, marked a no-show, and
whether a cancellation is late.

Pure functions of an appointment, the clinic's "now" and the clinic's :class:`VisitRules`; the
status transitions themselves are :class:`~needleplan.domain.records.AppointmentStatus`'s.

* check in and chart: not before ``start - early_check_in`` (she may arrive a little early);
* no-show: not before ``start`` (nobody is missing before the visit begins);
* a cancellation is *late* when made after ``start - notice`` (inside the notice period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from needleplan.domain.records import Appointment
from needleplan.exceptions import InputError

#: Defaults when the clinic's settings name none (see ``ClinicConfig``).
DEFAULT_CHECK_IN_WINDOW = timedelta(minutes=30)
DEFAULT_CANCELLATION_NOTICE = timedelta(hours=24)


@dataclass(frozen=True)
class VisitRules:
    """How early a visit may be checked in or charted, and the notice a cancellation needs."""

    early_check_in: timedelta = DEFAULT_CHECK_IN_WINDOW
    notice: timedelta = DEFAULT_CANCELLATION_NOTICE

    def __post_init__(self) -> None:
        if self.early_check_in < timedelta(0) or self.notice < timedelta(0):
            raise ValueError("the check-in window and the notice period must not be negative")

    def opens_at(self, appointment: Appointment) -> datetime:
        """The first moment the visit may be checked in or charted."""
        return appointment.start - self.early_check_in

    def require_open(self, appointment: Appointment, now: datetime, action: str) -> None:
        """Raise :class:`InputError` (field ``start``) when ``action`` (check in, chart) comes
        too early: the request is refused for its timing, not for the appointment's state."""
        opens = self.opens_at(appointment)
        if now < opens:
            minutes = int(self.early_check_in.total_seconds() // 60)
            raise InputError.one(
                "start",
                appointment.start.isoformat(),
                f"appointment {appointment.id} cannot be {action} before {opens.isoformat()} "
                f"(the clinic allows {minutes} min before the start)",
            )

    def require_started(self, appointment: Appointment, now: datetime) -> None:
        """Raise :class:`InputError` (field ``start``) for a no-show before the visit's start."""
        if now < appointment.start:
            raise InputError.one(
                "start",
                appointment.start.isoformat(),
                f"appointment {appointment.id} cannot be marked a no-show before it has started",
            )

    def is_late(self, appointment: Appointment, now: datetime) -> bool:
        """Whether cancelling at ``now`` falls inside the notice period (or after the start)."""
        return now > appointment.start - self.notice


__all__ = [
    "DEFAULT_CANCELLATION_NOTICE",
    "DEFAULT_CHECK_IN_WINDOW",
    "VisitRules",
]

"""The visit's own facts on an appointment row: check-in time, cancellation reason and lateness,
and the queries behind the "chart missing" list (migration 0007) and the lot search."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    PerformedSession,
)
from needleplan.exceptions import NotFoundError
from needleplan.storage.repositories.courses import to_appointment, to_session
from needleplan.storage.tables import AppointmentRow, PerformedSessionRow

#: Visits that are charted as a performed session (a consultation or review is not).
CHARTED_KINDS = (AppointmentKind.TREATMENT.value, AppointmentKind.MAINTENANCE.value)


class VisitRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, appointment_id: int, *, lock: bool = False) -> AppointmentRow:
        row = self.session.get(AppointmentRow, appointment_id, with_for_update=lock)
        if row is None:
            raise NotFoundError(f"appointment {appointment_id} not found")
        return row

    def check_in(self, appointment_id: int, at: datetime) -> Appointment:
        """Booked -> arrived (the domain's transition, else :class:`StateError`) at ``at``; the
        appointment is locked for the change."""
        row = self._row(appointment_id, lock=True)
        AppointmentStatus(row.status).require(AppointmentStatus.ARRIVED, appointment_id=row.id)
        row.status = AppointmentStatus.ARRIVED.value
        row.arrived_at = at
        self.session.flush()
        return to_appointment(row)

    def note_cancellation(self, appointment_id: int, reason: str, late: bool) -> Appointment:
        """Keep why a (just cancelled) appointment was cancelled and whether it was late."""
        row = self._row(appointment_id)
        row.cancel_reason = reason
        row.cancelled_late = late
        self.session.flush()
        return to_appointment(row)

    def chart_missing(
        self, now: datetime, since: datetime, practitioner_id: int | None = None
    ) -> list[Appointment]:
        """Session visits that ended between ``since`` and ``now`` and are still booked or
        arrived: neither charted nor cancelled nor a no-show. Oldest first."""
        stmt = select(AppointmentRow).where(
            AppointmentRow.end_at <= now,
            AppointmentRow.end_at > since,
            AppointmentRow.status.in_(
                [AppointmentStatus.BOOKED.value, AppointmentStatus.ARRIVED.value]
            ),
            AppointmentRow.kind.in_(CHARTED_KINDS),
        )
        if practitioner_id is not None:
            stmt = stmt.where(AppointmentRow.practitioner_id == practitioner_id)
        rows = self.session.execute(stmt.order_by(AppointmentRow.start_at, AppointmentRow.id))
        return [to_appointment(r) for r in rows.scalars()]

    def sessions_with_lot(self, lot: str, limit: int) -> list[PerformedSession]:
        """Performed sessions that used this product lot (exact, case-insensitive), newest
        first, at most ``limit``."""
        rows = self.session.execute(
            select(PerformedSessionRow)
            .where(func.lower(PerformedSessionRow.lot) == lot.lower())
            .order_by(PerformedSessionRow.performed_at.desc(), PerformedSessionRow.id.desc())
            .limit(limit)
        )
        return [to_session(r) for r in rows.scalars()]

"""The waitlist: patients who want an earlier slot for a visit kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import WaitlistRow


@dataclass(frozen=True)
class WaitlistEntry:
    """One wish for an earlier slot (``practitioner_id`` None: anyone; open while
    ``closed_at`` is None)."""

    id: int
    patient_id: int
    kind: str
    practitioner_id: int | None
    not_before: date | None
    note: str
    created_at: datetime
    closed_at: datetime | None
    closed_reason: str


def _entry(row: WaitlistRow) -> WaitlistEntry:
    return WaitlistEntry(
        row.id,
        row.patient_id,
        row.kind,
        row.practitioner_id,
        row.not_before,
        row.note,
        row.created_at,
        row.closed_at,
        row.closed_reason,
    )


class WaitlistRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        kind: str,
        practitioner_id: int | None,
        not_before: date | None,
        note: str,
        at: datetime,
    ) -> WaitlistEntry:
        row = WaitlistRow(
            patient_id=patient_id,
            kind=kind,
            practitioner_id=practitioner_id,
            not_before=not_before,
            note=note,
            created_at=at,
            closed_reason="",
        )
        self.session.add(row)
        self.session.flush()
        return _entry(row)

    def get(self, entry_id: int) -> WaitlistEntry:
        row = self.session.get(WaitlistRow, entry_id)
        if row is None:
            raise NotFoundError(f"waitlist entry {entry_id} not found")
        return _entry(row)

    def open_entries(self, kind: str | None = None) -> list[WaitlistEntry]:
        """Open entries, oldest first (who asked first is offered first)."""
        query = select(WaitlistRow).where(WaitlistRow.closed_at.is_(None))
        if kind is not None:
            query = query.where(WaitlistRow.kind == kind)
        rows = self.session.execute(query.order_by(WaitlistRow.created_at, WaitlistRow.id))
        return [_entry(r) for r in rows.scalars()]

    def close(self, entry_id: int, at: datetime, reason: str) -> WaitlistEntry:
        row = self.session.get(WaitlistRow, entry_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"waitlist entry {entry_id} not found")
        if row.closed_at is None:
            row.closed_at = at
            row.closed_reason = reason
            self.session.flush()
        return _entry(row)

    def close_for_patient(self, patient_id: int, kind: str, at: datetime, reason: str) -> int:
        """Close her open entries of ``kind`` (she booked); how many were open."""
        rows = self.session.execute(
            select(WaitlistRow).where(
                WaitlistRow.patient_id == patient_id,
                WaitlistRow.kind == kind,
                WaitlistRow.closed_at.is_(None),
            )
        ).scalars()
        count = 0
        for row in rows:
            row.closed_at, row.closed_reason = at, reason
            count += 1
        self.session.flush()
        return count

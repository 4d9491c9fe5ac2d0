"""The recall worklist: entries and their contact attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    RecallEntry,
    RecallStatus,
)
from needleplan.storage.repositories._common import get_row, keep
from needleplan.storage.tables import (
    ContactAttemptRow,
    RecallRow,
)


def to_attempt(row: ContactAttemptRow) -> ContactAttempt:
    return ContactAttempt(
        id=row.id,
        recall_id=row.recall_id,
        at=row.at,
        channel=ContactChannel(row.channel),
        outcome=ContactOutcome(row.outcome),
        note=row.note,
        by_user_id=row.by_user_id,
    )


def to_recall(row: RecallRow, attempts: Sequence[ContactAttemptRow] = ()) -> RecallEntry:
    return RecallEntry(
        id=row.id,
        patient_id=row.patient_id,
        course_id=row.course_id,
        due_date=row.due_date,
        reason=row.reason,
        status=RecallStatus(row.status),
        created_at=row.created_at,
        closed_at=row.closed_at,
        attempts=[to_attempt(a) for a in attempts],
    )


class RecallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, patient_id: int, course_id: int | None, due: date, reason: str, at: datetime
    ) -> RecallEntry:
        row = RecallRow(
            patient_id=patient_id,
            course_id=course_id,
            due_date=due,
            reason=reason,
            status=RecallStatus.OPEN.value,
            created_at=at,
            closed_at=None,
        )
        self.session.add(keep(self.session, row))
        self.session.flush()
        return to_recall(row)

    def _row(self, recall_id: int, *, lock: bool = False) -> RecallRow:
        row: RecallRow = get_row(self.session, RecallRow, recall_id, "recall entry", lock=lock)
        return row

    def get(self, recall_id: int, *, lock: bool = False) -> RecallEntry:
        """The entry with its contact attempts; ``lock`` holds its row to the commit."""
        row = self._row(recall_id, lock=lock)
        return to_recall(row, self._attempts([row.id]).get(row.id, []))

    def close(self, recall_id: int, status: RecallStatus, at: datetime) -> RecallEntry:
        """Close the entry with ``status`` (booked, opted out, closed) at ``at``."""
        row = self._row(recall_id)
        row.status = status.value
        row.closed_at = at
        self.session.flush()
        return self.get(recall_id)

    def close_open_for_patient(
        self, patient_id: int, status: RecallStatus, at: datetime
    ) -> list[int]:
        """Close every open entry of the patient with ``status``; the ids closed."""
        rows = list(
            self.session.execute(
                select(RecallRow)
                .where(
                    RecallRow.patient_id == patient_id, RecallRow.status == RecallStatus.OPEN.value
                )
                .order_by(RecallRow.id)
            ).scalars()
        )
        for row in rows:
            row.status = status.value
            row.closed_at = at
        return [r.id for r in rows]

    def query(
        self,
        *,
        due_by: date | None = None,
        statuses: Sequence[RecallStatus] = (RecallStatus.OPEN,),
        patient_id: int | None = None,
    ) -> list[RecallEntry]:
        stmt = select(RecallRow).where(RecallRow.status.in_([s.value for s in statuses]))
        if due_by is not None:
            stmt = stmt.where(RecallRow.due_date <= due_by)
        if patient_id is not None:
            stmt = stmt.where(RecallRow.patient_id == patient_id)
        rows = list(self.session.execute(stmt.order_by(RecallRow.due_date, RecallRow.id)).scalars())
        attempts = self._attempts([r.id for r in rows])
        return [to_recall(r, attempts.get(r.id, [])) for r in rows]

    def _attempts(self, recall_ids: Sequence[int]) -> dict[int, list[ContactAttemptRow]]:
        out: dict[int, list[ContactAttemptRow]] = {}
        for i in range(0, len(recall_ids), 500):
            chunk = list(recall_ids[i : i + 500])
            rows = self.session.execute(
                select(ContactAttemptRow)
                .where(ContactAttemptRow.recall_id.in_(chunk))
                .order_by(ContactAttemptRow.at, ContactAttemptRow.id)
            ).scalars()
            for r in rows:
                out.setdefault(r.recall_id, []).append(r)
        return out

    def add_attempt(
        self,
        recall_id: int,
        at: datetime,
        channel: ContactChannel,
        outcome: ContactOutcome,
        note: str,
        by_user_id: int | None,
    ) -> ContactAttempt:
        row = ContactAttemptRow(
            recall_id=recall_id,
            at=at,
            channel=channel.value,
            outcome=outcome.value,
            note=note,
            by_user_id=by_user_id,
        )
        self.session.add(row)
        self.session.flush()
        return to_attempt(row)

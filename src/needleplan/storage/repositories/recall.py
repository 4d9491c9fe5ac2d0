"""The recall worklist: entries and their contact attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    RecallEntry,
    RecallStatus,
)
from needleplan.storage.repositories._common import get_row, keep
from needleplan.storage.repositories.patients import PatientFinder
from needleplan.storage.tables import (
    ContactAttemptRow,
    PatientRow,
    RecallCloseReasonRow,
    RecallRow,
)

#: Orders of the worklist page: name -> the columns it sorts by.
WORKLIST_ORDERS = ("due", "-due", "name", "-name", "closed")


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


def to_recall(
    row: RecallRow, attempts: Sequence[ContactAttemptRow] = (), close_reason: str = ""
) -> RecallEntry:
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
        close_reason=close_reason,
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
        return self._entries([row])[0]

    def close(
        self, recall_id: int, status: RecallStatus, at: datetime, reason: str = ""
    ) -> RecallEntry:
        """Close the entry with ``status`` (booked, opted out, closed) at ``at``, and why."""
        row = self._row(recall_id)
        row.status = status.value
        row.closed_at = at
        if reason:
            self.session.add(RecallCloseReasonRow(recall_id=recall_id, reason=reason[:200]))
        self.session.flush()
        return self.get(recall_id)

    def _entries(self, rows: Sequence[RecallRow]) -> list[RecallEntry]:
        ids = [r.id for r in rows]
        attempts = self._attempts(ids)
        reasons: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for rid, reason in self.session.execute(
                select(RecallCloseReasonRow.recall_id, RecallCloseReasonRow.reason).where(
                    RecallCloseReasonRow.recall_id.in_(chunk)
                )
            ).all():
                reasons[rid] = reason
        return [to_recall(r, attempts.get(r.id, []), reasons.get(r.id, "")) for r in rows]

    def worklist(
        self,
        *,
        statuses: Sequence[RecallStatus],
        due_from: date | None = None,
        due_to: date | None = None,
        search: str = "",
        order: str = "due",
        limit: int = 25,
        offset: int = 0,
    ) -> tuple[list[RecallEntry], int]:
        """One page of the worklist and how many entries match in all (one count, one page
        query). ``search`` finds patients as the patient list does (name words, date of birth,
        record number, phone digits, id)."""
        where: list[ColumnElement[bool]] = [RecallRow.status.in_([s.value for s in statuses])]
        if due_from is not None:
            where.append(RecallRow.due_date >= due_from)
        if due_to is not None:
            where.append(RecallRow.due_date <= due_to)
        found = PatientFinder(self.session)._where(search)
        where.extend(found)
        base = select(RecallRow)
        if found or order in ("name", "-name"):
            # Only a search or the order by name needs her row; without them the count and
            # the page are read from the recall entries' indexes alone (docs/scale.md).
            base = base.join(PatientRow, PatientRow.id == RecallRow.patient_id)
        base = base.where(and_(*where))
        total = self.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        sort = {
            "due": (RecallRow.due_date, RecallRow.id),
            "-due": (RecallRow.due_date.desc(), RecallRow.id.desc()),
            "name": (PatientRow.family_name, PatientRow.given_name, RecallRow.id),
            "-name": (PatientRow.family_name.desc(), PatientRow.given_name.desc(), RecallRow.id),
            "closed": (RecallRow.closed_at.desc(), RecallRow.id.desc()),
        }[order]
        rows = list(
            self.session.execute(base.order_by(*sort).limit(limit).offset(offset)).scalars()
        )
        return self._entries(rows), int(total)

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
        return self._entries(rows)

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

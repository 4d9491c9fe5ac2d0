"""The outbox: messages written with their cause, claimed and delivered by the worker.

Claiming is the only concurrent part. On PostgreSQL a worker selects due rows ``FOR UPDATE SKIP
LOCKED`` (another worker's rows are skipped, not waited for) and stamps its lease in the same
transaction. On SQLite one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n)`` takes the write lock
for the whole statement, so two workers cannot stamp the same row either. An expired lease (a
worker killed mid-send) makes the row claimable again; the stable Message-ID lets the receiver
drop the second copy.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from needleplan.domain.messages import (
    Attachment,
    Channel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
)
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import MessageOptOutRow, OutboxRow


def _attachments(raw: Sequence[Any]) -> list[Attachment]:
    return [
        Attachment(a["filename"], a["content_type"], base64.b64decode(a["content"])) for a in raw
    ]


def to_message(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        kind=MessageKind(row.kind),
        patient_id=row.patient_id,
        recall_id=row.recall_id,
        payload=dict(row.payload or {}),
        status=MessageStatus(row.status),
        created_at=row.created_at,
        due_at=row.due_at,
        attempts=row.attempts,
        channel=Channel(row.channel) if row.channel else None,
        recipient=row.recipient,
        message_id=row.message_id,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        attachments=_attachments(row.attachments or []),
        last_error=row.last_error,
        sent_at=row.sent_at,
        resent_from=row.resent_from,
        dedupe_key=row.dedupe_key,
    )


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        kind: MessageKind,
        at: datetime,
        *,
        patient_id: int | None = None,
        recall_id: int | None = None,
        payload: dict[str, Any] | None = None,
        due_at: datetime | None = None,
        dedupe_key: str | None = None,
        resent_from: int | None = None,
    ) -> OutboxMessage:
        row = OutboxRow(
            kind=kind.value,
            patient_id=patient_id,
            recall_id=recall_id,
            payload=payload or {},
            dedupe_key=dedupe_key,
            status=MessageStatus.QUEUED.value,
            created_at=at,
            due_at=due_at or at,
            attempts=0,
            attachments=[],
            last_error="",
            resent_from=resent_from,
        )
        self.session.add(row)
        self.session.flush()
        return to_message(row)

    def has_key(self, dedupe_key: str) -> bool:
        found = self.session.execute(
            select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key)
        ).first()
        return found is not None

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are already planned (one query per 500 keys)."""
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            found.update(
                k
                for k in self.session.scalars(
                    select(OutboxRow.dedupe_key).where(OutboxRow.dedupe_key.in_(chunk))
                )
                if k is not None
            )
        return found

    def by_key(self, dedupe_key: str) -> OutboxMessage | None:
        row = self.session.execute(
            select(OutboxRow).where(OutboxRow.dedupe_key == dedupe_key)
        ).scalar_one_or_none()
        return to_message(row) if row is not None else None

    def _row(self, message_id: int) -> OutboxRow:
        row = self.session.get(OutboxRow, message_id)
        if row is None:
            raise NotFoundError(f"message {message_id} does not exist")
        return row

    def get(self, message_id: int) -> OutboxMessage:
        return to_message(self._row(message_id))

    def for_patient(self, patient_id: int, limit: int = 200) -> list[OutboxMessage]:
        rows = self.session.execute(
            select(OutboxRow)
            .where(OutboxRow.patient_id == patient_id)
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        ).scalars()
        return [to_message(r) for r in rows]

    def for_recall(self, recall_id: int) -> list[OutboxMessage]:
        rows = self.session.execute(
            select(OutboxRow).where(OutboxRow.recall_id == recall_id).order_by(OutboxRow.id)
        ).scalars()
        return [to_message(r) for r in rows]

    def claim(self, now: datetime, worker: str, lease_until: datetime, limit: int) -> list[int]:
        """Lease up to ``limit`` due, unleased (or lease-expired) queued messages to ``worker``."""
        due = and_(
            OutboxRow.status == MessageStatus.QUEUED.value,
            OutboxRow.due_at <= now,
            or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
        )
        pick = select(OutboxRow.id).where(due).order_by(OutboxRow.due_at, OutboxRow.id).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            ids = list(self.session.scalars(pick.with_for_update(skip_locked=True)))
            if not ids:
                return []
            self.session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids))
                .values(lease_until=lease_until, leased_by=worker)
            )
            return sorted(ids)
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(pick.scalar_subquery()), due)
            .values(lease_until=lease_until, leased_by=worker)
            .execution_options(synchronize_session=False)
        )
        return list(
            self.session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.leased_by == worker, OutboxRow.lease_until == lease_until)
                .order_by(OutboxRow.id)
            )
        )

    def holds_lease(self, message_id: int, worker: str) -> bool:
        row = self._row(message_id)
        return row.leased_by == worker and row.status == MessageStatus.QUEUED.value

    def set_rendered(
        self,
        message_id: int,
        *,
        channel: Channel,
        recipient: str,
        message_id_header: str,
        subject: str,
        body_text: str,
        body_html: str | None,
        attachments: Sequence[Attachment],
        unsubscribe_digest: str | None,
    ) -> OutboxMessage:
        row = self._row(message_id)
        row.channel = channel.value
        row.recipient = recipient
        row.message_id = message_id_header
        row.subject = subject
        row.body_text = body_text
        row.body_html = body_html
        row.attachments = [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "content": base64.b64encode(a.content).decode("ascii"),
            }
            for a in attachments
        ]
        row.unsubscribe_digest = unsubscribe_digest
        self.session.flush()
        return to_message(row)

    def finish(
        self,
        message_id: int,
        status: MessageStatus,
        at: datetime,
        *,
        error: str = "",
        attempted: bool = True,
    ) -> OutboxMessage:
        """Record the outcome: sent, failed or skipped (the lease ends)."""
        row = self._row(message_id)
        row.status = status.value
        row.attempts += 1 if attempted else 0
        row.lease_until = None
        row.leased_by = None
        row.last_error = error[:2000]
        if status is MessageStatus.SENT:
            row.sent_at = at
        self.session.flush()
        return to_message(row)

    def retry_at(self, message_id: int, due_at: datetime, error: str) -> OutboxMessage:
        """One more failed attempt: queued again for ``due_at`` (the lease ends)."""
        row = self._row(message_id)
        row.attempts += 1
        row.due_at = due_at
        row.lease_until = None
        row.leased_by = None
        row.last_error = error[:2000]
        self.session.flush()
        return to_message(row)

    def defer(self, message_id: int, due_at: datetime) -> None:
        """Not now (quiet hours): queued again for ``due_at`` without counting an attempt."""
        row = self._row(message_id)
        row.due_at = due_at
        row.lease_until = None
        row.leased_by = None
        self.session.flush()

    def by_unsubscribe_digest(self, digest: str) -> OutboxMessage | None:
        row = self.session.execute(
            select(OutboxRow).where(OutboxRow.unsubscribe_digest == digest)
        ).scalar_one_or_none()
        return to_message(row) if row is not None else None

    def opted_out(self, patient_id: int) -> datetime | None:
        row = self.session.get(MessageOptOutRow, patient_id)
        return row.at if row is not None else None

    def opt_out(self, patient_id: int, at: datetime, source: str) -> bool:
        """Record her opt-out (True when it is new)."""
        if self.session.get(MessageOptOutRow, patient_id) is not None:
            return False
        self.session.add(MessageOptOutRow(patient_id=patient_id, at=at, source=source[:40]))
        self.session.flush()
        return True

    def opt_in(self, patient_id: int) -> None:
        self.session.execute(
            delete(MessageOptOutRow).where(MessageOptOutRow.patient_id == patient_id)
        )

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(select(OutboxRow.status)).scalars()
        out: dict[str, int] = {}
        for status in rows:
            out[status] = out.get(status, 0) + 1
        return out

    def oldest_due(self, now: datetime) -> datetime | None:
        """The due time of the oldest queued message that is due at ``now`` (worker lag)."""
        query = select(func.min(OutboxRow.due_at)).where(
            OutboxRow.status == "queued", OutboxRow.due_at <= now
        )
        value: datetime | None = self.session.scalar(query)
        return value

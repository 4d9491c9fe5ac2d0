"""Idempotency keys: the first answer to a keyed booking request, replayed for its repeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from needleplan.storage.tables import IdempotencyKeyRow


@dataclass(frozen=True)
class StoredAnswer:
    """What a key holds: the answer's status and body, or ``status None`` while in progress."""

    created_at: datetime
    status: int | None
    body: dict[str, Any]


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, scope: str, key: str) -> StoredAnswer | None:
        row = self.session.get(IdempotencyKeyRow, (scope, key))
        if row is None:
            return None
        return StoredAnswer(row.created_at, row.status, dict(row.body))

    def claim(self, scope: str, key: str, at: datetime) -> bool:
        """Take the key for a request about to run; False when it is taken already."""
        try:
            with self.session.begin_nested():
                self.session.add(IdempotencyKeyRow(scope=scope, key=key, created_at=at, body={}))
        except IntegrityError:
            return False
        return True

    def answer(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        row = self.session.get(IdempotencyKeyRow, (scope, key))
        if row is not None:
            row.status = status
            row.body = body
            self.session.flush()

    def release(self, scope: str, key: str) -> None:
        self.session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key
            )
        )

    def forget_before(self, cutoff: datetime) -> int:
        rows = self.session.execute(
            select(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < cutoff)
        ).scalars()
        n = 0
        for row in rows:
            self.session.delete(row)
            n += 1
        return n

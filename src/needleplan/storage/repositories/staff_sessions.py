"""Queries over ``staff_sessions``: the server-side record of signed-in browsers.

A row holds the SHA-256 digest of the random token in the browser's cookie (never the token), its
user, when it started, when it was last seen, its absolute expiry and, once ended, ``revoked_at``.
A session is *live* while it is not revoked, not expired, seen recently enough (the idle cut-off
the caller computes) and its user is active. Like the other repositories this one works inside
the caller's transaction and never commits; callers get :class:`StaffSessionInfo`, never rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Result, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from needleplan.storage.tables import StaffSessionRow, UserRow

#: The longest user agent kept (the column's size); longer ones are cut.
USER_AGENT_MAX = 200


@dataclass(frozen=True)
class StaffSessionInfo:
    """One stored session (without its digest)."""

    id: int
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_agent: str


def _info(row: StaffSessionRow) -> StaffSessionInfo:
    return StaffSessionInfo(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        user_agent=row.user_agent,
    )


def _count(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed."""
    return int(cast(CursorResult[Any], result).rowcount)


def _live(now: datetime, idle_cutoff: datetime) -> ColumnElement[bool]:
    """Not revoked, not expired, seen after ``idle_cutoff``, and its user still active."""
    return and_(
        StaffSessionRow.revoked_at.is_(None),
        StaffSessionRow.expires_at > now,
        StaffSessionRow.last_seen_at > idle_cutoff,
        UserRow.active.is_(True),
    )


class StaffSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, user_id: int, digest: str, at: datetime, expires_at: datetime, user_agent: str
    ) -> StaffSessionInfo:
        row = StaffSessionRow(
            digest=digest,
            user_id=user_id,
            created_at=at,
            last_seen_at=at,
            expires_at=expires_at,
            revoked_at=None,
            user_agent=user_agent[:USER_AGENT_MAX],
        )
        self.session.add(row)
        self.session.flush()
        return _info(row)

    def live_by_digest(
        self, digest: str, now: datetime, idle_cutoff: datetime
    ) -> StaffSessionInfo | None:
        stmt = (
            select(StaffSessionRow)
            .join(UserRow, UserRow.id == StaffSessionRow.user_id)
            .where(StaffSessionRow.digest == digest, _live(now, idle_cutoff))
        )
        row = self.session.execute(stmt).scalar()
        return _info(row) if row is not None else None

    def touch(self, session_id: int, at: datetime) -> None:
        """Record that the session was used at ``at`` (never moves ``last_seen_at`` back)."""
        self.session.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.id == session_id, StaffSessionRow.last_seen_at < at)
            .values(last_seen_at=at)
        )

    def revoke_digest(self, digest: str, at: datetime) -> int:
        """End the session with this digest; how many were ended (0 or 1)."""
        result = self.session.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.digest == digest, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return _count(result)

    def revoke_user(
        self, user_id: int, at: datetime, idle_cutoff: datetime, *, keep_id: int | None = None
    ) -> int:
        """End every live session of ``user_id`` except ``keep_id``; how many were ended.

        Whether the user is still active does not matter (closing an account ends its sessions
        after it was closed). Expired and idle sessions are left as they are: they can never be
        used again and are purged later.
        """
        stmt = update(StaffSessionRow).where(
            StaffSessionRow.user_id == user_id,
            StaffSessionRow.revoked_at.is_(None),
            StaffSessionRow.expires_at > at,
            StaffSessionRow.last_seen_at > idle_cutoff,
        )
        if keep_id is not None:
            stmt = stmt.where(StaffSessionRow.id != keep_id)
        return _count(self.session.execute(stmt.values(revoked_at=at)))

    def live_for_user(
        self, user_id: int, now: datetime, idle_cutoff: datetime
    ) -> list[StaffSessionInfo]:
        """The user's live sessions, most recently used first."""
        stmt = (
            select(StaffSessionRow)
            .join(UserRow, UserRow.id == StaffSessionRow.user_id)
            .where(StaffSessionRow.user_id == user_id, _live(now, idle_cutoff))
            .order_by(StaffSessionRow.last_seen_at.desc(), StaffSessionRow.id.desc())
        )
        return [_info(r) for r in self.session.execute(stmt).scalars()]

    def live_counts(self, now: datetime, idle_cutoff: datetime) -> dict[int, int]:
        """How many live sessions each user has (users without any are left out)."""
        stmt = (
            select(StaffSessionRow.user_id, func.count())
            .join(UserRow, UserRow.id == StaffSessionRow.user_id)
            .where(_live(now, idle_cutoff))
            .group_by(StaffSessionRow.user_id)
        )
        return {int(user_id): int(n) for user_id, n in self.session.execute(stmt).all()}

    def purge(self, now: datetime, idle_cutoff: datetime) -> int:
        """Delete every revoked, expired or idle session; how many rows went."""
        result = self.session.execute(
            delete(StaffSessionRow).where(
                or_(
                    StaffSessionRow.revoked_at.is_not(None),
                    StaffSessionRow.expires_at <= now,
                    StaffSessionRow.last_seen_at <= idle_cutoff,
                )
            )
        )
        return _count(result)


__all__ = ["USER_AGENT_MAX", "StaffSessionInfo", "StaffSessionRepository"]

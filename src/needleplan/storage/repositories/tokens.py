"""Integration (API) tokens: stored as digests, listed without the secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.records import User
from needleplan.storage.repositories._common import get_row
from needleplan.storage.repositories.users import to_user
from needleplan.storage.tables import (
    ApiTokenRow,
    UserRow,
)


@dataclass(frozen=True)
class ApiTokenInfo:
    """An integration token as listed to an admin (never the token itself)."""

    id: int
    user_id: int
    username: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _info(self, row: ApiTokenRow) -> ApiTokenInfo:
        user = get_row(self.session, UserRow, row.user_id, "user")
        return ApiTokenInfo(
            id=row.id,
            user_id=row.user_id,
            username=user.username,
            label=row.label,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )

    def add(self, user_id: int, digest: str, label: str, at: datetime) -> ApiTokenInfo:
        row = ApiTokenRow(user_id=user_id, digest=digest, label=label, created_at=at)
        self.session.add(row)
        self.session.flush()
        return self._info(row)

    def owner(self, digest: str) -> User | None:
        """The active user owning the unrevoked token with this digest, or None."""
        stmt = (
            select(UserRow)
            .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
            .where(
                ApiTokenRow.digest == digest,
                ApiTokenRow.revoked_at.is_(None),
                UserRow.active.is_(True),
            )
        )
        row = self.session.execute(stmt).scalar()
        return to_user(row) if row is not None else None

    def revoke(self, token_id: int, at: datetime) -> ApiTokenInfo:
        row: ApiTokenRow = get_row(self.session, ApiTokenRow, token_id, "api token")
        if row.revoked_at is None:
            row.revoked_at = at
            self.session.flush()
        return self._info(row)

    def all(self, user_id: int | None = None) -> list[ApiTokenInfo]:
        stmt = select(ApiTokenRow).order_by(ApiTokenRow.id)
        if user_id is not None:
            stmt = stmt.where(ApiTokenRow.user_id == user_id)
        return [self._info(r) for r in self.session.execute(stmt).scalars()]

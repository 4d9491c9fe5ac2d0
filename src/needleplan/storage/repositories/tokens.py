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
    scope: str
    expires_at: datetime
    issued_by: str | None  # the issuer's user name (None for tokens from before migration 0013)

    @property
    def active(self) -> bool:
        """Not revoked (whether it has expired depends on the time: see :meth:`usable`)."""
        return self.revoked_at is None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class ApiTokenGrant:
    """What a presented token grants: the acting account (``via_token`` set) and the scope."""

    user: User
    token_id: int
    scope: str


class ApiTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _info(self, row: ApiTokenRow) -> ApiTokenInfo:
        user = get_row(self.session, UserRow, row.user_id, "user")
        issuer = (
            get_row(self.session, UserRow, row.issued_by, "user").username
            if row.issued_by is not None
            else None
        )
        return ApiTokenInfo(
            id=row.id,
            user_id=row.user_id,
            username=user.username,
            label=row.label,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            scope=row.scope,
            expires_at=row.expires_at,
            issued_by=issuer,
        )

    def add(
        self,
        user_id: int,
        digest: str,
        label: str,
        at: datetime,
        *,
        scope: str,
        expires_at: datetime,
        issued_by: int | None,
    ) -> ApiTokenInfo:
        row = ApiTokenRow(
            user_id=user_id,
            digest=digest,
            label=label,
            created_at=at,
            scope=scope,
            expires_at=expires_at,
            issued_by=issued_by,
        )
        self.session.add(row)
        self.session.flush()
        return self._info(row)

    def get(self, token_id: int) -> ApiTokenInfo:
        return self._info(get_row(self.session, ApiTokenRow, token_id, "api token"))

    def grant(self, digest: str, now: datetime) -> ApiTokenGrant | None:
        """What the unrevoked, unexpired token with this digest of an active user grants."""
        stmt = (
            select(UserRow, ApiTokenRow)
            .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
            .where(
                ApiTokenRow.digest == digest,
                ApiTokenRow.revoked_at.is_(None),
                ApiTokenRow.expires_at > now,
                UserRow.active.is_(True),
            )
        )
        found = self.session.execute(stmt).first()
        if found is None:
            return None
        user_row, token_row = found
        user = to_user(user_row).model_copy(update={"via_token": token_row.id})
        return ApiTokenGrant(user=user, token_id=token_row.id, scope=token_row.scope)

    def revoke_all(self, user_id: int, at: datetime) -> list[int]:
        """Revoke every live token of ``user_id`` (its password changed, or it was closed)."""
        rows = self.session.execute(
            select(ApiTokenRow).where(
                ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None)
            )
        ).scalars()
        ended = []
        for row in rows:
            row.revoked_at = at
            ended.append(row.id)
        self.session.flush()
        return ended

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

"""Account security (second factor, recovery codes, forced password change), clinic-wide
settings and worker heartbeats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from needleplan.storage.secret_key import LazyKey, seal, unseal
from needleplan.storage.tables import (
    AccountSecurityRow,
    RecoveryCodeRow,
    SiteSettingRow,
    WorkerHeartbeatRow,
)


@dataclass(frozen=True)
class AccountSecurity:
    """An account's second-factor and password state (no row: nothing enrolled, no reset)."""

    user_id: int
    totp_secret: str | None = None
    totp_pending: str | None = None
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None
    must_change_password: bool = False

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None


#: The columns kept sealed with the server's key (:mod:`needleplan.storage.secret_key`).
SEALED = ("totp_secret", "totp_pending")


def sealing_context(column: str, user_id: int) -> str:
    """The associated data a sealed column value is bound to (its column and account)."""
    return f"account_security.{column}:{user_id}"


def _open(key: Callable[[], bytes], row: AccountSecurityRow, column: str) -> str | None:
    value: str | None = getattr(row, column)
    return None if value is None else unseal(key(), value, sealing_context(column, row.user_id))


def _to_security(row: AccountSecurityRow, key: Callable[[], bytes]) -> AccountSecurity:
    return AccountSecurity(
        user_id=row.user_id,
        totp_secret=_open(key, row, "totp_secret"),
        totp_pending=_open(key, row, "totp_pending"),
        totp_enabled_at=row.totp_enabled_at,
        totp_last_step=row.totp_last_step,
        must_change_password=row.must_change_password,
    )


class AccountSecurityRepository:
    """The TOTP secrets are sealed on the way in and opened on the way out with the server's
    key (:func:`needleplan.storage.secret_key.server_key`); callers see plain values."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.key = LazyKey(session)

    def get(self, user_id: int, *, lock: bool = False) -> AccountSecurity:
        row = self._row(user_id, lock=lock)
        return _to_security(row, self.key) if row is not None else AccountSecurity(user_id)

    def _row(self, user_id: int, *, lock: bool = False) -> AccountSecurityRow | None:
        query = select(AccountSecurityRow).where(AccountSecurityRow.user_id == user_id)
        if lock:
            query = query.with_for_update()
        return self.session.execute(query).scalar()

    def update(self, user_id: int, at: datetime, **values: object) -> AccountSecurity:
        """Set the given columns (``totp_secret=...``, ``must_change_password=...``)."""
        row = self._row(user_id)
        if row is None:
            row = AccountSecurityRow(user_id=user_id, must_change_password=False, updated_at=at)
            self.session.add(row)
        for name, value in values.items():
            if name not in _COLUMNS:
                raise AttributeError(name)
            if name in SEALED and isinstance(value, str):
                value = seal(self.key(), value, sealing_context(name, user_id))
            setattr(row, name, value)
        row.updated_at = at
        self.session.flush()
        return _to_security(row, self.key)

    def enrolled_ids(self) -> set[int]:
        query = select(AccountSecurityRow.user_id).where(
            AccountSecurityRow.totp_secret.is_not(None)
        )
        return set(self.session.scalars(query).all())

    def replace_recovery_codes(self, user_id: int, digests: list[str], at: datetime) -> None:
        """Forget the account's recovery codes and store these (digests only)."""
        self.session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
        self.session.add_all(
            RecoveryCodeRow(user_id=user_id, digest=d, created_at=at, used_at=None) for d in digests
        )
        self.session.flush()

    def use_recovery_code(self, user_id: int, digest: str, at: datetime) -> bool:
        """Mark the unused code with ``digest`` used; whether there was one."""
        query = (
            select(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.user_id == user_id,
                RecoveryCodeRow.digest == digest,
                RecoveryCodeRow.used_at.is_(None),
            )
            .with_for_update()
        )
        row = self.session.execute(query).scalar()
        if row is None:
            return False
        row.used_at = at
        self.session.flush()
        return True

    def recovery_codes_left(self, user_id: int) -> int:
        query = select(func.count()).where(
            RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None)
        )
        return int(self.session.scalar(query) or 0)


_COLUMNS = frozenset(
    {"totp_secret", "totp_pending", "totp_enabled_at", "totp_last_step", "must_change_password"}
)


class SettingsRepository:
    """Clinic-wide settings as text values by key (the services parse and check them)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> str | None:
        row = self.session.get(SiteSettingRow, key)
        return row.value if row is not None else None

    def all(self) -> dict[str, str]:
        return {r.key: r.value for r in self.session.execute(select(SiteSettingRow)).scalars()}

    def put(self, key: str, value: str, at: datetime, by: str) -> None:
        row = self.session.get(SiteSettingRow, key)
        if row is None:
            self.session.add(SiteSettingRow(key=key, value=value, updated_at=at, updated_by=by))
        else:
            row.value, row.updated_at, row.updated_by = value, at, by
        self.session.flush()


class HeartbeatRepository:
    """When each worker last finished a round."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def beat(self, worker: str, at: datetime) -> None:
        row = self.session.get(WorkerHeartbeatRow, worker)
        if row is None:
            self.session.add(WorkerHeartbeatRow(worker=worker, beat_at=at))
        else:
            row.beat_at = at
        self.session.flush()

    def latest(self) -> datetime | None:
        """The most recent heartbeat of any worker, or None when no worker ever beat."""
        value: datetime | None = self.session.scalar(select(func.max(WorkerHeartbeatRow.beat_at)))
        return value

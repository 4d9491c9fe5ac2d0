"""Staff accounts (the audit rows they write are in :mod:`.audit`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    AuditEvent,
    Role,
    User,
)
from needleplan.exceptions import ConflictError
from needleplan.storage.repositories._common import get_row
from needleplan.storage.repositories.audit import audit_about, to_audit
from needleplan.storage.tables import (
    AuditRow,
    UserRow,
)


def to_user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        practitioner_id=row.practitioner_id,
        active=row.active,
        created_at=row.created_at,
        display_name=row.display_name,
    )


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        username: str,
        password_hash: str,
        role: Role,
        practitioner_id: int | None,
        at: datetime,
    ) -> User:
        if self._row_by_username(username) is not None:
            raise ConflictError(f"username {username} is already taken")
        row = UserRow(
            username=username,
            password_hash=password_hash,
            role=role.value,
            practitioner_id=practitioner_id,
            active=True,
            created_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return to_user(row)

    def lock_active_ids(self, role: Role) -> list[int]:
        """The ids of the active accounts with ``role``, locked until the transaction ends."""
        query = select(UserRow.id).where(UserRow.role == role.value, UserRow.active.is_(True))
        return list(self.session.scalars(query.with_for_update()).all())

    def get(self, user_id: int) -> User:
        """The account (``NotFoundError`` when none)."""
        return to_user(self._row(user_id))

    def by_username(self, username: str) -> User | None:
        row = self._row_by_username(username)
        return to_user(row) if row is not None else None

    def credentials(self, username: str) -> tuple[User, str] | None:
        """The account and its stored password hash (to verify a sign-in), or None."""
        row = self._row_by_username(username)
        return (to_user(row), row.password_hash) if row is not None else None

    def set_password_hash(self, user_id: int, password_hash: str) -> User:
        row = self._row(user_id)
        row.password_hash = password_hash
        self.session.flush()
        return to_user(row)

    def set_active(self, user_id: int, active: bool) -> User:
        """Enable or disable sign-in for the account (accounts are never deleted)."""
        row = self._row(user_id)
        row.active = active
        self.session.flush()
        return to_user(row)

    def set_profile(self, user_id: int, display_name: str, practitioner_id: int | None) -> User:
        """How pages name the account (empty: its user name) and the practitioner it is."""
        row = self._row(user_id)
        row.display_name = display_name
        row.practitioner_id = practitioner_id
        self.session.flush()
        return to_user(row)

    def _row_by_username(self, username: str) -> UserRow | None:
        return self.session.execute(select(UserRow).where(UserRow.username == username)).scalar()

    def _row(self, user_id: int) -> UserRow:
        row: UserRow = get_row(self.session, UserRow, user_id, "user")
        return row

    def all(self) -> list[User]:
        return [
            to_user(r) for r in self.session.execute(select(UserRow).order_by(UserRow.id)).scalars()
        ]

    def add_audit(
        self,
        at: datetime,
        user_id: int | None,
        username: str,
        action: str,
        patient_id: int | None,
        detail: str,
    ) -> AuditEvent:
        row = AuditRow(
            at=at,
            user_id=user_id,
            username=username,
            action=action,
            patient_id=patient_id,
            detail=detail,
        )
        self.session.add(row)
        self.session.flush()
        return to_audit(row)

    def audit(self, patient_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
        stmt = select(AuditRow)
        if patient_id is not None:
            stmt = stmt.where(audit_about(patient_id))
        rows = self.session.execute(stmt.order_by(AuditRow.id.desc()).limit(limit)).scalars()
        return [to_audit(r) for r in rows]

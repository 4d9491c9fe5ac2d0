"""Staff accounts: create, authenticate, passwords, deactivation, roles."""

from __future__ import annotations

import contextlib
import functools
import re
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from needleplan.domain.records import (
    USERNAME_PATTERN,
    Role,
    User,
)
from needleplan.exceptions import (
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from needleplan.services._clock import utc_now
from needleplan.storage import Database
from needleplan.storage.repositories import (
    to_user,
)

T = TypeVar("T")


MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


def password_hasher() -> PasswordHasher:
    """The argon2id hasher every account password goes through (RFC 9106 low-memory profile)."""
    return _hasher


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Make ``hasher`` the one all accounts use from now on and return the previous one.

    For tests (a cheap profile) and for deployments that tune argon2's cost; hashes made with
    other parameters still verify and are re-hashed on the next sign-in.
    """
    global _hasher
    previous, _hasher = _hasher, hasher
    _dummy_hash.cache_clear()
    return previous


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError.one(
            "password", "<hidden>", f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > 1024:
        raise InputError.one("password", "<hidden>", "must be at most 1024 characters")


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role | str,
    *,
    practitioner_id: int | None = None,
) -> User:
    """Create a web-app account; the password is stored only as an argon2id hash."""
    name = username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise InputError.one(
            "username", username, "must be 3-40 of a-z, 0-9, '.', '_', '-' starting alphanumeric"
        )
    try:
        parsed_role = Role(role)
    except ValueError:
        raise InputError.one(
            "role", role, "must be one of " + ", ".join(r.value for r in Role)
        ) from None
    check_password(password)
    digest = _hasher.hash(password)
    with db.transaction() as uow:
        if practitioner_id is not None:
            uow.clinics.practitioner(practitioner_id)
        return uow.users.add(name, digest, parsed_role, practitioner_id, utc_now())


def authenticate(db: Database, username: str, password: str) -> User | None:
    """The active user whose password matches, else ``None`` (same answer for every failure)."""
    name = username.strip().lower()
    with db.transaction() as uow:
        row = uow.users.row_by_username(name)
        if row is None or not row.active:
            # Spend the same effort so response time does not reveal which usernames exist.
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher.verify(_dummy_hash(), password)
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        return to_user(row)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("needleplan-dummy-password")


def set_password(db: Database, user_id: int, password: str) -> None:
    check_password(password)
    digest = _hasher.hash(password)
    with db.transaction() as uow:
        uow.users.row(user_id).password_hash = digest


def deactivate_user(db: Database, user_id: int) -> None:
    with db.transaction() as uow:
        uow.users.row(user_id).active = False


def list_users(db: Database) -> list[User]:
    with db.transaction() as uow:
        return uow.users.all()


def require_role(user: User, *roles: Role) -> None:
    """Raise :class:`PermissionDeniedError` unless ``user`` has one of ``roles``."""
    if user.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(
            f"user {user.username} ({user.role.value}) needs role {allowed}"
        )


def find_user(db: Database, user_id: int) -> User | None:
    """The account with this id (active or not), or ``None``."""
    with db.transaction() as uow:
        try:
            return to_user(uow.users.row(user_id))
        except NotFoundError:
            return None


def find_username(db: Database, username: str) -> User | None:
    """The account with this user name (active or not), or ``None``."""
    with db.transaction() as uow:
        row = uow.users.row_by_username(username.strip().lower())
        return to_user(row) if row is not None else None

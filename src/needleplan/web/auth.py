"""Staff accounts as the web app sees them: roles, permissions, and the stores it talks to.

The web layer depends only on the small protocols here (:class:`UserStore`,
:class:`TokenStore`); the storage layer provides database-backed implementations, and the
in-memory ones below serve tests and a database-less development server. Passwords are hashed
with argon2id (argon2-cffi); API tokens are stored as SHA-256 digests, never in clear.

Roles and what they may do (SPEC capability 8):

============  ==========================================================
role          permissions
============  ==========================================================
admin         users, clinic config, audit log, calendar, recall, contacts
practitioner  clinical (assessments, plans, forecasts, notes), calendar,
              recall, contacts
front_desk    calendar, recall, contacts (no clinical notes)
============  ==========================================================
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from needleplan.domain.records import Role
from needleplan.exceptions import ConflictError, InputError, NotFoundError


class Permission(StrEnum):
    CLINICAL = "clinical"
    CALENDAR = "calendar"
    RECALL = "recall"
    CONTACTS = "contacts"
    USERS = "users"
    CONFIG = "config"
    AUDIT = "audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.USERS,
            Permission.CONFIG,
            Permission.AUDIT,
            Permission.CALENDAR,
            Permission.RECALL,
            Permission.CONTACTS,
        }
    ),
    Role.PRACTITIONER: frozenset(
        {Permission.CLINICAL, Permission.CALENDAR, Permission.RECALL, Permission.CONTACTS}
    ),
    Role.FRONT_DESK: frozenset({Permission.CALENDAR, Permission.RECALL, Permission.CONTACTS}),
}


@dataclass(frozen=True)
class StaffUser:
    """A signed-in member of staff (no password material)."""

    id: str
    username: str
    display_name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


class UserStore(Protocol):
    """Where staff accounts live (the storage layer implements it over the database)."""

    def authenticate(self, username: str, password: str) -> StaffUser | None:
        """The user when the password matches, else None (same time either way)."""
        ...

    def get_user(self, user_id: str) -> StaffUser | None:
        """The active user with this id, or None."""
        ...

    def list_users(self) -> list[StaffUser]:
        """Every active user, ordered by user name."""
        ...

    def add_user(self, username: str, password: str, role: str) -> StaffUser:
        """Create an account (InputError for a bad field, ConflictError for a taken name)."""
        ...

    def deactivate_user(self, user_id: str) -> None:
        """Close an account: it can no longer sign in (NotFoundError when unknown)."""
        ...


class TokenStore(Protocol):
    """Bearer tokens for integrations; a token acts as the user it was issued to."""

    def issue_token(self, user_id: str, label: str) -> str:
        """A new random token for ``user_id``; only its digest is kept."""
        ...

    def user_for_token(self, token: str) -> StaffUser | None:
        """The user a token belongs to, or None for an unknown or revoked token."""
        ...


USERNAME_MAX = 64
PASSWORD_MIN = 10


def normalise_username(username: str) -> str:
    return username.strip().casefold()


class InMemoryUserStore:
    """A :class:`UserStore` in a dict, with argon2id password hashes.

    Parameters
    ----------
    hasher
        the argon2 ``PasswordHasher``; its defaults (RFC 9106 low-memory profile) unless given.
        Tests pass cheaper parameters to stay fast.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._users: dict[str, tuple[StaffUser, str]] = {}
        self._by_name: dict[str, str] = {}
        self._lock = threading.Lock()
        # Verified against when the user name is unknown so both paths cost the same.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def add_user(
        self, username: str, password: str, role: Role | str, display_name: str = ""
    ) -> StaffUser:
        name = normalise_username(username)
        if not name or len(name) > USERNAME_MAX or not name.isprintable():
            raise InputError.one(
                "username", username, f"1-{USERNAME_MAX} printable characters required"
            )
        if len(password) < PASSWORD_MIN:
            raise InputError.one("password", "<hidden>", f"at least {PASSWORD_MIN} characters")
        try:
            role = Role(role)
        except ValueError:
            raise InputError.one(
                "role", role, "one of " + ", ".join(r.value for r in Role)
            ) from None
        with self._lock:
            if name in self._by_name:
                raise ConflictError(f"user name {name!r} is taken")
            user = StaffUser(
                id=secrets.token_hex(8),
                username=name,
                display_name=display_name.strip() or name,
                role=role,
            )
            self._users[user.id] = (user, self.hasher.hash(password))
            self._by_name[name] = user.id
        return user

    def deactivate_user(self, user_id: str) -> None:
        with self._lock:
            if user_id not in self._users:
                raise NotFoundError(f"user {user_id} does not exist")
            user, _ = self._users.pop(user_id)
            self._by_name.pop(user.username, None)

    def authenticate(self, username: str, password: str) -> StaffUser | None:
        user_id = self._by_name.get(normalise_username(username))
        entry = self._users.get(user_id) if user_id else None
        stored = entry[1] if entry else self._dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return entry[0] if entry else None

    def get_user(self, user_id: str) -> StaffUser | None:
        entry = self._users.get(user_id)
        return entry[0] if entry else None

    def list_users(self) -> list[StaffUser]:
        return sorted((u for u, _ in self._users.values()), key=lambda u: u.username)


TOKEN_PREFIX = "np_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class InMemoryTokenStore:
    """A :class:`TokenStore` in a dict keyed by the token's SHA-256 digest."""

    def __init__(self, users: UserStore) -> None:
        self.users = users
        self._tokens: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def issue_token(self, user_id: str, label: str) -> str:
        if self.users.get_user(user_id) is None:
            raise NotFoundError(f"no user with id {user_id}")
        label = label.strip()
        if not label or len(label) > 80:
            raise InputError.one("label", label, "1-80 characters naming the integration")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token_digest(token)] = (user_id, label)
        return token

    def user_for_token(self, token: str) -> StaffUser | None:
        digest = token_digest(token)
        for known, (user_id, _label) in list(self._tokens.items()):
            if hmac.compare_digest(known, digest):
                return self.users.get_user(user_id)
        return None


DEMO_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("admin", Role.ADMIN, "Demo Admin"),
    ("practitioner", Role.PRACTITIONER, "Demo Practitioner"),
    ("frontdesk", Role.FRONT_DESK, "Demo Front Desk"),
)


def demo_user_store(
    hasher: PasswordHasher | None = None,
) -> tuple[InMemoryUserStore, dict[str, str]]:
    """An in-memory store with one account per role and fresh random passwords.

    For trying the staff area without a database; ``needleplan serve --demo-users`` prints the
    passwords once. Nothing is written anywhere.
    """
    store = InMemoryUserStore(hasher)
    passwords: dict[str, str] = {}
    for username, role, name in DEMO_ACCOUNTS:
        passwords[username] = secrets.token_urlsafe(12)
        store.add_user(username, passwords[username], role, name)
    return store, passwords

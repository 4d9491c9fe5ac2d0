"""Staff accounts as the web app sees them: roles, permissions, and the stores it talks to.

The web layer depends only on the small protocols here (:class:`UserStore`,
:class:`TokenStore`, :class:`SessionStore`); the storage layer provides database-backed
implementations, and the in-memory ones below serve tests and a database-less development server.
Passwords are hashed with argon2id (argon2-cffi); API tokens and sign-in session tokens are stored
as SHA-256 digests, never in clear.

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from needleplan.domain.records import Role
from needleplan.exceptions import ConflictError, InputError, NotFoundError
from needleplan.services._clock import utc_now
from needleplan.services.staff_sessions import (
    TOKEN_MAX,
    SessionPolicy,
    new_session_token,
    session_digest,
)


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

    def verify_password(self, user_id: str, password: str) -> bool:
        """Whether ``password`` is the active user's current password."""
        ...

    def set_password(self, user_id: str, password: str) -> None:
        """Replace the password (InputError for a bad one, NotFoundError when unknown)."""
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
PASSWORD_MAX = 1024


def check_new_password(password: str, field: str = "password") -> None:
    """The rules every new password meets (InputError naming ``field`` otherwise)."""
    if len(password) < PASSWORD_MIN:
        raise InputError.one(field, "<hidden>", f"at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InputError.one(field, "<hidden>", f"at most {PASSWORD_MAX} characters")


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
        check_new_password(password)
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

    def verify_password(self, user_id: str, password: str) -> bool:
        entry = self._users.get(user_id)
        stored = entry[1] if entry else self._dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        return entry is not None

    def set_password(self, user_id: str, password: str) -> None:
        check_new_password(password)
        digest = self.hasher.hash(password)
        with self._lock:
            if user_id not in self._users:
                raise NotFoundError(f"user {user_id} does not exist")
            user, _ = self._users[user_id]
            self._users[user_id] = (user, digest)

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


@dataclass(frozen=True)
class StaffSession:
    """One signed-in browser as the account pages show it (never the token).

    ``id`` names the session to its owner and to admins; it cannot be used to sign in.
    """

    id: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str


WallClock = Callable[[], datetime]


class SessionStore(Protocol):
    """Server-side sign-in sessions: the cookie holds a random token, the store its digest.

    Implementations apply a :class:`~needleplan.services.staff_sessions.SessionPolicy` (absolute
    lifetime, idle timeout, at most one ``last_seen_at`` write per interval) and a clock.
    """

    @property
    def policy(self) -> SessionPolicy:
        """The lifetime rules this store applies."""
        ...

    def start(self, user_id: str, user_agent: str) -> str:
        """A new session for ``user_id``; returns its token (for the cookie, kept nowhere)."""
        ...

    def find(self, token: str) -> StaffSession | None:
        """The live session behind ``token`` (recording its use), or None."""
        ...

    def end(self, token: str) -> None:
        """Revoke the session behind ``token`` (nothing when there is none)."""
        ...

    def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        """Revoke every live session of ``user_id`` but the one with id ``keep``; how many
        ended (whether the user is still active does not matter)."""
        ...

    def active(self, user_id: str) -> list[StaffSession]:
        """The user's live sessions, most recently used first."""
        ...

    def active_counts(self) -> dict[str, int]:
        """Live sessions per user id (users without any are left out)."""
        ...

    def purge(self) -> int:
        """Forget revoked, expired and idle sessions; how many went."""
        ...


@dataclass(frozen=True)
class _SessionEntry:
    session: StaffSession
    revoked_at: datetime | None = None


class InMemorySessionStore:
    """A :class:`SessionStore` in a dict keyed by the token's SHA-256 digest.

    Parameters
    ----------
    policy
        lifetime rules; the :class:`~needleplan.services.staff_sessions.SessionPolicy` defaults unless
        given.
    now
        the wall clock (aware UTC datetimes); tests move it instead of sleeping.
    """

    def __init__(self, policy: SessionPolicy | None = None, now: WallClock | None = None) -> None:
        self._policy = policy or SessionPolicy()
        self.now = now or utc_now
        self._entries: dict[str, _SessionEntry] = {}
        self._ids = 0
        self._lock = threading.Lock()

    @property
    def policy(self) -> SessionPolicy:
        return self._policy

    def _alive(self, entry: _SessionEntry, now: datetime) -> bool:
        return self._policy.alive(
            now,
            expires_at=entry.session.expires_at,
            last_seen_at=entry.session.last_seen_at,
            revoked_at=entry.revoked_at,
        )

    def start(self, user_id: str, user_agent: str) -> str:
        token = new_session_token()
        at = self.now()
        with self._lock:
            self._ids += 1
            self._entries[session_digest(token)] = _SessionEntry(
                StaffSession(
                    id=str(self._ids),
                    user_id=user_id,
                    created_at=at,
                    last_seen_at=at,
                    expires_at=self._policy.expires_at(at),
                    user_agent="".join(ch for ch in user_agent if ch.isprintable()).strip()[:200],
                )
            )
        return token

    def find(self, token: str) -> StaffSession | None:
        if not token or len(token) > TOKEN_MAX:
            return None
        digest, at = session_digest(token), self.now()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or not self._alive(entry, at):
                return None
            if self._policy.needs_touch(at, entry.session.last_seen_at):
                self._entries[digest] = replace(
                    entry, session=replace(entry.session, last_seen_at=at)
                )
        return entry.session

    def end(self, token: str) -> None:
        if not token or len(token) > TOKEN_MAX:
            return
        digest = session_digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None and entry.revoked_at is None:
                self._entries[digest] = replace(entry, revoked_at=self.now())

    def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        at, ended = self.now(), 0
        with self._lock:
            for digest, entry in list(self._entries.items()):
                session = entry.session
                if session.user_id == user_id and session.id != keep and self._alive(entry, at):
                    self._entries[digest] = replace(entry, revoked_at=at)
                    ended += 1
        return ended

    def active(self, user_id: str) -> list[StaffSession]:
        at = self.now()
        live = [
            e.session
            for e in list(self._entries.values())
            if e.session.user_id == user_id and self._alive(e, at)
        ]
        return sorted(live, key=lambda s: (s.last_seen_at, int(s.id)), reverse=True)

    def active_counts(self) -> dict[str, int]:
        at, counts = self.now(), dict[str, int]()
        for entry in list(self._entries.values()):
            if self._alive(entry, at):
                counts[entry.session.user_id] = counts.get(entry.session.user_id, 0) + 1
        return counts

    def purge(self) -> int:
        at = self.now()
        with self._lock:
            gone = [d for d, e in self._entries.items() if not self._alive(e, at)]
            for digest in gone:
                del self._entries[digest]
        return len(gone)


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

"""The web app's side of staff accounts: the store protocols its routes talk to, and thin
in-memory adapters for tests and a database-less development server.

There is one account model (:mod:`needleplan.domain.accounts`): the signed-in user and a bearer
token's owner are a :class:`~needleplan.domain.accounts.User` (``StaffUser`` here is the same
class), roles and permissions are :data:`~needleplan.domain.accounts.ROLE_PERMISSIONS`, and the
user-name and password rules and the one argon2id hasher are those of the domain and
:mod:`needleplan.services.accounts`. The database-backed stores (:mod:`needleplan.web.db_stores`)
call the account use-cases, which check the acting user's role; the in-memory ones apply the same
rules and checks. API tokens and sign-in session tokens are stored as SHA-256 digests, never in
clear.

A user id on the web is the account's integer id; the stores also accept its decimal string (a
path or form value) and treat anything else as unknown.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from needleplan.domain.accounts import (
    ROLE_PERMISSIONS,
    TOKEN_DAYS_DEFAULT,
    Permission,
    Role,
    TokenScope,
    User,
    check_token_days,
    check_username,
    may_issue_token,
    normalise_username,
    parse_role,
    parse_token_scope,
    require_permission,
)
from needleplan.exceptions import ConflictError, InputError, NotFoundError, StateError
from needleplan.services import accounts
from needleplan.services._clock import utc_now
from needleplan.services._secrets import secret_digest
from needleplan.services.staff_sessions import (
    TOKEN_MAX,
    SessionPolicy,
    new_session_token,
    session_digest,
)
from needleplan.services.tokens import API_TOKEN_PREFIX

#: The signed-in member of staff: the domain account value (no password material).
StaffUser = User

#: A user id as the web gets it: the account's id, or its decimal string from a path or form.
UserId = int | str


#: The largest id of an account (the column is a 32-bit integer).
MAX_ACCOUNT_ID = 2**31 - 1


def parse_user_id(user_id: UserId) -> int | None:
    """The account id behind a web user id, or None when it cannot be one."""
    if isinstance(user_id, bool):
        return None
    if isinstance(user_id, int):
        return user_id if 0 < user_id <= MAX_ACCOUNT_ID else None
    # Strict: ASCII digits without a leading zero, within the id column's range ("01", "٣",
    # " 1" and 2**31 are no id), so every guard compares the one id a path names.
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 10) or user_id[0] == "0":
        return None
    key = int(user_id)
    return key if key <= MAX_ACCOUNT_ID else None


class UserStore(Protocol):
    """Where staff accounts live (:class:`~needleplan.web.db_stores.DbUserStore` over the
    database, :class:`InMemoryUserStore` for tests).

    ``actor`` is the account doing a change; account management needs the users permission.
    """

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches, else None (same time either way)."""
        ...

    def get_user(self, user_id: UserId) -> User | None:
        """The active user with this id, or None."""
        ...

    def list_users(self) -> list[User]:
        """Every active user, ordered by user name."""
        ...

    def add_user(
        self, username: str, password: str, role: Role | str, *, actor: User | None = None
    ) -> User:
        """Create an account (InputError for a bad field, ConflictError for a taken name,
        PermissionDeniedError when ``actor`` may not)."""
        ...

    def deactivate_user(self, user_id: UserId, *, actor: User | None = None) -> None:
        """Close an account: it can no longer sign in (NotFoundError when unknown)."""
        ...

    def verify_password(self, user_id: UserId, password: str) -> bool:
        """Whether ``password`` is the active user's current password."""
        ...

    def set_password(self, user_id: UserId, password: str, *, actor: User | None = None) -> None:
        """Replace the password (InputError for a bad one, NotFoundError when unknown)."""
        ...

    def set_profile(
        self,
        user_id: UserId,
        display_name: str,
        practitioner_id: int | None,
        *,
        actor: User | None = None,
    ) -> User:
        """Set how pages name the account (empty: its user name) and the practitioner it is
        (None: none); InputError for a bad name, NotFoundError when unknown."""
        ...


@dataclass(frozen=True)
class TokenGrant:
    """What a presented bearer token grants: its owner acting through it, and its scope."""

    user: User
    scope: TokenScope


class TokenStore(Protocol):
    """Bearer tokens for integrations; a token acts as the user it was issued to, within its
    scope, until it expires or is revoked (see :func:`needleplan.domain.accounts.may_issue_token`
    for who may issue one)."""

    def issue_token(
        self,
        user_id: UserId,
        label: str,
        *,
        actor: User | None = None,
        scope: TokenScope | str = TokenScope.WRITE,
        days: int = TOKEN_DAYS_DEFAULT,
    ) -> str:
        """A new random token for ``user_id``; only its digest is kept."""
        ...

    def grant_for_token(self, token: str) -> TokenGrant | None:
        """What a live token grants, or None for an unknown, revoked or expired token."""
        ...

    def user_for_token(self, token: str) -> User | None:
        """The user a live token belongs to (acting through it), or None."""
        ...


def _random_id() -> int:
    return 1_000_000_000 + secrets.randbelow(MAX_ACCOUNT_ID - 1_000_000_000)


def _may_manage(actor: User | None, action: str) -> None:
    if actor is not None:
        require_permission(actor, Permission.USERS, action)


class InMemoryUserStore:
    """A :class:`UserStore` in a dict: the domain's rules, the services' one argon2id hasher
    (:func:`needleplan.services.accounts.use_password_hasher` makes it cheap in tests) and the
    same role checks as the database store.

    Ids are random (10-11 digits), so they reveal nothing and an account here is unlikely to share
    its id with a database account (the audit log tells them apart by id and name anyway).
    """

    def __init__(self) -> None:
        self._users: dict[int, tuple[User, str]] = {}
        self._by_name: dict[str, int] = {}
        self._lock = threading.Lock()

    def add_user(
        self,
        username: str,
        password: str,
        role: Role | str,
        display_name: str = "",
        *,
        actor: User | None = None,
    ) -> User:
        _may_manage(actor, "create accounts")
        name = check_username(username)
        parsed_role = parse_role(role)
        digest = accounts.hash_password(password)
        with self._lock:
            if name in self._by_name:
                raise ConflictError(f"user name {name!r} is taken")
            user_id = _random_id()
            while user_id in self._users:  # pragma: no cover - 1 in 10^10
                user_id = _random_id()
            user = User(
                id=user_id,
                username=name,
                display_name=display_name.strip() or name,
                role=parsed_role,
                created_at=utc_now(),
            )
            self._users[user.id] = (user, digest)
            self._by_name[name] = user.id
        return user

    def deactivate_user(self, user_id: UserId, *, actor: User | None = None) -> None:
        _may_manage(actor, "deactivate accounts")
        key = parse_user_id(user_id)
        with self._lock:
            if key is None or key not in self._users:
                raise NotFoundError(f"user {user_id} does not exist")
            admins = [u for u, _ in self._users.values() if u.role is Role.ADMIN]
            if self._users[key][0].role is Role.ADMIN and len(admins) <= 1:
                raise StateError(f"user {key} is the last active admin; make another admin first")
            user, _ = self._users.pop(key)
            self._by_name.pop(user.username, None)

    def authenticate(self, username: str, password: str) -> User | None:
        user_id = self._by_name.get(normalise_username(username))
        entry = self._users.get(user_id) if user_id is not None else None
        if not accounts.verify_password(entry[1] if entry else None, password):
            return None
        return entry[0] if entry else None

    def get_user(self, user_id: UserId) -> User | None:
        key = parse_user_id(user_id)
        entry = self._users.get(key) if key is not None else None
        return entry[0] if entry else None

    def verify_password(self, user_id: UserId, password: str) -> bool:
        key = parse_user_id(user_id)
        entry = self._users.get(key) if key is not None else None
        return accounts.verify_password(entry[1] if entry else None, password)

    def set_password(self, user_id: UserId, password: str, *, actor: User | None = None) -> None:
        key = parse_user_id(user_id)
        if actor is not None and actor.id != key:
            _may_manage(actor, "set another account's password")
        digest = accounts.hash_password(password)
        with self._lock:
            if key is None or key not in self._users:
                raise NotFoundError(f"user {user_id} does not exist")
            user, _ = self._users[key]
            self._users[key] = (user, digest)

    def set_profile(
        self,
        user_id: UserId,
        display_name: str,
        practitioner_id: int | None,
        *,
        actor: User | None = None,
    ) -> User:
        _may_manage(actor, "change accounts")
        name = accounts.check_display_name(display_name)
        key = parse_user_id(user_id)
        with self._lock:
            if key is None or key not in self._users:
                raise NotFoundError(f"user {user_id} does not exist")
            user, digest = self._users[key]
            changed = user.model_copy(
                update={"display_name": name or user.username, "practitioner_id": practitioner_id}
            )
            self._users[key] = (changed, digest)
            return changed

    def list_users(self) -> list[User]:
        return sorted((u for u, _ in self._users.values()), key=lambda u: u.username)


#: Bearer tokens start with this (``np_``).
TOKEN_PREFIX = API_TOKEN_PREFIX

#: The SHA-256 hex digest stored in place of a token.
token_digest = secret_digest


class InMemoryTokenStore:
    """A :class:`TokenStore` in a dict keyed by the token's SHA-256 digest (same rules as the
    database store: who may issue, scope, expiry; no audit trail: there is no database)."""

    def __init__(self, users: UserStore) -> None:
        self.users = users
        self._tokens: dict[str, tuple[int, int, str, TokenScope, datetime]] = {}
        self._lock = threading.Lock()

    def issue_token(
        self,
        user_id: UserId,
        label: str,
        *,
        actor: User | None = None,
        scope: TokenScope | str = TokenScope.WRITE,
        days: int = TOKEN_DAYS_DEFAULT,
    ) -> str:
        owner = self.users.get_user(user_id)
        if owner is None:
            raise NotFoundError(f"no user with id {user_id}")
        if actor is not None:
            may_issue_token(actor, owner)
        clean = label.strip()
        if not clean or len(clean) > 80 or not clean.isprintable():
            raise InputError.one("label", label, "1-80 printable characters naming the integration")
        chosen = parse_token_scope(scope)
        expires = utc_now() + timedelta(days=check_token_days(days))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            number = len(self._tokens) + 1
            self._tokens[token_digest(token)] = (number, owner.id, clean, chosen, expires)
        return token

    def grant_for_token(self, token: str) -> TokenGrant | None:
        digest = token_digest(token)
        now = utc_now()
        for known, (number, user_id, _label, scope, expires) in list(self._tokens.items()):
            if hmac.compare_digest(known, digest) and now < expires:
                owner = self.users.get_user(user_id)
                if owner is None or not owner.active:
                    return None
                return TokenGrant(owner.model_copy(update={"via_token": number}), scope)
        return None

    def user_for_token(self, token: str) -> User | None:
        grant = self.grant_for_token(token)
        return grant.user if grant is not None else None


@dataclass(frozen=True)
class StaffSession:
    """One signed-in browser as the account pages show it (never the token).

    ``id`` names the session to its owner and to admins; it cannot be used to sign in.
    """

    id: str
    user_id: int
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

    def start(self, user_id: UserId, user_agent: str) -> str:
        """A new session for ``user_id``; returns its token (for the cookie, kept nowhere)."""
        ...

    def find(self, token: str) -> StaffSession | None:
        """The live session behind ``token`` (recording its use), or None."""
        ...

    def end(self, token: str) -> None:
        """Revoke the session behind ``token`` (nothing when there is none)."""
        ...

    def end_all(self, user_id: UserId, *, keep: str | None = None) -> int:
        """Revoke every live session of ``user_id`` but the one with id ``keep``; how many
        ended (whether the user is still active does not matter)."""
        ...

    def active(self, user_id: UserId) -> list[StaffSession]:
        """The user's live sessions, most recently used first."""
        ...

    def active_counts(self) -> dict[int, int]:
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

    def start(self, user_id: UserId, user_agent: str) -> str:
        key = parse_user_id(user_id)
        if key is None:
            raise NotFoundError(f"no user with id {user_id}")
        token = new_session_token()
        at = self.now()
        with self._lock:
            self._ids += 1
            self._entries[session_digest(token)] = _SessionEntry(
                StaffSession(
                    id=str(self._ids),
                    user_id=key,
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

    def end_all(self, user_id: UserId, *, keep: str | None = None) -> int:
        key = parse_user_id(user_id)
        at, ended = self.now(), 0
        with self._lock:
            for digest, entry in list(self._entries.items()):
                session = entry.session
                if session.user_id == key and session.id != keep and self._alive(entry, at):
                    self._entries[digest] = replace(entry, revoked_at=at)
                    ended += 1
        return ended

    def active(self, user_id: UserId) -> list[StaffSession]:
        key = parse_user_id(user_id)
        at = self.now()
        live = [
            e.session
            for e in list(self._entries.values())
            if e.session.user_id == key and self._alive(e, at)
        ]
        return sorted(live, key=lambda s: (s.last_seen_at, int(s.id)), reverse=True)

    def active_counts(self) -> dict[int, int]:
        at, counts = self.now(), dict[int, int]()
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


def demo_user_store() -> tuple[InMemoryUserStore, dict[str, str]]:
    """An in-memory store with one account per role and fresh random passwords.

    For trying the staff area without a database; ``needleplan serve --demo-users`` prints the
    passwords once. Nothing is written anywhere.
    """
    store = InMemoryUserStore()
    passwords: dict[str, str] = {}
    for username, role, name in DEMO_ACCOUNTS:
        passwords[username] = secrets.token_urlsafe(12)
        store.add_user(username, passwords[username], role, name)
    return store, passwords


__all__ = [
    "DEMO_ACCOUNTS",
    "ROLE_PERMISSIONS",
    "TOKEN_PREFIX",
    "InMemorySessionStore",
    "InMemoryTokenStore",
    "InMemoryUserStore",
    "Permission",
    "Role",
    "SessionStore",
    "StaffSession",
    "StaffUser",
    "TokenGrant",
    "TokenStore",
    "User",
    "UserId",
    "UserStore",
    "WallClock",
    "demo_user_store",
    "parse_user_id",
    "token_digest",
]

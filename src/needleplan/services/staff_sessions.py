"""Staff sign-in sessions kept server-side: start, check, end, list and purge.

A session is a random token (``secrets.token_urlsafe(32)``) the browser keeps in its cookie; only
the token's SHA-256 digest is stored (``staff_sessions``), so a copy of the database or a backup
cannot be replayed as a sign-in. A session ends when it is revoked (sign-out, "sign out
everywhere else", an admin ending it, a password change or closing the account), when it reaches
its absolute lifetime, or when it has not been used for the idle timeout. :class:`SessionPolicy`
holds those rules; the web app's in-memory store and the database functions below both apply it.

``last_seen_at`` is written at most once per :attr:`SessionPolicy.touch_interval_s` per session,
so reading pages does not write to the database on every request; the idle timeout is therefore
measured to within that interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from needleplan.exceptions import InputError, StateError
from needleplan.services._clock import utc_now
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.storage.staff_sessions import StaffSessionInfo

if TYPE_CHECKING:
    from needleplan.storage.database import Database

#: Tokens longer than this are refused unread (a real one has 43 characters).
TOKEN_MAX = 100


def new_session_token() -> str:
    """A fresh random session token for the cookie (256 bits)."""
    return new_secret()


def session_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of the token."""
    return secret_digest(token)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives.

    Attributes
    ----------
    max_age_s
        absolute lifetime from sign-in [s]; the cookie's ``Max-Age`` is the same.
    idle_timeout_s
        a session unused for longer than this is over [s].
    touch_interval_s
        ``last_seen_at`` is updated at most this often per session [s].
    """

    max_age_s: int = 8 * 3600
    idle_timeout_s: int = 30 * 60
    touch_interval_s: int = 60

    def __post_init__(self) -> None:
        for name in ("max_age_s", "idle_timeout_s", "touch_interval_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError.one(name, value, "must be a whole number of seconds >= 1")

    def expires_at(self, started: datetime) -> datetime:
        return started + timedelta(seconds=self.max_age_s)

    def idle_cutoff(self, now: datetime) -> datetime:
        """Sessions last seen at or before this instant are idle."""
        return now - timedelta(seconds=self.idle_timeout_s)

    def alive(
        self,
        now: datetime,
        *,
        expires_at: datetime,
        last_seen_at: datetime,
        revoked_at: datetime | None,
    ) -> bool:
        """Not revoked, before its expiry, and used within the idle timeout."""
        return revoked_at is None and now < expires_at and last_seen_at > self.idle_cutoff(now)

    def needs_touch(self, now: datetime, last_seen_at: datetime) -> bool:
        """Whether a request at ``now`` should record itself as ``last_seen_at``."""
        return now - last_seen_at >= timedelta(seconds=self.touch_interval_s)


def start_session(
    db: Database,
    user_id: int,
    user_agent: str,
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> tuple[str, StaffSessionInfo]:
    """Sign ``user_id`` in: a new session; returns its token (for the cookie only) and record.

    Raises
    ------
    NotFoundError
        for an unknown user.
    StateError
        for a deactivated one.
    """
    at = now or utc_now()
    token = new_session_token()
    clean_agent = "".join(ch for ch in user_agent if ch.isprintable()).strip()
    with db.transaction() as uow:
        if not uow.users.get(user_id).active:
            raise StateError(f"user {user_id} is deactivated")
        info = uow.staff_sessions.add(
            user_id, session_digest(token), at, policy.expires_at(at), clean_agent
        )
    return token, info


def find_session(
    db: Database, token: str, policy: SessionPolicy, *, now: datetime | None = None
) -> StaffSessionInfo | None:
    """The live session behind ``token`` (its user active), or ``None``.

    Records the use in ``last_seen_at`` when the last record is older than the touch interval.
    """
    if not token or len(token) > TOKEN_MAX:
        return None
    at = now or utc_now()
    with db.transaction() as uow:
        repo = uow.staff_sessions
        info = repo.live_by_digest(session_digest(token), at, policy.idle_cutoff(at))
        if info is not None and policy.needs_touch(at, info.last_seen_at):
            repo.touch(info.id, at)
    return info


def end_session(db: Database, token: str, *, now: datetime | None = None) -> bool:
    """Revoke the session behind ``token``; whether there was one to end."""
    if not token or len(token) > TOKEN_MAX:
        return False
    with db.transaction() as uow:
        ended = uow.staff_sessions.revoke_digest(session_digest(token), now or utc_now())
    return ended > 0


def end_user_sessions(
    db: Database,
    user_id: int,
    policy: SessionPolicy,
    *,
    keep_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Revoke every live session of ``user_id`` except ``keep_id``; how many were ended."""
    at = now or utc_now()
    with db.transaction() as uow:
        return uow.staff_sessions.revoke_user(user_id, at, policy.idle_cutoff(at), keep_id=keep_id)


def active_sessions(
    db: Database, user_id: int, policy: SessionPolicy, *, now: datetime | None = None
) -> list[StaffSessionInfo]:
    """The user's live sessions, most recently used first."""
    at = now or utc_now()
    with db.transaction() as uow:
        return uow.staff_sessions.live_for_user(user_id, at, policy.idle_cutoff(at))


def active_session_counts(
    db: Database, policy: SessionPolicy, *, now: datetime | None = None
) -> dict[int, int]:
    """How many live sessions each user has (users without any are left out)."""
    at = now or utc_now()
    with db.transaction() as uow:
        return uow.staff_sessions.live_counts(at, policy.idle_cutoff(at))


def purge_sessions(db: Database, policy: SessionPolicy, *, now: datetime | None = None) -> int:
    """Delete every revoked, expired or idle session; how many rows went."""
    at = now or utc_now()
    with db.transaction() as uow:
        return uow.staff_sessions.purge(at, policy.idle_cutoff(at))


__all__ = [
    "SessionPolicy",
    "StaffSessionInfo",
    "active_session_counts",
    "active_sessions",
    "end_session",
    "end_user_sessions",
    "find_session",
    "new_session_token",
    "purge_sessions",
    "session_digest",
    "start_session",
]

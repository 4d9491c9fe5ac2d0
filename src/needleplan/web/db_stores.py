"""Database-backed stores for the web app: staff accounts, API tokens, sign-in sessions and
contact requests.

They implement the protocols in :mod:`needleplan.web.auth` (:class:`~needleplan.web.auth.UserStore`,
:class:`~needleplan.web.auth.TokenStore`, :class:`~needleplan.web.auth.SessionStore`) and
:mod:`needleplan.web.leads` (:class:`~needleplan.web.leads.LeadStore`) over
:mod:`needleplan.services` and :mod:`needleplan.services.staff_sessions`, so accounts, tokens, sessions
and leads survive a restart and live in the same database as the clinic records (backups leave
the sessions out). A user's web id is the decimal string of the database id; a session's web id
the decimal string of its row id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from needleplan import services
from needleplan.domain.records import Lead, User
from needleplan.exceptions import InputError, NotFoundError
from needleplan.services import staff_sessions
from needleplan.services._clock import utc_now
from needleplan.services.audit import AuditNote
from needleplan.services.staff_sessions import SessionPolicy, StaffSessionInfo
from needleplan.storage.database import Database
from needleplan.storage.repositories import ApiTokenInfo
from needleplan.web.auth import StaffSession, StaffUser, WallClock, check_new_password


def to_staff(user: User) -> StaffUser:
    """The web app's view of a stored account."""
    return StaffUser(
        id=str(user.id),
        username=user.username,
        display_name=user.username,
        role=user.role,
    )


def database_user_id(user_id: str) -> int | None:
    """The database id behind a web user id, or None when it is not one."""
    return int(user_id) if user_id.isdigit() and len(user_id) < 12 else None


class DbUserStore:
    """:class:`~needleplan.web.auth.UserStore` over the ``users`` table (argon2id hashes)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def authenticate(self, username: str, password: str) -> StaffUser | None:
        if len(password) > 1024:
            return None
        user = services.authenticate(self.db, username, password)
        return to_staff(user) if user is not None else None

    def get_user(self, user_id: str) -> StaffUser | None:
        key = database_user_id(user_id)
        if key is None:
            return None
        user = services.find_user(self.db, key)
        return to_staff(user) if user is not None and user.active else None

    def list_users(self) -> list[StaffUser]:
        users = [to_staff(u) for u in services.list_users(self.db) if u.active]
        return sorted(users, key=lambda u: u.username)

    def add_user(self, username: str, password: str, role: str) -> StaffUser:
        return to_staff(services.create_user(self.db, username, password, role))

    def deactivate_user(self, user_id: str) -> None:
        key = database_user_id(user_id)
        if key is None or services.find_user(self.db, key) is None:
            raise NotFoundError(f"user {user_id} does not exist")
        services.deactivate_user(self.db, key)

    def verify_password(self, user_id: str, password: str) -> bool:
        key = database_user_id(user_id)
        user = services.find_user(self.db, key) if key is not None else None
        if user is None or len(password) > 1024:
            return False
        match = services.authenticate(self.db, user.username, password)
        return match is not None and match.id == user.id

    def set_password(self, user_id: str, password: str) -> None:
        check_new_password(password)
        key = database_user_id(user_id)
        if key is None or services.find_user(self.db, key) is None:
            raise NotFoundError(f"user {user_id} does not exist")
        services.set_password(self.db, key, password)


class DbTokenStore:
    """:class:`~needleplan.web.auth.TokenStore` over the ``api_tokens`` table (SHA-256 digests)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue_token(self, user_id: str, label: str) -> str:
        key = database_user_id(user_id)
        if key is None:
            raise NotFoundError(f"no user with id {user_id}")
        token, _info = services.issue_api_token(self.db, key, label)
        return token

    def user_for_token(self, token: str) -> StaffUser | None:
        user = services.user_for_api_token(self.db, token)
        return to_staff(user) if user is not None else None

    def revoke_token(self, token_id: int) -> ApiTokenInfo:
        return services.revoke_api_token(self.db, token_id)

    def list_tokens(self) -> list[ApiTokenInfo]:
        return services.list_api_tokens(self.db)


def _session(info: StaffSessionInfo) -> StaffSession:
    return StaffSession(
        id=str(info.id),
        user_id=str(info.user_id),
        created_at=info.created_at,
        last_seen_at=info.last_seen_at,
        expires_at=info.expires_at,
        user_agent=info.user_agent,
    )


class DbSessionStore:
    """:class:`~needleplan.web.auth.SessionStore` over the ``staff_sessions`` table.

    Only the token's SHA-256 digest is stored; a session of a deactivated account is refused
    even before it is revoked.
    """

    def __init__(
        self, db: Database, policy: SessionPolicy | None = None, now: WallClock | None = None
    ) -> None:
        self.db = db
        self._policy = policy or SessionPolicy()
        self.now = now or utc_now

    @property
    def policy(self) -> SessionPolicy:
        return self._policy

    def start(self, user_id: str, user_agent: str) -> str:
        key = database_user_id(user_id)
        if key is None:
            raise NotFoundError(f"no user with id {user_id}")
        token, _info = staff_sessions.start_session(
            self.db, key, user_agent, self._policy, now=self.now()
        )
        return token

    def find(self, token: str) -> StaffSession | None:
        info = staff_sessions.find_session(self.db, token, self._policy, now=self.now())
        return _session(info) if info is not None else None

    def end(self, token: str) -> None:
        staff_sessions.end_session(self.db, token, now=self.now())

    def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        key = database_user_id(user_id)
        if key is None:
            return 0
        keep_id = int(keep) if keep is not None and keep.isdigit() and len(keep) < 12 else None
        return staff_sessions.end_user_sessions(
            self.db, key, self._policy, keep_id=keep_id, now=self.now()
        )

    def active(self, user_id: str) -> list[StaffSession]:
        key = database_user_id(user_id)
        if key is None:
            return []
        found = staff_sessions.active_sessions(self.db, key, self._policy, now=self.now())
        return [_session(i) for i in found]

    def active_counts(self) -> dict[str, int]:
        counts = staff_sessions.active_session_counts(self.db, self._policy, now=self.now())
        return {str(k): n for k, n in counts.items()}

    def purge(self) -> int:
        return staff_sessions.purge_sessions(self.db, self._policy, now=self.now())


class DbLeadStore:
    """:class:`~needleplan.web.leads.LeadStore` over the ``leads`` table (with the consent)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_lead(self, lead: Lead) -> None:
        if not lead.consent_text:
            raise InputError.one("consent", False, "a lead is stored only with consent")
        services.add_lead(self.db, lead)

    def list_leads(self) -> list[Lead]:
        return services.list_leads(self.db)


def _stored_account(db: Database, user: StaffUser) -> tuple[User | None, str]:
    key = database_user_id(user.id)
    stored = services.find_user(db, key) if key is not None else None
    return stored, user.username


@contextmanager
def audited(
    db: Database, user: StaffUser, action: str, patient_id: int | None = None, detail: str = ""
) -> Iterator[AuditNote]:
    """Run a route's use-case and its audit event in one transaction (see
    :func:`needleplan.services.audit.audited`): a change is never stored without its event.

    ``detail`` carries ids and counts only, never patient data. A user who is not a database
    account (an in-memory store beside a database) is recorded by user name.
    """
    with db.transaction():
        stored, username = _stored_account(db, user)
        with services.audited(db, stored, action, patient_id, detail) as note:
            yield note
            if stored is None:
                note.detail = f"{note.detail} user={username}".strip()


def audit(
    db: Database, user: StaffUser, action: str, patient_id: int | None = None, detail: str = ""
) -> None:
    """Append an audit event on its own, for an event that is itself the record (a page view
    whose data was read in the same request, a refused attempt). Changes use :func:`audited`.
    """
    with audited(db, user, action, patient_id, detail):
        pass

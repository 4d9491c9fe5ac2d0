"""Database-backed stores for the web app: staff accounts, API tokens, sign-in sessions and
contact requests.

They are thin adapters: the rules, the hasher and the role checks are the services'. They
implement the protocols in :mod:`needleplan.web.auth` (:class:`~needleplan.web.auth.UserStore`,
:class:`~needleplan.web.auth.TokenStore`, :class:`~needleplan.web.auth.SessionStore`) and
:mod:`needleplan.web.leads` (:class:`~needleplan.web.leads.LeadStore`) over
:mod:`needleplan.services` and :mod:`needleplan.services.staff_sessions`, so accounts, tokens, sessions
and leads survive a restart and live in the same database as the clinic records (backups leave
the sessions out). A user's web id is its database id (its decimal string is accepted too); a
session's web id the decimal string of its row id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from needleplan import services
from needleplan.domain.accounts import TOKEN_DAYS_DEFAULT, TokenScope
from needleplan.domain.records import Lead, Role, User
from needleplan.exceptions import InputError, NotFoundError
from needleplan.services import staff_identity, staff_sessions
from needleplan.services._clock import utc_now
from needleplan.services.audit import AuditNote
from needleplan.services.staff_identity import StaffIdentity
from needleplan.services.staff_sessions import SessionPolicy, StaffSessionInfo
from needleplan.storage.database import Database
from needleplan.storage.repositories import ApiTokenInfo
from needleplan.web.auth import StaffSession, TokenGrant, UserId, WallClock, parse_user_id


def database_user_id(user_id: UserId) -> int | None:
    """The database id behind a web user id, or None when it is not one."""
    return parse_user_id(user_id)


class DbUserStore:
    """:class:`~needleplan.web.auth.UserStore` over the account use-cases of
    :mod:`needleplan.services.accounts` (their rules, hasher and role checks)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def authenticate(self, username: str, password: str) -> User | None:
        return services.authenticate(self.db, username, password)

    def get_user(self, user_id: UserId) -> User | None:
        key = parse_user_id(user_id)
        user = services.find_user(self.db, key) if key is not None else None
        return user if user is not None and user.active else None

    def list_users(self) -> list[User]:
        users = [u for u in services.list_users(self.db) if u.active]
        return sorted(users, key=lambda u: u.username)

    def add_user(
        self, username: str, password: str, role: Role | str, *, actor: User | None = None
    ) -> User:
        return services.create_user(self.db, username, password, role, actor=actor)

    def _known(self, user_id: UserId) -> int:
        key = parse_user_id(user_id)
        if key is None or services.find_user(self.db, key) is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return key

    def deactivate_user(self, user_id: UserId, *, actor: User | None = None) -> None:
        services.deactivate_user(self.db, self._known(user_id), actor=actor)

    def verify_password(self, user_id: UserId, password: str) -> bool:
        key = parse_user_id(user_id)
        user = services.find_user(self.db, key) if key is not None else None
        match = services.authenticate(self.db, user.username if user else "", password)
        return user is not None and match is not None and match.id == user.id

    def set_profile(
        self,
        user_id: UserId,
        display_name: str,
        practitioner_id: int | None,
        *,
        actor: User | None = None,
    ) -> User:
        return services.accounts.set_staff_profile(
            self.db,
            self._known(user_id),
            display_name=display_name,
            practitioner_id=practitioner_id,
            actor=actor,
        )

    def set_password(self, user_id: UserId, password: str, *, actor: User | None = None) -> None:
        services.accounts.check_password(password)
        services.set_password(self.db, self._known(user_id), password, actor=actor)


class DbTokenStore:
    """:class:`~needleplan.web.auth.TokenStore` over :mod:`needleplan.services.tokens`
    (SHA-256 digests; issuing, revoking and listing need the users permission)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue_token(
        self,
        user_id: UserId,
        label: str,
        *,
        actor: User | None = None,
        scope: TokenScope | str = TokenScope.WRITE,
        days: int = TOKEN_DAYS_DEFAULT,
    ) -> str:
        key = parse_user_id(user_id)
        if key is None:
            raise NotFoundError(f"no user with id {user_id}")
        token, _info = services.issue_api_token(
            self.db, key, label, actor=actor, scope=scope, days=days
        )
        return token

    def grant_for_token(self, token: str) -> TokenGrant | None:
        grant = services.api_token_grant(self.db, token)
        if grant is None:
            return None
        return TokenGrant(grant.user, TokenScope(grant.scope))

    def user_for_token(self, token: str) -> User | None:
        return services.user_for_api_token(self.db, token)

    def revoke_token(self, token_id: int, *, actor: User | None = None) -> ApiTokenInfo:
        return services.revoke_api_token(self.db, token_id, actor=actor)

    def list_tokens(
        self, *, actor: User | None = None, user_id: int | None = None
    ) -> list[ApiTokenInfo]:
        return services.list_api_tokens(self.db, user_id, actor=actor)


def _session(info: StaffSessionInfo) -> StaffSession:
    return StaffSession(
        id=str(info.id),
        user_id=info.user_id,
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

    def start(self, user_id: UserId, user_agent: str) -> str:
        key = parse_user_id(user_id)
        if key is None:
            raise NotFoundError(f"no user with id {user_id}")
        token, _info = staff_sessions.start_session(
            self.db, key, user_agent, self._policy, now=self.now()
        )
        return token

    def find(self, token: str) -> StaffSession | None:
        info = staff_sessions.find_session(self.db, token, self._policy, now=self.now())
        return _session(info) if info is not None else None

    def identify(self, token: str) -> StaffIdentity | None:
        """The live session behind ``token`` with its account, kiosk lock and pending setup,
        read in one transaction (see :func:`needleplan.services.staff_identity.identify`)."""
        return staff_identity.identify(self.db, token, self._policy, now=self.now())

    @staticmethod
    def as_staff_session(identity: StaffIdentity) -> StaffSession:
        """The web's view of an identity's session."""
        return _session(identity.session)

    def end(self, token: str) -> None:
        staff_sessions.end_session(self.db, token, now=self.now())

    def end_all(self, user_id: UserId, *, keep: str | None = None) -> int:
        key = parse_user_id(user_id)
        if key is None:
            return 0
        keep_id = int(keep) if keep is not None and keep.isdigit() and len(keep) < 12 else None
        return staff_sessions.end_user_sessions(
            self.db, key, self._policy, keep_id=keep_id, now=self.now()
        )

    def active(self, user_id: UserId) -> list[StaffSession]:
        key = parse_user_id(user_id)
        if key is None:
            return []
        found = staff_sessions.active_sessions(self.db, key, self._policy, now=self.now())
        return [_session(i) for i in found]

    def active_counts(self) -> dict[int, int]:
        return staff_sessions.active_session_counts(self.db, self._policy, now=self.now())

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


@contextmanager
def audited(
    db: Database, user: User, action: str, patient_id: int | None = None, detail: str = ""
) -> Iterator[AuditNote]:
    """Run a route's use-case and its audit event in one transaction, as ``user``: see
    :func:`needleplan.services.audit.audited`, which first checks the user's role may do
    ``action`` and records an account of another store by name (``user=<name>``).

    ``detail`` carries ids and counts only, never patient data.
    """
    with services.audited(db, user, action, patient_id, detail) as note:
        yield note


def audit(
    db: Database, user: User, action: str, patient_id: int | None = None, detail: str = ""
) -> None:
    """Append an audit event on its own, for an event that is itself the record (a page view
    whose data was read in the same request). Changes use :func:`audited`.
    """
    with audited(db, user, action, patient_id, detail):
        pass

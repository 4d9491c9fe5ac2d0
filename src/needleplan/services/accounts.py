"""Staff accounts: the password hasher, and the account use-cases with their role checks.

The account value and its rules (roles, permissions, the user-name and password rules) live in
:mod:`needleplan.domain.accounts`; here is what needs a hasher or the database. There is one
hasher for every account everywhere (database and the web app's in-memory store):
:func:`password_hasher`, replaced with :func:`use_password_hasher` (tests install a cheap argon2
profile once per session; a deployment may tune the cost).

Use-cases that change or list accounts take ``actor``, the account doing it, and refuse with
:class:`~needleplan.exceptions.PermissionDeniedError` unless its role has the
:attr:`~needleplan.domain.accounts.Permission.USERS` permission (admins). ``actor=None`` is the
system itself: creating the first admin on the server (``needleplan user add``), the demo logins.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from needleplan.domain.accounts import (
    PASSWORD_MAX,
    Permission,
    Role,
    User,
    check_username,
    normalise_username,
    parse_role,
    require_permission,
)
from needleplan.domain.accounts import check_password as _check_password
from needleplan.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from needleplan.services._clock import utc_now
from needleplan.storage import Database

_hasher = PasswordHasher()


# --------------------------------------------------------------------------- the hasher


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


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("needleplan-dummy-password")


def check_password(password: str, field: str = "password") -> None:
    """The password rule (see :func:`needleplan.domain.accounts.check_password`)."""
    _check_password(password, field)


def hash_password(password: str, field: str = "password") -> str:
    """The argon2id hash of a new password that meets the rule (InputError naming ``field``)."""
    _check_password(password, field)
    return _hasher.hash(password)


def verify_password(digest: str | None, password: str) -> bool:
    """Whether ``password`` matches ``digest``; ``None`` (no such account) costs the same and is
    False, so response times do not reveal which user names exist."""
    if len(password) > PASSWORD_MAX:
        return False
    try:
        _hasher.verify(digest if digest is not None else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return digest is not None


def needs_rehash(digest: str) -> bool:
    """Whether ``digest`` was made with other parameters than the hasher in use."""
    return _hasher.check_needs_rehash(digest)


# --------------------------------------------------------------------------- authorisation


def require_role(user: User, *roles: Role, action: str = "do this") -> None:
    """Raise :class:`PermissionDeniedError` naming the user, its role and ``action`` unless
    ``user`` has one of ``roles``."""
    if user.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(
            f"{user.username} ({user.role.value}) may not {action}: it needs role {allowed}"
        )


def _admin(actor: User | None, action: str) -> None:
    if actor is not None:
        require_permission(actor, Permission.USERS, action)


# --------------------------------------------------------------------------- use-cases


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role | str,
    *,
    practitioner_id: int | None = None,
    actor: User | None = None,
) -> User:
    """Create a staff account; the password is stored only as an argon2id hash.

    Raises InputError for a bad field, ConflictError for a taken name, PermissionDeniedError
    when ``actor`` may not manage accounts.
    """
    _admin(actor, "create accounts")
    name = check_username(username)
    parsed_role = parse_role(role)
    digest = hash_password(password)
    with db.transaction() as uow:
        if practitioner_id is not None:
            uow.clinics.practitioner(practitioner_id)
        return uow.users.add(name, digest, parsed_role, practitioner_id, utc_now())


def authenticate(db: Database, username: str, password: str) -> User | None:
    """The active user whose password matches, else ``None`` (same answer for every failure)."""
    name = normalise_username(username)
    with db.transaction() as uow:
        found = uow.users.credentials(name)
        if found is None or not found[0].active:
            verify_password(None, password)
            return None
        user, stored = found
        if not verify_password(stored, password):
            return None
        if needs_rehash(stored):
            uow.users.set_password_hash(user.id, _hasher.hash(password))
        return user


def set_password(
    db: Database,
    user_id: int,
    password: str,
    *,
    actor: User | None = None,
    force_change: bool | None = None,
) -> None:
    """Replace an account's password: one's own, or anyone's as an admin.

    A password an admin sets for another account must be changed at that account's next
    sign-in (``force_change`` overrides: the CLI's ``user reset-password`` forces it too); one's
    own new password clears a pending forced change.
    """
    if actor is not None and actor.id != user_id:
        _admin(actor, "set another account's password")
    force = (
        force_change if force_change is not None else (actor is not None and actor.id != user_id)
    )
    digest = hash_password(password)
    with db.transaction() as uow:
        uow.users.set_password_hash(user_id, digest)
        uow.api_tokens.revoke_all(user_id, utc_now())  # a new password ends its API tokens
        if force or uow.account_security.get(user_id).must_change_password:
            uow.account_security.update(user_id, utc_now(), must_change_password=force)


def deactivate_user(db: Database, user_id: int, *, actor: User | None = None) -> None:
    """Close an account: it can no longer sign in (its row stays for the audit log).

    The last active admin cannot be closed (StateError): the clinic would lose every way to
    manage accounts. The active admins are locked first, so two admins closing each other at
    once cannot both succeed.
    """
    _admin(actor, "deactivate accounts")
    with db.transaction() as uow:
        user = uow.users.get(user_id)
        last = user.active and user.role is Role.ADMIN
        if last and len(uow.users.lock_active_ids(Role.ADMIN)) <= 1:
            raise StateError(f"user {user_id} is the last active admin; make another admin first")
        uow.users.set_active(user_id, False)
        uow.api_tokens.revoke_all(user_id, utc_now())


#: Longest display name of a staff account [characters].
MAX_DISPLAY_NAME = 120


def check_display_name(value: str) -> str:
    """A display name: one printable line, at most :data:`MAX_DISPLAY_NAME` characters."""
    clean = value.strip() if isinstance(value, str) else ""
    if not isinstance(value, str) or len(clean) > MAX_DISPLAY_NAME or not clean.isprintable():
        raise InputError.one(
            "display_name",
            str(value)[:40],
            f"must be one line of printable text, at most {MAX_DISPLAY_NAME} characters",
        )
    return clean


def set_staff_profile(
    db: Database,
    user_id: int,
    *,
    display_name: str,
    practitioner_id: int | None,
    actor: User | None = None,
) -> User:
    """Name an account for people (empty: its user name) and link it to a practitioner (None:
    none), audited as ``user.profile`` in the same transaction.

    Raises
    ------
    InputError
        for a bad display name or a practitioner id the clinic does not have.
    NotFoundError
        for an account that does not exist.
    """
    _admin(actor, "change accounts")
    name = check_display_name(display_name)
    from needleplan.services.audit import audited  # deferred: audit imports this module's peers

    with audited(db, actor, "user.profile") as note, db.transaction() as uow:
        if practitioner_id is not None and practitioner_id not in {
            p.id for p in uow.clinics.practitioners()
        }:
            raise InputError.one(
                "practitioner", practitioner_id, "must be one of the clinic's practitioners"
            )
        user = uow.users.set_profile(user_id, name, practitioner_id)
        note.detail = f"user {user_id} practitioner {practitioner_id}"
        return user


def list_users(db: Database, *, actor: User | None = None) -> list[User]:
    """Every account (active or not)."""
    _admin(actor, "list accounts")
    with db.transaction() as uow:
        return uow.users.all()


def stored_account_id(db: Database, user: User | None) -> int | None:
    """``user.id`` when ``user`` is this database's account (same id and name), else ``None``
    (the system, or an account of another store such as the web app's in-memory one)."""
    if user is None:
        return None
    with db.transaction() as uow:
        stored = uow.users.by_username(user.username)
        return user.id if stored is not None and stored.id == user.id else None


def find_user(db: Database, user_id: int) -> User | None:
    """The account with this id (active or not), or ``None``."""
    with db.transaction() as uow:
        try:
            return uow.users.get(user_id)
        except NotFoundError:
            return None


def find_username(db: Database, username: str) -> User | None:
    """The account with this user name (active or not), or ``None``."""
    with db.transaction() as uow:
        return uow.users.by_username(normalise_username(username))


__all__ = [
    "authenticate",
    "check_password",
    "create_user",
    "deactivate_user",
    "find_user",
    "find_username",
    "hash_password",
    "list_users",
    "needs_rehash",
    "password_hasher",
    "require_role",
    "set_password",
    "stored_account_id",
    "use_password_hasher",
    "verify_password",
]

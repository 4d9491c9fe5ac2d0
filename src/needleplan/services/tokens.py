"""API bearer tokens: issue, look up, revoke, list (only a digest is stored).

Issuing, revoking and listing take ``actor`` and need the
:attr:`~needleplan.domain.accounts.Permission.USERS` permission (admins); ``actor=None`` is the
system itself.
"""

from __future__ import annotations

from needleplan.domain.accounts import Permission, User, require_permission
from needleplan.exceptions import (
    InputError,
    StateError,
)
from needleplan.services._clock import utc_now
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.storage import Database
from needleplan.storage.repositories import (
    ApiTokenInfo,
)

API_TOKEN_PREFIX = "np_"


def _admin(actor: User | None, action: str) -> None:
    if actor is not None:
        require_permission(actor, Permission.USERS, action)


def issue_api_token(
    db: Database, user_id: int, label: str, *, actor: User | None = None
) -> tuple[str, ApiTokenInfo]:
    """A new random bearer token for ``user_id``; only its SHA-256 digest is stored.

    Returns the token (shown once, never again) and its stored description.
    """
    _admin(actor, "issue API tokens")
    clean = label.strip()
    if not clean or len(clean) > 80 or not clean.isprintable():
        raise InputError.one("label", label, "1-80 printable characters naming the integration")
    token = API_TOKEN_PREFIX + new_secret()
    with db.transaction() as uow:
        if not uow.users.get(user_id).active:
            raise StateError(f"user {user_id} is deactivated")
        info = uow.api_tokens.add(user_id, secret_digest(token), clean, utc_now())
    return token, info


def user_for_api_token(db: Database, token: str) -> User | None:
    """The active user owning an unrevoked token, or ``None``."""
    if not token or len(token) > 200:
        return None
    with db.transaction() as uow:
        return uow.api_tokens.owner(secret_digest(token))


def revoke_api_token(db: Database, token_id: int, *, actor: User | None = None) -> ApiTokenInfo:
    """Revoke a token (it stops working at once; the row stays for the record)."""
    _admin(actor, "revoke API tokens")
    with db.transaction() as uow:
        return uow.api_tokens.revoke(token_id, utc_now())


def list_api_tokens(
    db: Database, user_id: int | None = None, *, actor: User | None = None
) -> list[ApiTokenInfo]:
    """Every token (or ``user_id``'s), revoked ones included, without the secrets."""
    _admin(actor, "list API tokens")
    with db.transaction() as uow:
        return uow.api_tokens.all(user_id)

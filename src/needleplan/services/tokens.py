"""API bearer tokens: issue, look up, revoke, list (only a digest is stored).

Who may issue a token (:func:`needleplan.domain.accounts.may_issue_token`): its owner, or an
admin for an account without clinical access (an integration account); an admin cannot give
itself a practitioner's clinical access through a token. A token carries a scope (``read`` or
``write``) and an expiry (90 days unless the issuer picks fewer, 365 at most), records who
issued it, and ends when its owner's password changes or the account is closed. Issuing and
revoking are audited in the same transaction (``token.issue``, ``token.revoke``); what a token
does is audited under its owner with ``token=<id>`` in the detail. ``actor=None`` is the system
itself (setup scripts, tests).
"""

from __future__ import annotations

from datetime import timedelta

from needleplan.domain.accounts import (
    TOKEN_DAYS_DEFAULT,
    Permission,
    TokenScope,
    User,
    check_token_days,
    may_issue_token,
    may_revoke_token,
    parse_token_scope,
    require_permission,
)
from needleplan.exceptions import InputError, StateError
from needleplan.services._clock import utc_now
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.services.audit import audited, recorded_as
from needleplan.storage import Database
from needleplan.storage.repositories import ApiTokenGrant, ApiTokenInfo

API_TOKEN_PREFIX = "np_"


def issue_api_token(
    db: Database,
    user_id: int,
    label: str,
    *,
    actor: User | None = None,
    scope: TokenScope | str = TokenScope.WRITE,
    days: int = TOKEN_DAYS_DEFAULT,
) -> tuple[str, ApiTokenInfo]:
    """A new random bearer token for ``user_id``; only its SHA-256 digest is stored.

    Returns the token (shown once, never again) and its stored description.

    Raises
    ------
    PermissionDeniedError
        when ``actor`` is neither the owner nor an admin issuing for an account without
        clinical access.
    StateError
        when the account is closed.
    """
    clean = label.strip()
    if not clean or len(clean) > 80 or not clean.isprintable():
        raise InputError.one("label", label, "1-80 printable characters naming the integration")
    chosen = parse_token_scope(scope)
    lifetime = check_token_days(days)
    token = API_TOKEN_PREFIX + new_secret()
    now = utc_now()
    with audited(db, actor, "token.issue") as note:
        with db.transaction() as uow:
            owner = uow.users.get(user_id)
            if actor is not None:
                may_issue_token(actor, owner)
            if not owner.active:
                raise StateError(f"user {user_id} is deactivated")
            info = uow.api_tokens.add(
                user_id,
                secret_digest(token),
                clean,
                now,
                scope=chosen.value,
                expires_at=now + timedelta(days=lifetime),
                issued_by=recorded_as(uow, actor)[0],
            )
        note.detail = f"token {info.id} for user {user_id} scope={chosen.value} days={lifetime}"
    return token, info


def api_token_grant(db: Database, token: str) -> ApiTokenGrant | None:
    """What a presented token grants (its owner acting through it, and its scope), or ``None``
    for an unknown, revoked or expired token or a closed account."""
    if not token or len(token) > 200:
        return None
    with db.transaction() as uow:
        return uow.api_tokens.grant(secret_digest(token), utc_now())


def user_for_api_token(db: Database, token: str) -> User | None:
    """The active user owning a live token (acting through it), or ``None``."""
    grant = api_token_grant(db, token)
    return grant.user if grant is not None else None


def revoke_api_token(db: Database, token_id: int, *, actor: User | None = None) -> ApiTokenInfo:
    """Revoke a token (it stops working at once; the row stays for the record): its owner's
    own, or any as an admin. Audited as ``token.revoke``."""
    with (
        audited(db, actor, "token.revoke", detail=f"token {token_id}"),
        db.transaction() as uow,
    ):
        info = uow.api_tokens.get(token_id)
        if actor is not None:
            may_revoke_token(actor, info.user_id)
        return uow.api_tokens.revoke(token_id, utc_now())


def list_api_tokens(
    db: Database, user_id: int | None = None, *, actor: User | None = None
) -> list[ApiTokenInfo]:
    """Every token (or ``user_id``'s), revoked and expired ones included, without the secrets.
    An admin lists any; another account only its own."""
    if actor is not None and user_id != actor.id:
        require_permission(actor, Permission.USERS, "list other accounts' API tokens")
    with db.transaction() as uow:
        return uow.api_tokens.all(user_id)


def revoke_tokens_of(db: Database, user_id: int) -> list[int]:
    """Revoke every live token of ``user_id`` inside the caller's transaction (its password
    changed or the account was closed); the ids ended."""
    with db.transaction() as uow:
        return uow.api_tokens.revoke_all(user_id, utc_now())

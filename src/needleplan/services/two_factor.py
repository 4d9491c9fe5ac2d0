"""Two-factor sign-in (TOTP, RFC 6238, with ``pyotp``), recovery codes, forced password changes
and the clinic-wide "staff must use two-factor sign-in" setting.

Enrolment is two steps: :func:`start_enrolment` makes a secret (kept as *pending*) and returns it
with its ``otpauth://`` URI (for a QR code); :func:`confirm_enrolment` takes a code from the
authenticator app, switches the second factor on and returns ten recovery codes, shown once and
stored only as SHA-256 digests. :func:`verify_second_factor` accepts a current code (one 30-second
step either side for clock drift, never the same step twice) or an unused recovery code (which is
then used up). Rate-limiting code attempts is the caller's (the web app's sign-in limiter).

Every change is audited in its own transaction (``account.2fa.*``, ``account.password.*``,
``settings.two_factor_required``); a failed or accepted code is audited as well
(``account.2fa.refused``, ``account.2fa.recovery_used``). Audit details carry ids, never a code.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp

from needleplan.domain.accounts import Permission, User, require_permission
from needleplan.exceptions import InputError, NotFoundError, StateError
from needleplan.services._clock import utc_now
from needleplan.services._secrets import secret_digest
from needleplan.services.accounts import check_password, set_password
from needleplan.services.audit import audited, record_audit
from needleplan.storage import Database

#: The issuer name authenticator apps show next to the account.
ISSUER = "needleplan"
#: How many recovery codes an enrolment (or a regeneration) gives.
RECOVERY_CODES = 10
#: The setting key of "every staff account must use two-factor sign-in".
REQUIRED_KEY = "two_factor_required"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class TwoFactorStatus:
    """What an account's sign-in needs: whether its second factor is on, whether the clinic
    requires one, whether it must change its password, and how many recovery codes are left."""

    enabled: bool
    required: bool
    must_change_password: bool
    recovery_codes_left: int

    @property
    def must_enrol(self) -> bool:
        return self.required and not self.enabled


@dataclass(frozen=True)
class Enrolment:
    """A pending enrolment: the secret (base32) and its ``otpauth://`` provisioning URI."""

    secret: str
    uri: str


def _account(db: Database, user_id: int) -> User:
    with db.transaction() as uow:
        return uow.users.get(user_id)


def two_factor_required(db: Database) -> bool:
    """Whether every staff account must use two-factor sign-in (the admin's setting)."""
    with db.transaction() as uow:
        return uow.settings.get(REQUIRED_KEY) == "on"


def set_two_factor_required(db: Database, required: bool, *, actor: User | None = None) -> None:
    """Require (or stop requiring) two-factor sign-in of every staff account (admins only).

    Accounts without a second factor are sent to enrol after their next password sign-in.
    """
    if actor is not None:
        require_permission(actor, Permission.USERS, "change the two-factor requirement")
    value = "on" if required else "off"
    with (
        audited(db, actor, "settings.two_factor_required", detail=f"value={value}"),
        db.transaction() as uow,
    ):
        uow.settings.put(REQUIRED_KEY, value, utc_now(), actor.username if actor else "system")


def status(db: Database, user_id: int) -> TwoFactorStatus:
    """The sign-in state of account ``user_id``."""
    with db.transaction() as uow:
        state = uow.account_security.get(user_id)
        return TwoFactorStatus(
            enabled=state.totp_enabled,
            required=uow.settings.get(REQUIRED_KEY) == "on",
            must_change_password=state.must_change_password,
            recovery_codes_left=uow.account_security.recovery_codes_left(user_id),
        )


def enrolled_ids(db: Database) -> set[int]:
    """The ids of the accounts with a second factor switched on."""
    with db.transaction() as uow:
        return uow.account_security.enrolled_ids()


def start_enrolment(db: Database, actor: User) -> Enrolment:
    """A new pending secret for ``actor``'s own account (a second factor already on stays on
    until the new one is confirmed)."""
    secret = pyotp.random_base32()
    with db.transaction() as uow:
        uow.account_security.update(actor.id, utc_now(), totp_pending=secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=actor.username, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def pending_enrolment(db: Database, actor: User) -> Enrolment | None:
    """The enrolment ``actor`` started and has not confirmed yet, or None."""
    with db.transaction() as uow:
        secret = uow.account_security.get(actor.id).totp_pending
    if secret is None:
        return None
    uri = pyotp.TOTP(secret).provisioning_uri(name=actor.username, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def _clean_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step (of now and one either side) whose code is ``code`` and later than
    ``after``, or None."""
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _recovery_digest(user_id: int, code: str) -> str:
    return secret_digest(f"{user_id}:{_clean_code(code)}")


def _new_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def confirm_enrolment(
    db: Database, actor: User, code: str, *, now: datetime | None = None
) -> list[str]:
    """Switch the second factor on with the pending secret when ``code`` is its current code;
    returns the new recovery codes (shown once). InputError naming ``code`` otherwise."""
    moment = now or utc_now()
    with (
        audited(db, actor, "account.2fa.enrol", detail=f"user {actor.id}"),
        db.transaction() as uow,
    ):
        state = uow.account_security.get(actor.id, lock=True)
        if state.totp_pending is None:
            raise StateError("start the enrolment first: there is no pending secret")
        step = _matching_step(state.totp_pending, _clean_code(code), moment, None)
        if step is None:
            raise InputError.one(
                "code", "<hidden>", "must be the 6-digit code your authenticator app shows now"
            )
        uow.account_security.update(
            actor.id,
            moment,
            totp_secret=state.totp_pending,
            totp_pending=None,
            totp_enabled_at=moment,
            totp_last_step=step,
        )
        codes = _new_codes()
        digests = [_recovery_digest(actor.id, c) for c in codes]
        uow.account_security.replace_recovery_codes(actor.id, digests, moment)
    return codes


def regenerate_recovery_codes(db: Database, actor: User) -> list[str]:
    """New recovery codes for ``actor``'s own account (the old ones stop working)."""
    with (
        audited(db, actor, "account.2fa.recovery_codes", detail=f"user {actor.id}"),
        db.transaction() as uow,
    ):
        if not uow.account_security.get(actor.id).totp_enabled:
            raise StateError("two-factor sign-in is not on for this account")
        codes = _new_codes()
        digests = [_recovery_digest(actor.id, c) for c in codes]
        uow.account_security.replace_recovery_codes(actor.id, digests, utc_now())
    return codes


def verify_second_factor(
    db: Database, user_id: int, code: str, *, now: datetime | None = None
) -> bool:
    """Whether ``code`` is account ``user_id``'s current TOTP code (not used before) or one of
    its unused recovery codes (used up now). Both outcomes are audited."""
    moment = now or utc_now()
    user = _account(db, user_id)
    clean = _clean_code(code)
    how = ""
    if 0 < len(clean) <= 40:
        with db.transaction() as uow:
            state = uow.account_security.get(user_id, lock=True)
            if state.totp_secret is not None:
                step = _matching_step(state.totp_secret, clean, moment, state.totp_last_step)
                if step is not None:
                    uow.account_security.update(user_id, moment, totp_last_step=step)
                    how = "totp"
                elif uow.account_security.use_recovery_code(
                    user_id, _recovery_digest(user_id, clean), moment
                ):
                    how = "recovery"
                if how:
                    action = "account.2fa.recovery_used" if how == "recovery" else "account.signin"
                    record_audit(db, user, action, detail=f"user {user_id} second_factor={how}")
    if not how:
        record_audit(db, user, "account.2fa.refused", detail=f"user {user_id} wrong code")
    return bool(how)


def disable_two_factor(db: Database, user_id: int, *, actor: User | None) -> None:
    """Switch account ``user_id``'s second factor off and forget its recovery codes: one's own,
    or another account's as an admin (a lost phone). While the clinic requires two-factor
    sign-in, the account is sent to enrol again at its next sign-in."""
    if actor is not None and actor.id != user_id:
        require_permission(actor, Permission.USERS, "reset another account's two-factor sign-in")
    _account(db, user_id)
    with (
        audited(db, actor, "account.2fa.disable", detail=f"user {user_id}"),
        db.transaction() as uow,
    ):
        uow.account_security.update(
            user_id,
            utc_now(),
            totp_secret=None,
            totp_pending=None,
            totp_enabled_at=None,
            totp_last_step=None,
        )
        uow.account_security.replace_recovery_codes(user_id, [], utc_now())


def reset_password(db: Database, user_id: int, password: str, *, actor: User | None) -> None:
    """An admin (or the system, from the server's CLI) gives account ``user_id`` a new password
    that it must change at its next sign-in; its API tokens and browser sessions end. Not one's
    own."""
    if actor is not None:
        require_permission(actor, Permission.USERS, "reset another account's password")
        if actor.id == user_id:
            raise StateError("change your own password under My account (it asks for it)")
    from needleplan.services.staff_sessions import SessionPolicy, end_user_sessions

    check_password(password, "new_password")
    with audited(
        db, actor, "account.password.reset", detail=f"user {user_id} must_change=yes"
    ) as note:
        _account(db, user_id)
        set_password(db, user_id, password, actor=actor, force_change=True)
        ended = end_user_sessions(db, user_id, SessionPolicy())
        note.detail = f"{note.detail} sessions_ended={ended}"


def clear_password_change(db: Database, user_id: int) -> None:
    """The account has chosen its own password: no forced change is pending any more."""
    with db.transaction() as uow:
        if uow.account_security.get(user_id).must_change_password:
            uow.account_security.update(user_id, utc_now(), must_change_password=False)


def find_account(db: Database, username: str) -> User:
    """The account with this user name (NotFoundError naming it otherwise)."""
    from needleplan.services.accounts import find_username

    user = find_username(db, username)
    if user is None:
        raise NotFoundError(f"no account named {username!r}")
    return user


__all__ = [
    "ISSUER",
    "RECOVERY_CODES",
    "Enrolment",
    "TwoFactorStatus",
    "clear_password_change",
    "confirm_enrolment",
    "disable_two_factor",
    "enrolled_ids",
    "find_account",
    "pending_enrolment",
    "regenerate_recovery_codes",
    "reset_password",
    "set_two_factor_required",
    "start_enrolment",
    "status",
    "two_factor_required",
    "verify_second_factor",
]

"""Who is asking: everything a staff request needs to know about its session, read in one go.

Before a staff page does its own work it must know the live session behind the cookie, its
account (still active?), whether the browser is locked to a patient's intake form (kiosk mode)
and whether the account must first change its password or enrol a second factor. Each of those
is a point lookup; :func:`identify` reads them all in **one** transaction (and records the use in
``last_seen_at`` when due, as :func:`needleplan.services.staff_sessions.find_session` does),
instead of one transaction per question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from needleplan.domain.accounts import User
from needleplan.domain.intake import KioskLock
from needleplan.exceptions import NotFoundError
from needleplan.services._clock import utc_now
from needleplan.services.staff_sessions import TOKEN_MAX, SessionPolicy, session_digest
from needleplan.services.two_factor import REQUIRED_KEY
from needleplan.storage.staff_sessions import StaffSessionInfo

if TYPE_CHECKING:
    from needleplan.storage.database import Database


@dataclass(frozen=True)
class StaffIdentity:
    """A live session and what it implies for this request.

    Attributes
    ----------
    session
        the live session behind the token.
    user
        its account, or None when the account is gone or deactivated (the request then counts
        as signed out).
    kiosk
        the intake kiosk lock of this browser session, or None.
    must_change_password
        the account must change a password an admin set before any other staff page.
    must_enrol
        the clinic requires a second factor and this account has none yet.
    """

    session: StaffSessionInfo
    user: User | None
    kiosk: KioskLock | None
    must_change_password: bool
    must_enrol: bool


def identify(
    db: Database, token: str, policy: SessionPolicy, *, now: datetime | None = None
) -> StaffIdentity | None:
    """The live session behind ``token`` with its account, kiosk lock and pending setup, or None
    (unknown, revoked, expired or idle session; a token too long to be ours is refused unread)."""
    if not token or len(token) > TOKEN_MAX:
        return None
    at = now or utc_now()
    digest = session_digest(token)
    with db.transaction() as uow:
        info = uow.staff_sessions.live_by_digest(digest, at, policy.idle_cutoff(at))
        if info is None:
            return None
        if policy.needs_touch(at, info.last_seen_at):
            uow.staff_sessions.touch(info.id, at)
        try:
            user: User | None = uow.users.get(info.user_id)
        except NotFoundError:
            user = None
        if user is not None and not user.active:
            user = None
        kiosk = uow.intake.kiosk(digest)
        security = uow.account_security.get(info.user_id)
        required = uow.settings.get(REQUIRED_KEY) == "on"
    return StaffIdentity(
        session=info,
        user=user,
        kiosk=kiosk,
        must_change_password=security.must_change_password,
        must_enrol=required and not security.totp_enabled,
    )


__all__ = ["StaffIdentity", "identify"]

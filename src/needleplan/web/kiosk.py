"""Kiosk mode: a staff browser session locked to one patient's intake form.

A member of staff starts it from the patient's page and hands the tablet over. From then on the
session (identified by the digest of its cookie token, kept in ``intake_kiosks``) reaches only
:data:`KIOSK_PATHS`: :func:`kiosk_guard`, an app-wide dependency, refuses every other ``/app``
route (and signing out) with a 403 page that shows nothing but the way back to the form, whatever
the route and whichever role signed the session in. A member of staff ends it with their user name and
password (``/app/kiosk/unlock``).
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from needleplan.domain.intake import KioskLock
from needleplan.services.intake import kiosk_lock
from needleplan.services.staff_sessions import session_digest
from needleplan.storage.database import Database
from needleplan.web.security import SESSION_COOKIE, current_session, staff_identity

#: The only staff paths a session in kiosk mode reaches.
KIOSK_PATHS = frozenset({"/app/kiosk", "/app/kiosk/unlock"})


class KioskLockedError(Exception):
    """A session in kiosk mode asked for another staff page (answered with a 403 page)."""


def session_key(request: Request) -> str | None:
    """The digest of this browser's live session token (the kiosk lock's key), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or current_session(request) is None:
        return None
    return session_digest(token)


def current_kiosk(request: Request) -> KioskLock | None:
    """This session's kiosk lock (looked up once per request), or None."""
    cached = getattr(request.state, "kiosk", False)
    if cached is not False:
        return cached if isinstance(cached, KioskLock) else None
    db: Database | None = getattr(request.app.state, "db", None)
    key = session_key(request) if db is not None else None
    identity = staff_identity(request) if key is not None else None
    if identity is not None:  # read with the session, in the same transaction
        lock = identity.kiosk
    else:
        lock = kiosk_lock(db, key) if db is not None and key is not None else None
    request.state.kiosk = lock
    return lock


async def kiosk_guard(request: Request) -> None:
    """App-wide dependency: a session in kiosk mode reaches only :data:`KIOSK_PATHS` (no other
    staff page, and it cannot be signed out without a staff password).

    Asynchronous, so the requests it does not concern (the API, the portal, public pages) pay
    no hand-off to the thread pool; the lock is looked up there (it reads the database)."""
    path = request.url.path
    if not (path.startswith("/app") or path == "/logout") or path in KIOSK_PATHS:
        return
    if await run_in_threadpool(current_kiosk, request) is not None:
        raise KioskLockedError(path)


__all__ = ["KIOSK_PATHS", "KioskLockedError", "current_kiosk", "kiosk_guard", "session_key"]

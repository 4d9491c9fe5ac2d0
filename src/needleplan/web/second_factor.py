"""The sign-in's second step between the password and the code (issue 17, accounts).

Between a right password and a right code the browser holds ``needleplan_2fa``: the account id
and an expiry (:data:`PENDING_S`) signed with the app's secret and bound to the visitor's CSRF
cookie. It is not a session: only a right code (or an unused recovery code) starts one
(:mod:`needleplan.web.routes.two_factor`). Second factors live in the clinic database
(:mod:`needleplan.services.two_factor`); an app with in-memory accounts has none.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from needleplan.services import two_factor
from needleplan.storage.database import Database
from needleplan.web.auth import StaffUser, parse_user_id
from needleplan.web.security import CSRF_COOKIE
from needleplan.web.settings import Settings

PENDING_COOKIE = "needleplan_2fa"
#: Seconds between a right password and the code before the browser starts over.
PENDING_S = 300


def account_database(request: Request) -> Database | None:
    """The clinic database when the app's accounts live there (else no second factors)."""
    from needleplan.web.db_stores import DbUserStore

    store = request.app.state.user_store
    return store.db if isinstance(store, DbUserStore) else None


def _signature(request: Request, user_id: int, expires: int) -> str:
    settings: Settings = request.app.state.settings
    raw = request.cookies.get(CSRF_COOKIE, "")
    message = f"2fa:{user_id}:{expires}:{raw}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def needs_second_factor(request: Request, user: StaffUser) -> bool:
    """Whether ``user``'s sign-in needs a code after the password."""
    db = account_database(request)
    return db is not None and two_factor.status(db, user.id).enabled


def ask_for_code(request: Request, user: StaffUser, next_path: str) -> Response:
    """The password was right: remember that for :data:`PENDING_S` and ask for the code
    (``next_path`` must already be a safe local destination)."""
    expires = int(time.time()) + PENDING_S
    response = RedirectResponse("/login/2fa?next=" + quote(next_path, safe="/"), status_code=303)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        PENDING_COOKIE,
        f"{user.id}.{expires}.{_signature(request, user.id, expires)}",
        max_age=PENDING_S,
        httponly=True,
        samesite="lax",
        secure=settings.production,
        path="/login",
    )
    return response


def pending_user(request: Request) -> int | None:
    """The account whose password this browser gave in the last :data:`PENDING_S`, or None."""
    parts = request.cookies.get(PENDING_COOKIE, "").split(".")
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12):
        return None
    user_id, expires = parse_user_id(parts[0]), int(parts[1])
    if user_id is None or expires < time.time():
        return None
    if not hmac.compare_digest(_signature(request, user_id, expires), parts[2]):
        return None
    return user_id

"""Two-factor sign-in on the web (issue 17, accounts): the code step after the password
(:mod:`needleplan.web.second_factor` holds the pending state), my enrolment (QR code,
confirmation code, recovery codes shown once), and the admin's controls (require it for every
staff account, reset a lost second factor).

Second factors live in the clinic database (:mod:`needleplan.services.two_factor`); an app with
in-memory accounts has none (its pages answer 503). Code attempts share the sign-in rate
limiter (per account and per client).
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.exceptions import FieldProblem, InputError, PermissionDeniedError, StateError
from needleplan.services import two_factor
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser, UserStore, parse_user_id
from needleplan.web.errors import ApiError
from needleplan.web.ratelimit import Limiter, client_key
from needleplan.web.routes.pages import render, safe_next, users_page
from needleplan.web.second_factor import PENDING_COOKIE, account_database, pending_user
from needleplan.web.security import (
    CSRF_FIELD,
    SessionManager,
    check_csrf,
    require_permission,
    require_staff,
)

router = APIRouter(include_in_schema=False)


def _database(request: Request) -> Database:
    db = account_database(request)
    if db is None:
        raise ApiError.one(
            503, "database", None, "two-factor sign-in needs the accounts in the clinic database"
        )
    return db


StaffDep = Annotated[StaffUser, Depends(require_staff)]
AdminDep = Annotated[StaffUser, Depends(require_permission(Permission.USERS))]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
CodeField = Annotated[str, Form(max_length=100)]


def _code_page(
    request: Request, next_path: str, status_code: int = 200, error: str = ""
) -> HTMLResponse:
    return render(
        request,
        "login_2fa.html",
        status_code=status_code,
        next=safe_next(next_path),
        error=error or None,
    )


@router.get("/login/2fa", response_class=HTMLResponse)
def code_page(request: Request, next: str | None = None) -> Response:
    """The second step of signing in: the authenticator's code or a recovery code."""
    if pending_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    return _code_page(request, next or "/app/")


@router.post("/login/2fa", response_class=HTMLResponse)
def submit_code(
    request: Request,
    code: CodeField = "",
    next: Annotated[str, Form(max_length=2000)] = "/app/",
    csrf_token: CsrfField = "",
) -> Response:
    """Check the code; a right one starts the session (every attempt is audited)."""
    check_csrf(request, csrf_token)
    user_id = pending_user(request)
    if user_id is None:
        return RedirectResponse("/login", status_code=303)
    limiter: Limiter = request.app.state.login_limiter
    wait = max(
        limiter.take(f"2fa-user:{user_id}"), limiter.take("2fa-client:" + client_key(request))
    )
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return _code_page(
            request, next, 429, f"Too many codes tried. Try again in about {minutes} minute(s)."
        )
    users: UserStore = request.app.state.user_store
    user = users.get_user(user_id)
    db = _database(request)
    if user is None or not two_factor.verify_second_factor(db, user_id, code):
        return _code_page(request, next, 401, "That code is not right (or was already used).")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    sessions: SessionManager = request.app.state.sessions
    sessions.sign_in(request, response, user)
    return response


# --------------------------------------------------------------------------- my second factor


def _qr(uri: str) -> str:
    """The provisioning URI as an SVG data URI (the page's CSP allows ``data:`` images)."""
    data_uri: str = segno.make(uri, error="m").svg_data_uri(scale=4)
    return data_uri


def _my_page(
    request: Request, user: StaffUser, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    request.state.user = user
    db = _database(request)
    pending = two_factor.pending_enrolment(db, user)
    extra.setdefault("problems", [])
    return render(
        request,
        "app/account_2fa.html",
        status_code=status_code,
        state=two_factor.status(db, user.id),
        pending=pending,
        qr=_qr(pending.uri) if pending is not None else None,
        **extra,
    )


@router.get("/app/account/2fa", response_class=HTMLResponse)
def my_two_factor(request: Request, user: StaffDep) -> Any:
    """My second factor: its state, enrolment, recovery codes."""
    return _my_page(request, user)


@router.post("/app/account/2fa/start", response_class=HTMLResponse)
def start(request: Request, user: StaffDep, csrf_token: CsrfField = "") -> Any:
    """A new secret to scan (pending until a code confirms it)."""
    check_csrf(request, csrf_token)
    two_factor.start_enrolment(_database(request), user)
    return _my_page(request, user)


def _limited(request: Request, user: StaffUser) -> bool:
    limiter: Limiter = request.app.state.login_limiter
    return limiter.take(f"2fa-user:{user.id}") > 0


def _refused(request: Request, user: StaffUser, status_code: int, rule: str) -> Any:
    return _my_page(
        request, user, status_code=status_code, problems=[FieldProblem("code", "<hidden>", rule)]
    )


@router.post("/app/account/2fa/confirm", response_class=HTMLResponse)
def confirm(
    request: Request, user: StaffDep, code: CodeField = "", csrf_token: CsrfField = ""
) -> Any:
    """Switch the second factor on with a code from the app; the recovery codes, once."""
    check_csrf(request, csrf_token)
    if _limited(request, user):
        return _refused(request, user, 429, "too many codes tried; try again in a few minutes")
    try:
        codes = two_factor.confirm_enrolment(_database(request), user, code)
    except InputError as exc:
        return _my_page(request, user, status_code=422, problems=exc.problems)
    except StateError as exc:
        return _refused(request, user, 409, str(exc))
    return _my_page(request, user, recovery_codes=codes)


@router.post("/app/account/2fa/recovery-codes", response_class=HTMLResponse)
def new_recovery_codes(
    request: Request, user: StaffDep, code: CodeField = "", csrf_token: CsrfField = ""
) -> Any:
    """New recovery codes (a current code is asked for); the old ones stop working."""
    check_csrf(request, csrf_token)
    db = _database(request)
    if _limited(request, user):
        return _refused(request, user, 429, "too many codes tried; try again in a few minutes")
    if not two_factor.verify_second_factor(db, user.id, code):
        return _refused(request, user, 422, "must be a current code of your authenticator app")
    return _my_page(request, user, recovery_codes=two_factor.regenerate_recovery_codes(db, user))


@router.post("/app/account/2fa/disable", response_class=HTMLResponse)
def disable(
    request: Request, user: StaffDep, code: CodeField = "", csrf_token: CsrfField = ""
) -> Any:
    """Switch my second factor off (a current code is asked for); not while the clinic
    requires it."""
    check_csrf(request, csrf_token)
    db = _database(request)
    if two_factor.two_factor_required(db):
        return _refused(request, user, 409, "the clinic requires two-factor sign-in")
    if _limited(request, user):
        return _refused(request, user, 429, "too many codes tried; try again in a few minutes")
    if not two_factor.verify_second_factor(db, user.id, code):
        return _refused(request, user, 422, "must be a current code of your authenticator app")
    two_factor.disable_two_factor(db, user.id, actor=user)
    return _my_page(request, user, disabled=True)


# --------------------------------------------------------------------------- admin


@router.post("/app/admin/two-factor", response_class=HTMLResponse)
def require_for_staff(
    request: Request,
    user: AdminDep,
    required: Annotated[str, Form(max_length=10)] = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Require (or stop requiring) two-factor sign-in for every staff account."""
    check_csrf(request, csrf_token)
    request.state.user = user
    if required not in ("on", "off"):
        return users_page(request, status_code=422, problem="required: must be on or off")
    two_factor.set_two_factor_required(_database(request), required == "on", actor=user)
    return users_page(request, two_factor_changed=required)


@router.post("/app/admin/users/{user_id}/2fa/reset", response_class=HTMLResponse)
def reset_for(request: Request, user_id: str, user: AdminDep, csrf_token: CsrfField = "") -> Any:
    """Switch another account's second factor off (a lost phone); it enrols again."""
    check_csrf(request, csrf_token)
    request.state.user = user
    key = parse_user_id(user_id)
    users: UserStore = request.app.state.user_store
    target = users.get_user(key) if key is not None else None
    if target is None or key is None:
        raise ApiError.one(404, "user_id", user_id, "no such account")
    if key == user.id:
        return users_page(request, status_code=409, problem="Switch your own off under My account.")
    try:
        two_factor.disable_two_factor(_database(request), key, actor=user)
    except PermissionDeniedError as exc:  # pragma: no cover - AdminDep checked the role
        return users_page(request, status_code=403, problem=str(exc))
    return users_page(request, two_factor_reset=target)

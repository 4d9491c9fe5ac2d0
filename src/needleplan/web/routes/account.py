"""My account (every signed-in user): change my password, see and end my other sessions."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse

from needleplan.domain.accounts import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX
from needleplan.domain.accounts import check_password as check_new_password
from needleplan.exceptions import FieldProblem, InputError, PermissionDeniedError
from needleplan.services._clock import utc_now
from needleplan.web.auth import SessionStore, StaffUser, TokenStore, UserStore
from needleplan.web.db_stores import DbTokenStore
from needleplan.web.errors import ApiError
from needleplan.web.ratelimit import Limiter
from needleplan.web.routes.pages import audit_account, parse_token_days, render
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.security import CSRF_FIELD, check_csrf, current_session, require_staff

router = APIRouter(include_in_schema=False)

StaffDep = Annotated[StaffUser, Depends(require_staff)]
PasswordField = Annotated[str, Form(max_length=2048)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/([0-9]{1,4})")),
    ("Opera", re.compile(r"(?:OPR|Opera)/([0-9]{1,4})")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/([0-9]{1,4})")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/([0-9]{1,4})")),
    ("Safari", re.compile(r"Version/([0-9]{1,4})[.\d]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
AGENT_SHORT = 40


def describe_user_agent(agent: str) -> str:
    """A short name for a browser's ``User-Agent``, e.g. "Firefox 128 on Linux".

    Unknown agents are cut to :data:`AGENT_SHORT` characters; an empty one is "unknown browser".
    """
    agent = agent.strip()
    if not agent:
        return "unknown browser"
    browser = next(
        (f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := rx.search(agent))), None
    )
    system = next((label for marker, label in _SYSTEMS if marker in agent), None)
    if browser is None:
        return agent if len(agent) <= AGENT_SHORT else agent[: AGENT_SHORT - 1] + "…"
    return f"{browser} on {system}" if system else browser


def _account_page(
    request: Request, user: StaffUser, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    request.state.user = user
    store: SessionStore = request.app.state.session_store
    current = current_session(request)
    sessions = [(s, describe_user_agent(s.user_agent)) for s in store.active(user.id)]
    extra.setdefault("problems", [])
    tokens = request.app.state.token_store
    mine = (
        tokens.list_tokens(actor=user, user_id=user.id)
        if isinstance(tokens, DbTokenStore)
        else None
    )
    from needleplan.services import two_factor
    from needleplan.web.second_factor import account_database

    db = account_database(request)
    return render(
        request,
        "app/account.html",
        two_factor_state=two_factor.status(db, user.id) if db is not None else None,
        status_code=status_code,
        sessions=sessions,
        my_tokens=mine,
        token_days=(TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX),
        now=utc_now(),
        current_id=current.id if current is not None else None,
        idle_minutes=store.policy.idle_timeout_s // 60,
        **extra,
    )


@router.get("/app/account", response_class=HTMLResponse)
def account_page(request: Request, user: StaffDep) -> HTMLResponse:
    """My account: change my password; my signed-in browsers."""
    return _account_page(request, user)


@router.post("/app/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    user: StaffDep,
    current_password: PasswordField = "",
    new_password: PasswordField = "",
    confirm_password: PasswordField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Change my own password (the current one is asked for); my other sessions end."""
    check_csrf(request, csrf_token)
    limiter: Limiter = request.app.state.login_limiter
    wait = limiter.take(f"password-user:{user.id}")
    if wait > 0:
        minutes = max(1, round(wait / 60))
        problem = FieldProblem(
            "current_password",
            "<hidden>",
            f"too many attempts; try again in about {minutes} minute(s)",
        )
        return _account_page(request, user, status_code=429, problems=[problem])
    users: UserStore = request.app.state.user_store
    problems: list[FieldProblem] = []
    if not current_password or not users.verify_password(user.id, current_password):
        problems.append(
            FieldProblem("current_password", "<hidden>", "is not your current password")
        )
    try:
        check_new_password(new_password, "new_password")
    except InputError as exc:
        problems.extend(exc.problems)
    if not problems and new_password == current_password:
        problems.append(
            FieldProblem("new_password", "<hidden>", "must differ from the current password")
        )
    if new_password != confirm_password:
        problems.append(
            FieldProblem("confirm_password", "<hidden>", "must repeat the new password exactly")
        )
    if problems:
        return _account_page(request, user, status_code=422, problems=problems)
    users.set_password(user.id, new_password, actor=user)
    current = current_session(request)
    store: SessionStore = request.app.state.session_store
    ended = store.end_all(user.id, keep=current.id if current is not None else None)
    audit_account(request, user, "account.password", f"user {user.id} other_sessions_ended={ended}")
    return _account_page(request, user, password_changed=True, ended=ended)


@router.post("/app/account/sessions/end-others", response_class=HTMLResponse)
def end_other_sessions(
    request: Request, user: StaffDep, csrf_token: CsrfField = ""
) -> HTMLResponse:
    """Sign out everywhere else: every session of mine but this one ends."""
    check_csrf(request, csrf_token)
    current = current_session(request)
    store: SessionStore = request.app.state.session_store
    ended = store.end_all(user.id, keep=current.id if current is not None else None)
    audit_account(request, user, "account.sessions.revoke", f"user {user.id} others ended={ended}")
    return _account_page(request, user, ended=ended)


@router.post("/app/account/tokens", response_class=HTMLResponse)
def issue_my_token(
    request: Request,
    user: StaffDep,
    label: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=20)] = "read",
    days: Annotated[str, Form(max_length=20)] = str(TOKEN_DAYS_DEFAULT),
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Issue an API token for my own account (shown once); audited."""
    check_csrf(request, csrf_token)
    store: TokenStore = request.app.state.token_store
    try:
        token = store.issue_token(
            user.id, label, actor=user, scope=scope, days=parse_token_days(days)
        )
    except InputError as exc:
        return _account_page(
            request,
            user,
            status_code=422,
            problems=exc.problems,
            problems_intro="No token was issued:",
        )
    return _account_page(request, user, new_token=token, token_label=label.strip())


@router.post("/app/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_my_token(
    request: Request,
    user: StaffDep,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Revoke one of my API tokens: it stops working at once (audited)."""
    check_csrf(request, csrf_token)
    store = request.app.state.token_store
    if not isinstance(store, DbTokenStore):
        raise ApiError.one(503, "database", None, "API tokens are kept in the database only")
    try:
        store.revoke_token(token_id, actor=user)
    except PermissionDeniedError:
        # someone else's token is "not found" here: the page never tells what exists
        raise ApiError.one(404, "token_id", token_id, "is not one of your tokens") from None
    return _account_page(request, user, token_revoked=True)

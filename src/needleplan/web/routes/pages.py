"""Server-rendered pages: the public estimator, login, and the staff workspace under /app/."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from needleplan.domain import (
    Aftercare,
    Area,
    Concern,
    Condition,
    Contraindication,
    Diet,
    Genetic,
    Goal,
    Menopause,
    RepairCapacity,
    Severity,
    Sex,
    Smoking,
    SunExposure,
)
from needleplan.domain.accounts import (
    TOKEN_DAYS_DEFAULT,
    TOKEN_DAYS_MAX,
    check_token_days,
    normalise_username,
)
from needleplan.domain.accounts import check_password as check_new_password
from needleplan.exceptions import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from needleplan.forecasting.wording import EVIDENCE_LIMIT, WEAK_FACTOR_NOTES
from needleplan.web.auth import (
    Permission,
    SessionStore,
    StaffUser,
    TokenStore,
    UserStore,
    parse_user_id,
)
from needleplan.web.errors import ApiError
from needleplan.web.estimate_text import (
    ESTIMATE_AFTERCARE,
    ESTIMATE_AREAS,
    ESTIMATE_GOAL,
    ESTIMATE_SEVERITY,
    ESTIMATE_SMOKING,
    ESTIMATE_STOPPERS,
    ESTIMATE_SUN,
    script_strings,
)
from needleplan.web.i18n import clinic_identity, page_clinic, public_context
from needleplan.web.leads import CONSENT_TEXT, LeadStore, make_lead
from needleplan.web.ratelimit import Limiter, client_key
from needleplan.web.security import (
    CSRF_FIELD,
    SessionManager,
    check_csrf,
    require_permission,
    require_staff,
    session_user,
    template_context,
)

router = APIRouter(include_in_schema=False)

StaffDep = Annotated[StaffUser, Depends(require_staff)]
ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]
AdminDep = Annotated[StaffUser, Depends(require_permission(Permission.USERS))]
ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def render(
    request: Request, template: str, /, status_code: int = 200, **context: Any
) -> HTMLResponse:
    response: HTMLResponse = _templates(request).TemplateResponse(
        request, template, template_context(request, **context), status_code=status_code
    )
    return response


def safe_next(target: str | None) -> str:
    """Only a local staff path may be a post-login destination (no open redirect)."""
    if target and target.startswith("/app") and not target.startswith("//") and "\\" not in target:
        return target
    return "/app/"


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    if session_user(request) is not None:
        return RedirectResponse("/app/", status_code=303)
    return RedirectResponse("/estimate", status_code=303)


@router.get("/estimate", response_class=HTMLResponse)
def estimate_page(request: Request) -> HTMLResponse:
    """The public estimator: the clinic's page, in her language (docs/languages.md)."""
    lang = public_context(request)
    clinic = page_clinic(request)
    return render(
        request,
        "estimate.html",
        **lang,
        clinic=clinic_identity(clinic),
        online_booking=clinic is not None
        and clinic.online_booking.enabled
        and request.app.state.db is not None,
        areas=ESTIMATE_AREAS,
        severities=ESTIMATE_SEVERITY,
        goals=ESTIMATE_GOAL,
        smoking=ESTIMATE_SMOKING,
        sun=ESTIMATE_SUN,
        aftercare=ESTIMATE_AFTERCARE,
        stoppers=ESTIMATE_STOPPERS,
        consent_text=CONSENT_TEXT,
        js_strings=script_strings(lang["lang"]),
    )


@router.post("/estimate/contact", response_class=HTMLResponse)
def estimate_contact(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    phone: Annotated[str, Form(max_length=100)] = "",
    message: Annotated[str, Form(max_length=4000)] = "",
    estimate_summary: Annotated[str, Form(max_length=4000)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf_token)
    limiter: Limiter = request.app.state.api_limiter
    if limiter.take("lead:" + client_key(request)) > 0:
        raise ApiError.one(429, "client", None, "too many contact requests; try again later")
    form = {"name": name, "email": email, "phone": phone, "message": message}
    lang = {**public_context(request), "lang_switch_path": "/estimate"}
    try:
        lead = make_lead(
            name=name,
            email=email,
            phone=phone,
            message=message,
            estimate_summary=estimate_summary,
            consent=consent in ("on", "yes", "true", "1"),
            language=lang["lang"],
        )
    except InputError as exc:
        return render(
            request,
            "contact_result.html",
            status_code=422,
            **lang,
            problems=exc.problems,
            form=form,
            estimate_summary=estimate_summary,
            consent_text=CONSENT_TEXT,
        )
    leads: LeadStore = request.app.state.lead_store
    leads.add_lead(lead)
    return render(request, "contact_result.html", **lang, saved=True, name=lead.name)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    if session_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/app/",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    limiter: Limiter = request.app.state.login_limiter
    wait = max(
        limiter.take("login-client:" + client_key(request)),
        limiter.take("login-user:" + normalise_username(username)),
    )
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return render(
            request,
            "login.html",
            status_code=429,
            next=safe_next(next),
            username=username,
            error=f"Too many sign-in attempts. Try again in about {minutes} minute(s).",
        )
    users: UserStore = request.app.state.user_store
    user = users.authenticate(username, password) if username and password else None
    if user is None:
        return render(
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            username=username,
            error="Wrong user name or password.",
        )
    from needleplan.web import second_factor

    if second_factor.needs_second_factor(request, user):
        return second_factor.ask_for_code(request, user, safe_next(next))
    response = RedirectResponse(safe_next(next), status_code=303)
    sessions: SessionManager = request.app.state.sessions
    sessions.sign_in(request, response, user)
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Sign out: the session is revoked on the server (a copy of the cookie stops working)."""
    check_csrf(request, csrf_token)
    response = RedirectResponse("/login", status_code=303)
    sessions: SessionManager = request.app.state.sessions
    sessions.sign_out(request, response)
    return response


@router.get("/app/consult", response_class=HTMLResponse)
def consult_page(request: Request, user: ClinicalDep) -> HTMLResponse:
    request.state.user = user
    options = {
        "severity": [s.value for s in Severity],
        "areas": [a.value for a in Area],
        "goal": [g.value for g in Goal],
        "concerns": [c.value for c in Concern],
        "conditions": [c.value for c in Condition],
        "genetics": [g.value for g in Genetic],
        "repair_capacity": [r.value for r in RepairCapacity],
        "smoking": [s.value for s in Smoking],
        "sun_exposure": [s.value for s in SunExposure],
        "sex": [s.value for s in Sex],
        "menopause": [m.value for m in Menopause],
        "diet": [d.value for d in Diet],
        "aftercare": [a.value for a in Aftercare],
        "contraindications": [c.value for c in Contraindication],
    }
    return render(
        request,
        "app/consult.html",
        options=options,
        evidence_limit=EVIDENCE_LIMIT,
        weak_notes=WEAK_FACTOR_NOTES,
    )


def users_page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    """The staff accounts page: every active account with its number of live sessions."""
    users: UserStore = request.app.state.user_store
    store: SessionStore = request.app.state.session_store
    extra.setdefault("new_token", None)
    accounts = users.list_users()
    from needleplan.web.second_factor import account_database

    db = account_database(request)
    if db is not None:
        from needleplan.services import two_factor

        extra.setdefault("two_factor_on", two_factor.enrolled_ids(db))
        extra.setdefault("two_factor_required", two_factor.two_factor_required(db))
    return render(
        request,
        "app/users.html",
        status_code=status_code,
        users=accounts,
        # an admin issues tokens only for accounts without clinical access (integrations)
        token_for={u.id for u in accounts if not u.can(Permission.CLINICAL)},
        token_days=(TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX),
        session_counts=store.active_counts(),
        practitioners=practitioner_choices(request),
        **extra,
    )


def practitioner_choices(request: Request) -> dict[int, str]:
    """The calendar's practitioners by id, for linking an account (none without records)."""
    db = request.app.state.db
    if db is None:
        return {}
    from needleplan.services.practitioners import sync_practitioners
    from needleplan.web.deps import get_clinic

    ids = sync_practitioners(db, get_clinic(request))
    return {pid: name for name, pid in ids.items()}


def parse_token_days(value: str) -> int:
    """A token lifetime typed in a form: ASCII digits, 1 to TOKEN_DAYS_MAX (InputError)."""
    clean = value.strip()
    if not (clean.isascii() and clean.isdigit() and len(clean) <= 3):
        raise InputError.one(
            "days", value, f"must be a whole number of days from 1 to {TOKEN_DAYS_MAX}"
        )
    return check_token_days(int(clean))


@router.get("/app/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, user: AdminDep) -> HTMLResponse:
    request.state.user = user
    return users_page(request)


def audit_account(request: Request, user: StaffUser, action: str, detail: str) -> None:
    """Account changes go to the audit log when the app has clinic records."""
    if request.app.state.db is not None:
        from needleplan.web.db_stores import audit

        audit(request.app.state.db, user, action, None, detail)


@router.post("/app/admin/users", response_class=HTMLResponse)
def admin_create_user(
    request: Request,
    user: AdminDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Create a staff account (admin); the password is stored only as an argon2id hash."""
    check_csrf(request, csrf_token)
    request.state.user = user
    users: UserStore = request.app.state.user_store
    try:
        created = users.add_user(username, password, role, actor=user)
    except (InputError, ConflictError) as exc:
        return users_page(
            request,
            status_code=422 if isinstance(exc, InputError) else 409,
            problem=str(exc),
            form={"username": username, "role": role},
        )
    audit_account(request, user, "user.create", f"user {created.id} role {created.role.value}")
    return users_page(request, status_code=201, created=created)


def _other_user(request: Request, user_id: str) -> StaffUser:
    """The active account ``user_id`` an admin acts on (NotFoundError when there is none)."""
    users: UserStore = request.app.state.user_store
    key = parse_user_id(user_id)
    target = users.get_user(key) if key is not None else None
    if target is None:
        raise NotFoundError("no such user")
    return target


@router.post("/app/admin/users/{user_id}/deactivate", response_class=HTMLResponse)
def admin_deactivate_user(
    request: Request,
    user_id: str,
    user: AdminDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Close a staff account: it can no longer sign in and its sessions end. Not one's own."""
    check_csrf(request, csrf_token)
    request.state.user = user
    users: UserStore = request.app.state.user_store
    key = parse_user_id(user_id)
    if key is None:
        raise NotFoundError("no such user")
    if key == user.id:
        return users_page(
            request,
            status_code=409,
            problem="You cannot deactivate your own account; ask another admin.",
        )
    try:
        users.deactivate_user(key, actor=user)
    except StateError as exc:
        return users_page(request, status_code=409, problem=str(exc))
    store: SessionStore = request.app.state.session_store
    ended = store.end_all(key)
    audit_account(request, user, "user.deactivate", f"user {key} sessions_ended={ended}")
    return users_page(request, deactivated=True)


@router.post("/app/admin/users/{user_id}/sessions/end", response_class=HTMLResponse)
def admin_end_sessions(
    request: Request,
    user_id: str,
    user: AdminDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """End every session of another account: it has to sign in again everywhere."""
    check_csrf(request, csrf_token)
    request.state.user = user
    if parse_user_id(user_id) == user.id:
        return users_page(
            request,
            status_code=409,
            problem=(
                "Ending all your sessions would sign you out here too; use "
                "“Sign out everywhere else” under My account."
            ),
        )
    target = _other_user(request, user_id)
    store: SessionStore = request.app.state.session_store
    ended = store.end_all(target.id)
    audit_account(request, user, "account.sessions.revoke", f"user {target.id} ended={ended}")
    return users_page(request, sessions_ended=(target, ended))


@router.post("/app/admin/users/{user_id}/password", response_class=HTMLResponse)
def admin_set_password(
    request: Request,
    user_id: str,
    user: AdminDep,
    new_password: Annotated[str, Form(max_length=2048)] = "",
    confirm_password: Annotated[str, Form(max_length=2048)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Give another account a new password (it is told in person); its sessions end."""
    check_csrf(request, csrf_token)
    request.state.user = user
    if parse_user_id(user_id) == user.id:
        return users_page(
            request,
            status_code=409,
            problem=("Change your own password under My account (it asks for your current one)."),
        )
    target = _other_user(request, user_id)
    try:
        check_new_password(new_password, "new_password")
        if confirm_password != new_password:
            raise InputError.one(
                "confirm_password", "<hidden>", "must repeat the new password exactly"
            )
        users: UserStore = request.app.state.user_store
        users.set_password(target.id, new_password, actor=user)
    except InputError as exc:
        problem = exc.problems[0]
        return users_page(request, status_code=422, problem=f"{problem.field}: {problem.rule}")
    store: SessionStore = request.app.state.session_store
    ended = store.end_all(target.id)
    audit_account(
        request, user, "account.password.reset", f"user {target.id} sessions_ended={ended}"
    )
    return users_page(request, password_set=(target, ended))


@router.post("/app/admin/tokens", response_class=HTMLResponse)
def admin_issue_token(
    request: Request,
    user: AdminDep,
    user_id: Annotated[str, Form(max_length=100)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=20)] = "read",
    days: Annotated[str, Form(max_length=20)] = str(TOKEN_DAYS_DEFAULT),
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Issue a token for an integration account (one without clinical access); audited."""
    check_csrf(request, csrf_token)
    request.state.user = user
    users: UserStore = request.app.state.user_store
    tokens: TokenStore = request.app.state.token_store
    try:
        token = tokens.issue_token(
            user_id, label, actor=user, scope=scope, days=parse_token_days(days)
        )
    except PermissionDeniedError as exc:
        return users_page(request, status_code=403, problem=str(exc))
    except InputError as exc:
        problem = exc.problems[0]
        return users_page(request, status_code=422, problem=f"{problem.field}: {problem.rule}")
    owner = users.get_user(user_id)
    return users_page(request, new_token=token, token_owner=owner, token_label=label.strip())


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse("/login?next=" + quote(next_path, safe="/"), status_code=303)

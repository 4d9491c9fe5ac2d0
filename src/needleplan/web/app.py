"""The web application factory."""

from __future__ import annotations

import functools
import logging
import time
from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from needleplan import DISCLAIMER, __version__
from needleplan.services import clinic_calendar
from needleplan.services.staff_sessions import SessionPolicy
from needleplan.storage.database import Database
from needleplan.web import calendar_card, clinic_time
from needleplan.web import i18n as web_i18n
from needleplan.web.auth import (
    InMemorySessionStore,
    InMemoryTokenStore,
    InMemoryUserStore,
    SessionStore,
    TokenStore,
    UserStore,
)
from needleplan.web.bodies import BodyLimitMiddleware
from needleplan.web.error_handlers import install_error_handlers
from needleplan.web.kiosk import KioskLockedError, kiosk_guard
from needleplan.web.leads import InMemoryLeadStore, LeadStore
from needleplan.web.logs import RequestIdMiddleware
from needleplan.web.metrics import Metrics, MetricsMiddleware
from needleplan.web.ratelimit import (
    TABLE_SUFFIX,
    Clock,
    DatabaseLimiter,
    FileLimiter,
    Limiter,
    TokenBucketLimiter,
)
from needleplan.web.routes import (
    account,
    admin,
    api,
    api_appointments,
    appointments_api,
    booking,
    calendar,
    calendar_find,
    calendar_move,
    calendar_rebook,
    calendar_waitlist,
    calibration,
    clinic_admin,
    clinic_settings,
    consents,
    consult,
    dashboard,
    data_rights,
    health,
    intake,
    leads,
    message_templates,
    messages,
    online_booking,
    pages,
    patient_records,
    patients,
    patients_api,
    photos,
    portal,
    portal_consent,
    portal_course,
    portal_intake,
    portal_survey,
    recall,
    staff_profiles,
    today,
    two_factor,
    visits,
    webhooks_admin,
)
from needleplan.web.security import (
    ForbiddenError,
    LoginRequiredError,
    SelectiveGZip,
    SessionManager,
    SetupRequiredError,
    install_security_middleware,
)
from needleplan.web.settings import Settings, load_settings

HERE = Path(__file__).parent
log = logging.getLogger("needleplan.web")

API_DESCRIPTION = f"""
Plan microneedling courses and forecast how long results last.

*{DISCLAIMER}*

The stateless endpoints (`/api/v1/plan`, `/api/v1/forecast`, `/api/v1/compare`) are public and
rate-limited per client. Every error has one shape:
`{{"errors": [{{"field": ..., "value": ..., "rule": ...}}]}}`. See `docs/api.md`.
"""


@functools.cache
def _templates(directory: str) -> Jinja2Templates:
    """The Jinja templates of ``directory``, built once per process and shared by every app.

    Building an environment and compiling its templates costs tens of milliseconds per app; the
    environment holds nothing per app (its globals are module functions that read the request),
    so apps made by tests and workers reuse one.
    """
    templates = Jinja2Templates(directory=directory)
    clinic_time.install(templates.env)
    calendar_card.install(templates.env)
    web_i18n.install(templates.env)
    return templates


def _swagger_ui(request: Request) -> Response:
    """The API reference page (served from the package: no network needed).

    A module function, not a closure over the app: FastAPI caches every route's callable in
    process-wide caches (4,096 entries), so a closure per app would keep each app alive.
    """
    templates = _templates(str(HERE / "templates"))
    context = {"openapi_url": request.app.openapi_url}
    return templates.TemplateResponse(request, "apidocs.html", context)


def _limiter(
    database: Database | None, per_minute: float, burst: int, clock: Clock | None
) -> Limiter:
    """Buckets shared by the worker processes when there is a database (a SQLite file: a table
    file beside it; else the database), else in this process's memory."""
    if database is not None:
        url = database.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = str(url.database) + TABLE_SUFFIX
            return FileLimiter(path, per_minute, burst, clock=clock or time.time)
        return DatabaseLimiter(database.engine, per_minute, burst, clock=clock or time.time)
    return TokenBucketLimiter(per_minute, burst, clock=clock or time.monotonic)


def check_rate_limit_store(database: Database) -> None:
    """Refuse a shared rate-limit store the app could not use (a SQLite clinic's table file that
    cannot be opened): ``needleplan serve`` checks it before it serves (once, whatever the
    number of workers), so the error is one message at start instead of one per request. The
    app itself opens the file only when it first takes a token (an app on an unreachable
    database still answers ``/healthz``)."""
    limiter = _limiter(database, 1.0, 1, None)
    if isinstance(limiter, FileLimiter):
        limiter.check()


def create_app(
    settings: Settings | None = None,
    *,
    user_store: UserStore | None = None,
    token_store: TokenStore | None = None,
    lead_store: LeadStore | None = None,
    session_store: SessionStore | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
) -> FastAPI:
    """Build the needleplan web application.

    Parameters
    ----------
    settings
        validated settings; read from the environment / ``.env`` when None.
    user_store, token_store, lead_store
        where staff accounts, API tokens and consented contact requests live. When not given:
        the database stores (:mod:`needleplan.web.db_stores`) if ``database`` is given, else
        in-memory stores (empty: nobody can sign in).
    session_store
        where sign-in sessions live. When not given: the ``staff_sessions`` table if the
        accounts are the database's, else memory; either way with the lifetime rules of
        ``settings`` (``session_max_age_s``, ``idle_timeout_s``).
    clock
        time source [s] for the rate limiters (tests step it instead of sleeping); by default
        ``time.monotonic`` in memory and ``time.time`` with a database, where the limits live in
        the ``rate_limits`` table and every server process shares them.
    database
        the clinic records (``needleplan.storage.Database``) behind the staff workspace and the
        patient API; routes reach it through ``needleplan.web.deps.DbDep``.
    """
    settings = settings or load_settings()
    policy = SessionPolicy(
        max_age_s=settings.session_max_age_s, idle_timeout_s=settings.idle_timeout_s
    )
    if database is not None:
        from needleplan.web.db_stores import (
            DbLeadStore,
            DbSessionStore,
            DbTokenStore,
            DbUserStore,
        )

        if user_store is None and session_store is None:
            # Sessions reference accounts, so they live in the database only with its accounts.
            session_store = DbSessionStore(database, policy)
        user_store = user_store if user_store is not None else DbUserStore(database)
        token_store = token_store if token_store is not None else DbTokenStore(database)
        lead_store = lead_store if lead_store is not None else DbLeadStore(database)
    users = user_store if user_store is not None else InMemoryUserStore()
    app = FastAPI(
        title="needleplan",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,  # served below from files bundled with the package, not from a CDN
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        # A staff session in kiosk mode reaches only the intake form (needleplan.web.kiosk).
        dependencies=[Depends(kiosk_guard)],
    )
    app.state.settings = settings
    app.state.db = database
    # The calendar in force is the newest version saved in the app (needleplan.web.deps); until
    # one is saved, the clinic's own file, loaded and validated (file, key, rule) at start, else
    # the bundled example clinic. Setting app.state.clinic overrides all of them.
    app.state.clinic = None
    app.state.clinic_cache = None
    app.state.clinic_fallback = (
        clinic_calendar.fallback_clinic(settings.clinic_file) if settings.clinic_file else None
    )
    app.state.user_store = users
    app.state.token_store = token_store if token_store is not None else InMemoryTokenStore(users)
    app.state.lead_store = lead_store if lead_store is not None else InMemoryLeadStore()
    sessions = session_store if session_store is not None else InMemorySessionStore(policy)
    app.state.session_store = sessions
    app.state.sessions = SessionManager(settings, sessions)
    app.state.api_limiter = _limiter(database, settings.api_per_minute, settings.api_burst, clock)
    app.state.login_limiter = _limiter(
        database, settings.login_per_minute, settings.login_burst, clock
    )
    app.state.portal_limiter = _limiter(
        database, settings.portal_per_minute, settings.portal_burst, clock
    )
    templates = _templates(str(HERE / "templates"))
    app.state.templates = templates

    install_error_handlers(app)
    # Inside the security middleware (Starlette wraps the last added outermost), so a 413 from
    # the body limit carries the security headers like every other answer.
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        # a photo upload takes a full-size phone photo unless the settings say otherwise
        overrides={photos.UPLOAD_PATH: photos.UPLOAD_BODY_LIMIT, **settings.max_body_overrides},
    )
    install_security_middleware(app, settings)
    app.add_middleware(SelectiveGZip)
    # Outermost: counts and times every answer, a 413 or a compressed page included.
    app.state.metrics = Metrics(database)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # Outermost of all: the request id is bound before anything logs and ends on every answer.
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(LoginRequiredError)
    async def _login_required(request: Request, exc: LoginRequiredError) -> Response:
        return pages.login_redirect(exc.next_path)

    @app.exception_handler(SetupRequiredError)
    async def _setup_required(request: Request, exc: SetupRequiredError) -> Response:
        return RedirectResponse(exc.target, status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        request.state.user = exc.user
        return pages.render(
            request,
            "error.html",
            status_code=403,
            message=(
                f"Your role ({exc.user.role.value.replace('_', ' ')}) does not give access to "
                "this page."
            ),
        )

    @app.exception_handler(KioskLockedError)
    async def _kiosk_locked(request: Request, exc: KioskLockedError) -> Response:
        return intake.kiosk_locked_page(request)

    # Swagger UI ships inside the fastapi-offline wheel, so /docs works without network.
    apidocs = Path(str(files("fastapi_offline") / "static"))
    app.mount("/static/apidocs", StaticFiles(directory=str(apidocs)), name="apidocs")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_api_route("/docs", _swagger_ui, include_in_schema=False, response_class=HTMLResponse)

    app.include_router(health.router)
    app.include_router(api.router)
    api.state_server_caps(app, settings.max_draws)
    app.include_router(patients_api.router)
    app.include_router(appointments_api.router)
    app.include_router(api_appointments.router)
    app.include_router(today.router)
    app.include_router(pages.router)
    app.include_router(leads.router)
    app.include_router(consult.router)
    app.include_router(patients.router)
    app.include_router(patient_records.router)
    app.include_router(data_rights.router)
    app.include_router(booking.router)
    app.include_router(calendar_find.router)
    app.include_router(calendar_waitlist.router)
    app.include_router(calendar.router)
    app.include_router(calendar_move.router)
    app.include_router(calendar_rebook.router)
    app.include_router(visits.router)
    app.include_router(consents.router)
    app.include_router(photos.router)
    app.include_router(recall.router)
    app.include_router(dashboard.router)
    app.include_router(messages.router)
    app.include_router(admin.router)
    app.include_router(staff_profiles.router)
    app.include_router(account.router)
    app.include_router(two_factor.router)
    app.include_router(clinic_admin.router)
    app.include_router(clinic_settings.router)
    app.include_router(calibration.router)
    app.include_router(intake.router)
    app.include_router(webhooks_admin.router)
    app.include_router(message_templates.router)
    app.include_router(portal_intake.router)  # before the portal's catch-all /p/... route
    app.include_router(portal_consent.router)  # before the portal's catch-all too
    app.include_router(portal_survey.router)  # before the portal's catch-all /p/... route
    app.include_router(portal_course.router)  # before the portal's catch-all too
    app.include_router(portal.router)
    app.include_router(online_booking.router)
    portal.install_portal_handlers(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one ``needleplan serve --workers N`` process (an import-string factory).

    Settings and the database come from the environment the serve command prepared
    (``NEEDLEPLAN_*``, ``NEEDLEPLAN_DATABASE_URL``); each worker opens its own connections, and
    sessions, accounts and rate limits live in that shared database.
    """
    settings = load_settings()
    return create_app(settings, database=Database.open(None, upgrade=False))

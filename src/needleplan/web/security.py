"""Sessions, CSRF protection, security headers and the access-control dependencies.

- Staff sessions live on the server (:class:`~needleplan.web.auth.SessionStore`: the
  ``staff_sessions`` table with a database, else in memory). The ``needleplan_session`` cookie
  holds only a random token (``secrets.token_urlsafe(32)``; the store keeps its SHA-256 digest);
  HttpOnly, SameSite=Lax, Secure in production, ``Max-Age`` = ``session_max_age_s``. Every
  request looks the session up: an unknown, revoked, expired (absolute lifetime
  ``session_max_age_s``) or idle (``idle_timeout_s``) session, or one whose user is gone, counts
  as signed out. With the clinic database, the session, its account, the browser's kiosk lock
  and any setup the account must do first are read in one transaction
  (:mod:`needleplan.services.staff_identity`). Signing in always starts a new session (a
  cookie planted before sign-in is never promoted, and the browser's previous session is
  revoked); signing out revokes it.
- CSRF: every visitor gets a random ``needleplan_csrf`` cookie; forms carry
  ``HMAC(secret, cookie)`` in a hidden ``csrf_token`` field and each POST is checked against it
  (a signed double-submit: a forged cookie cannot produce a matching field without the secret).
- Security headers on every response: a strict Content-Security-Policy (scripts and styles only
  from this site, no inline script), no framing, no sniffing, same-origin referrer, and HSTS in
  production. Staff pages are ``Cache-Control: no-store, private``, the API ``no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from needleplan import DISCLAIMER, __version__
from needleplan.domain.accounts import TokenScope
from needleplan.web.auth import (
    Permission,
    SessionStore,
    StaffSession,
    StaffUser,
    TokenStore,
    UserStore,
)
from needleplan.web.errors import ApiError
from needleplan.web.settings import Settings

if TYPE_CHECKING:
    from needleplan.services.staff_identity import StaffIdentity

SESSION_COOKIE = "needleplan_session"
CSRF_COOKIE = "needleplan_csrf"
CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI (served from this site, /static/apidocs) sets inline styles; scripts still come from
# this site only.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs",)


class LoginRequiredError(Exception):
    """Raised by page dependencies when nobody is signed in; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class SetupRequiredError(Exception):
    """A signed-in user who must first change the password an admin set, or enrol a second
    factor the clinic requires; answered with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(target)


class ForbiddenError(Exception):
    """A signed-in user whose role lacks a permission (HTML pages)."""

    def __init__(self, user: StaffUser, permission: Permission) -> None:
        self.user = user
        self.permission = permission
        super().__init__(f"{user.role.value} lacks {permission.value}")


@dataclass
class SessionManager:
    """The browser side of staff sessions: the cookie carrying a session token of ``store``."""

    settings: Settings
    store: SessionStore

    def sign_in(self, request: Request, response: Response, user: StaffUser) -> None:
        """Start a new session for ``user`` and put its token in the cookie.

        Any session the browser already carried is revoked first, and expired or revoked
        sessions are purged while we are at it.
        """
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            self.store.end(previous)
        self.store.purge()
        token = self.store.start(user.id, request.headers.get("user-agent", ""))
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.settings.session_max_age_s,
            httponly=True,
            samesite="lax",
            secure=self.settings.production,
            path="/",
        )

    def sign_out(self, request: Request, response: Response) -> None:
        """Revoke this browser's session and delete its cookie."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self.store.end(token)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.settings.production
        )

    def current(self, request: Request) -> StaffSession | None:
        """This request's live session (looked up once per request), or None."""
        cached: StaffSession | bool | None = getattr(request.state, "staff_session", False)
        if cached is not False:
            return cached if isinstance(cached, StaffSession) else None
        token = request.cookies.get(SESSION_COOKIE)
        from needleplan.web.db_stores import DbSessionStore

        if token and isinstance(self.store, DbSessionStore):
            # Session, account, kiosk lock and pending setup in one transaction.
            identity = self.store.identify(token)
            request.state.staff_identity = identity
            session = DbSessionStore.as_staff_session(identity) if identity is not None else None
        else:
            session = self.store.find(token) if token else None
        request.state.staff_session = session
        return session


def csrf_expected(secret: str, raw: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + raw.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (hidden field ``csrf_token``)."""
    raw: str = request.state.csrf_raw
    settings: Settings = request.app.state.settings
    return csrf_expected(settings.secret_key, raw)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise 403 unless ``submitted`` matches this visitor's CSRF cookie."""
    raw = request.cookies.get(CSRF_COOKIE)
    settings: Settings = request.app.state.settings
    if (
        not raw
        or not submitted
        or not hmac.compare_digest(csrf_expected(settings.secret_key, raw), submitted)
    ):
        raise ApiError.one(
            403, CSRF_FIELD, None, "the form expired or came from another site; reload the page"
        )


def install_security_middleware(app: FastAPI, settings: Settings) -> None:
    """Security headers on every response and the CSRF cookie for every visitor."""
    app.add_middleware(SecurityMiddleware, settings=settings)


class SecurityMiddleware:
    """The middleware of :func:`install_security_middleware`, as plain ASGI.

    It gives each request ``request.state.csrf_raw`` (this visitor's CSRF cookie, or a fresh
    random one) and adds the headers on the way out. Plain ASGI rather than
    ``@app.middleware("http")``: that wrapper runs every request through extra tasks and memory
    streams, which cost more than a rule lookup itself (docs/api.md, performance).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if settings.production:
            common.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        self._common = common

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = ""
        for name, value in scope["headers"]:
            if name == b"cookie":
                raw = cookie_parser(value.decode("latin-1")).get(CSRF_COOKIE, "")
                break
        fresh = not raw or len(raw) > 64
        csrf_raw = secrets.token_urlsafe(24) if fresh else raw
        scope.setdefault("state", {})["csrf_raw"] = csrf_raw
        path: str = scope["path"]
        api = path.startswith("/api/")
        extra = [
            (
                b"content-security-policy",
                (DOCS_CSP if path.startswith(DOCS_PATHS) else CSP).encode(),
            ),
            *self._common,
        ]
        if api or path.startswith(("/app", "/login", "/p/", "/unsubscribe/", "/book/confirm/")):
            extra.append((b"cache-control", b"no-store" if api else b"no-store, private"))
        if fresh and not api:  # API clients get no cookies
            cookie = Response()
            cookie.set_cookie(
                CSRF_COOKIE,
                csrf_raw,
                httponly=True,
                samesite="lax",
                secure=self.settings.production,
                path="/",
            )
            extra.extend(cookie.raw_headers[-1:])
        names = {name for name, _ in extra if name != b"set-cookie"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() not in names]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SelectiveGZip:
    """Gzip the API's JSON and the static files, never the HTML pages.

    Pages carry the CSRF token next to text the visitor typed; compressing them would open the
    BREACH side channel. JSON curves shrink about 2.5-fold. The API's answers are compressed at
    level 1: a daily-curve forecast (89 KB) takes 0.7 ms there against 8.4 ms at Starlette's
    default level 9, for an answer 2 % larger (``make bench``); static files, sent once and then
    cached by the browser, at level 6.
    """

    def __init__(
        self, app: ASGIApp, minimum_size: int = 1000, api_level: int = 1, static_level: int = 6
    ) -> None:
        self.app = app
        self.api = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=api_level)
        self.static = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=static_level)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope["type"] == "http" else ""
        if path.startswith("/api/"):
            await self.api(scope, receive, send)
        elif path.startswith("/static/"):
            await self.static(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _user_store(request: Request) -> UserStore:
    store: UserStore = request.app.state.user_store
    return store


def current_session(request: Request) -> StaffSession | None:
    """The live staff session of this request, or None."""
    sessions: SessionManager = request.app.state.sessions
    return sessions.current(request)


def staff_identity(request: Request) -> StaffIdentity | None:
    """This request's session, account, kiosk lock and pending setup as read together by
    :meth:`SessionManager.current`, when the app keeps sessions and accounts in the same
    database; else None (the callers then ask the stores one by one)."""
    if current_session(request) is None:
        return None
    identity: StaffIdentity | None = getattr(request.state, "staff_identity", None)
    if identity is None:
        return None
    from needleplan.web.db_stores import DbUserStore

    users = _user_store(request)
    sessions: SessionManager = request.app.state.sessions
    db = getattr(sessions.store, "db", None)
    return identity if isinstance(users, DbUserStore) and users.db is db else None


def session_user(request: Request) -> StaffUser | None:
    """The signed-in staff user of this request, or None (also when the account is gone)."""
    session = current_session(request)
    if session is None:
        return None
    identity = staff_identity(request)
    if identity is not None:
        return identity.user
    return _user_store(request).get_user(session.user_id)


def _record_refusal(request: Request, user: StaffUser) -> None:
    """Put a refused attempt on the audit trail (method and path; ids, never names)."""
    db = getattr(request.app.state, "db", None)
    if db is not None:
        from needleplan.services.audit import record_refusal

        record_refusal(db, user, f"{request.method} {request.url.path}")


#: Where an account that must do something first is sent, and the paths it may use meanwhile.
SETUP_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "password": ("/app/account", ("/app/account", "/app/account/password")),
    "enrol": ("/app/account/2fa", ("/app/account/2fa",)),
}


def pending_setup(request: Request, user: StaffUser) -> str | None:
    """Where ``user`` must go before any other staff page, or None: first a password an admin
    set must be changed, then a second factor the clinic requires must be enrolled. Only for
    accounts in the clinic database (:mod:`needleplan.services.two_factor`)."""
    from needleplan.web.db_stores import DbUserStore

    store = request.app.state.user_store
    if not isinstance(store, DbUserStore):
        return None
    identity = staff_identity(request)
    if identity is not None and identity.session.user_id == user.id:
        must_change, must_enrol = identity.must_change_password, identity.must_enrol
    else:
        from needleplan.services import two_factor

        state = two_factor.status(store.db, user.id)
        must_change, must_enrol = state.must_change_password, state.must_enrol
    need = "password" if must_change else "enrol" if must_enrol else None
    if need is None:
        return None
    target, allowed = SETUP_PATHS[need]
    path = request.url.path
    if path in allowed or (need == "enrol" and path.startswith(target + "/")):
        return None
    return target


def require_staff(request: Request) -> StaffUser:
    """Page dependency: the signed-in user, or a redirect to /login (via LoginRequiredError),
    or to the password change or enrolment the account must do first (SetupRequiredError)."""
    user = session_user(request)
    if user is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequiredError(target)
    setup = pending_setup(request, user)
    if setup is not None:
        raise SetupRequiredError(setup)
    return user


def require_permission(permission: Permission) -> Callable[..., StaffUser]:
    """Page dependency: the signed-in user holding ``permission`` (403 page otherwise)."""

    def _dependency(request: Request, user: StaffUser = Depends(require_staff)) -> StaffUser:
        if not user.can(permission):
            _record_refusal(request, user)
            raise ForbiddenError(user, permission)
        return user

    return _dependency


_bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="np_<random>",
    description=(
        "A token issued by its owner (My account) or by an admin for an integration account "
        "without clinical access; it acts with its owner's role within its scope (read: GET "
        "only; write: also changes) until it expires or is revoked."
    ),
)

#: Methods a ``read``-scope token may use.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer_scheme),
) -> StaffUser:
    """API dependency: the user owning the ``Authorization: Bearer`` token (401 otherwise),
    acting through it (``via_token``, so the audit trail names the token); a read-only token
    answers 403 to a method that changes records."""
    challenge = {"WWW-Authenticate": 'Bearer realm="needleplan"'}
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ApiError.one(
            401, "authorization", None, "a bearer token is required", headers=challenge
        )
    tokens: TokenStore = request.app.state.token_store
    grant = tokens.grant_for_token(token)
    if grant is None:
        raise ApiError.one(
            401, "authorization", None, "unknown, expired or revoked token", headers=challenge
        )
    if grant.scope is TokenScope.READ and request.method not in READ_METHODS:
        _record_refusal(request, grant.user)
        raise ApiError.one(
            403, "scope", grant.scope.value, "this token may only read; ask for a write token"
        )
    return grant.user


def require_token(permission: Permission | None = None) -> Callable[..., StaffUser]:
    """API dependency: a bearer-token user, holding ``permission`` when given (403 otherwise)."""

    def _dependency(request: Request, user: StaffUser = Depends(bearer_user)) -> StaffUser:
        if permission is not None and not user.can(permission):
            _record_refusal(request, user)
            raise ApiError.one(
                403,
                "role",
                user.role.value,
                f"the {user.role.value} role does not have the {permission.value} permission",
            )
        return user

    return _dependency


def template_context(request: Request, **extra: Any) -> dict[str, Any]:
    """The values every page template may use."""
    return {
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "user": getattr(request.state, "user", None),
        "disclaimer": DISCLAIMER,
        "version": __version__,
        "lang": "en",
        "lang_query": "",
        "lang_choices": [],
        "lang_switch_path": "",
        **extra,
    }

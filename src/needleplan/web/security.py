"""Sessions, CSRF protection, security headers and the access-control dependencies.

- The staff session is a cookie signed with itsdangerous (``URLSafeTimedSerializer``), holding
  only the user id; HttpOnly, SameSite=Lax, Secure in production, expiring after
  ``session_max_age_s``. A user removed from the store is signed out on the next request.
- CSRF: every visitor gets a random ``needleplan_csrf`` cookie; forms carry
  ``HMAC(secret, cookie)`` in a hidden ``csrf_token`` field and each POST is checked against it
  (a signed double-submit: a forged cookie cannot produce a matching field without the secret).
- Security headers on every response: a strict Content-Security-Policy (scripts and styles only
  from this site, no inline script), no framing, no sniffing, same-origin referrer, and HSTS in
  production. Staff pages and the API are ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from needleplan import DISCLAIMER, __version__
from needleplan.web.auth import Permission, StaffUser, TokenStore, UserStore
from needleplan.web.errors import ApiError
from needleplan.web.settings import Settings

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


class ForbiddenError(Exception):
    """A signed-in user whose role lacks a permission (HTML pages)."""

    def __init__(self, user: StaffUser, permission: Permission) -> None:
        self.user = user
        self.permission = permission
        super().__init__(f"{user.role.value} lacks {permission.value}")


@dataclass
class SessionManager:
    settings: Settings

    def __post_init__(self) -> None:
        self._serializer = URLSafeTimedSerializer(
            self.settings.secret_key, salt="needleplan.session"
        )

    def dumps(self, user: StaffUser) -> str:
        return self._serializer.dumps({"u": user.id, "n": secrets.token_hex(8)})

    def user_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.settings.session_max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return str(data["u"])

    def set_cookie(self, response: Response, user: StaffUser) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.dumps(user),
            max_age=self.settings.session_max_age_s,
            httponly=True,
            samesite="lax",
            secure=self.settings.production,
            path="/",
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.settings.production
        )


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

    @app.middleware("http")
    async def _security(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        raw = request.cookies.get(CSRF_COOKIE)
        fresh = not raw or len(raw) > 64
        request.state.csrf_raw = secrets.token_urlsafe(24) if fresh else raw
        response = await call_next(request)
        path = request.url.path
        headers = response.headers
        headers["Content-Security-Policy"] = DOCS_CSP if path.startswith(DOCS_PATHS) else CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if settings.production:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if path.startswith(("/app", "/api/", "/login")):
            headers["Cache-Control"] = "no-store"
        if fresh and not path.startswith("/api/"):  # API clients get no cookies
            response.set_cookie(
                CSRF_COOKIE,
                request.state.csrf_raw,
                httponly=True,
                samesite="lax",
                secure=settings.production,
                path="/",
            )
        return response


class SelectiveGZip:
    """Gzip the API's JSON and the static files, never the HTML pages.

    Pages carry the CSRF token next to text the visitor typed; compressing them would open the
    BREACH side channel. JSON curves shrink about fourfold.
    """

    def __init__(self, app: ASGIApp, minimum_size: int = 1000) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(("/api/", "/static/")):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _user_store(request: Request) -> UserStore:
    store: UserStore = request.app.state.user_store
    return store


def session_user(request: Request) -> StaffUser | None:
    """The signed-in staff user of this request, or None."""
    sessions: SessionManager = request.app.state.sessions
    user_id = sessions.user_id(request.cookies.get(SESSION_COOKIE))
    return _user_store(request).get_user(user_id) if user_id else None


def require_staff(request: Request) -> StaffUser:
    """Page dependency: the signed-in user, or a redirect to /login (via LoginRequiredError)."""
    user = session_user(request)
    if user is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequiredError(target)
    return user


def require_permission(permission: Permission) -> Callable[..., StaffUser]:
    """Page dependency: the signed-in user holding ``permission`` (403 page otherwise)."""

    def _dependency(user: StaffUser = Depends(require_staff)) -> StaffUser:
        if not user.can(permission):
            raise ForbiddenError(user, permission)
        return user

    return _dependency


_bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="np_<random>",
    description="A token an admin issued at /app/admin/users; it acts with its user's role.",
)


def bearer_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer_scheme),
) -> StaffUser:
    """API dependency: the user owning the ``Authorization: Bearer`` token (401 otherwise)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="needleplan"'}
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ApiError.one(
            401, "authorization", None, "a bearer token is required", headers=challenge
        )
    tokens: TokenStore = request.app.state.token_store
    user = tokens.user_for_token(token)
    if user is None:
        raise ApiError.one(
            401, "authorization", None, "unknown or revoked token", headers=challenge
        )
    return user


def require_token(permission: Permission | None = None) -> Callable[..., StaffUser]:
    """API dependency: a bearer-token user, holding ``permission`` when given (403 otherwise)."""

    def _dependency(user: StaffUser = Depends(bearer_user)) -> StaffUser:
        if permission is not None and not user.can(permission):
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
        **extra,
    }

"""The app's exception handlers: one JSON error shape for the API, an error page for browsers.

The shape itself lives in :mod:`needleplan.web.errors`; this module only installs handlers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from needleplan.exceptions import (
    FieldProblem,
    NeedleplanError,
)
from needleplan.web.errors import (
    API_PREFIX,
    ApiError,
    error_body,
    problems_for,
    problems_from_request_validation,
    status_for,
)
from needleplan.web.security import template_context

log = logging.getLogger("needleplan.web")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _html_error(request: Request, status_code: int, message: str) -> Response:
    templates = getattr(request.app.state, "templates", None)
    if templates is None:  # pragma: no cover - create_app always sets templates
        return HTMLResponse(f"<h1>{status_code}</h1>", status_code=status_code)
    response: Response = templates.TemplateResponse(
        request,
        "error.html",
        template_context(request, status_code=status_code, message=message),
        status_code=status_code,
    )
    return response


_HTTP_RULES = {
    400: ("request", "bad request"),
    401: ("authorization", "authentication required"),
    403: ("role", "your role does not allow this"),
    404: ("path", "no such resource"),
    405: ("method", "method not allowed on this path"),
    413: ("body", "request body too large"),
}


def _allowed_methods(request: Request) -> str:
    """Every method the API documents for this path (Starlette's own 405 names only the methods
    of the first route it tried, when a path has one route per method); "" off the API."""
    table: list[tuple[re.Pattern[str], str]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        table = []
        for path, ops in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$")
            table.append((pattern, ", ".join(sorted(m.upper() for m in ops))))
        request.app.state.allow_table = table
    for pattern, methods in table:
        if pattern.match(request.url.path):
            return methods
    return ""


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the one shape (API) or a page (HTML)."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = problems_from_request_validation(exc)
        if _is_api(request):
            return JSONResponse(error_body(problems), status_code=422)
        return _html_error(request, 422, "; ".join(str(p) for p in problems))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if _is_api(request):
            return JSONResponse(
                error_body(exc.problems), status_code=exc.status_code, headers=exc.headers
            )
        return _html_error(request, exc.status_code, exc.problems[0].rule)

    @app.exception_handler(NeedleplanError)
    async def _domain_error(request: Request, exc: NeedleplanError) -> Response:
        status_code = status_for(exc)
        if status_code >= 500:
            log.error("unexpected needleplan error %s on %s", type(exc).__name__, request.url.path)
        if _is_api(request):
            return JSONResponse(error_body(problems_for(exc)), status_code=status_code)
        return _html_error(request, status_code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        field, rule = _HTTP_RULES.get(exc.status_code, ("request", str(exc.detail)))
        if isinstance(exc.detail, str) and exc.detail and exc.status_code not in (404, 405):
            rule = exc.detail
        value: Any = request.url.path if field == "path" else None
        if field == "method":
            value = request.method
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if allowed:
                headers["Allow"] = allowed
        if _is_api(request):
            body = error_body([FieldProblem(field, value, rule)])
            return JSONResponse(body, status_code=exc.status_code, headers=headers)
        return _html_error(request, exc.status_code, rule)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # No request body or patient data in the log: only the type and the path.
        log.exception("internal error (%s) on %s", type(exc).__name__, request.url.path)
        if _is_api(request):
            body = error_body([FieldProblem("", None, "internal error; please report it")])
            return JSONResponse(body, status_code=500)
        return _html_error(request, 500, "Something went wrong on our side.")

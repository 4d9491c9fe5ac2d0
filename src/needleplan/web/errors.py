"""One JSON error shape for every API error, and the HTTP status each needleplan error maps to.

Every error response under ``/api/`` has the body::

    {"errors": [{"field": "age", "value": 12, "rule": "Input should be greater than or equal to 18"}]}

``field`` names the input (dotted path into the JSON body, a query parameter, a header, or the
request itself), ``value`` is what was sent (``null`` when there is nothing to show), ``rule`` is
the rule it broke, in words. Pages outside ``/api/`` get an HTML error page instead.

======================================  ======
error                                   status
======================================  ======
malformed JSON, wrong type, bad value   422
InputError / ModelRangeError            422
missing or bad bearer token             401
role not allowed (PermissionDenied)     403
unknown path / record (NotFoundError)   404
method not allowed                      405
BlockedError, ConflictError, State      409
SchedulingError                         409
too many requests (rate limit)          429
anything unexpected (a bug)             500
======================================  ======
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    FieldProblem,
    InputError,
    ModelRangeError,
    NeedleplanError,
    NotFoundError,
    PermissionDeniedError,
    SchedulingError,
    StateError,
)

log = logging.getLogger("needleplan.web")

API_PREFIX = "/api/"
_MAX_VALUE_CHARS = 200


class ErrorItem(BaseModel):
    """One problem: which input, what was sent, which rule it broke."""

    field: str | None
    value: Any = None
    rule: str


class ErrorBody(BaseModel):
    """The body of every API error response."""

    errors: list[ErrorItem]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (422, "Bad input: each problem names the field, the value and the rule"),
        (429, "Too many requests from this client; see the Retry-After header"),
    )
}


class ApiError(Exception):
    """An error with an HTTP status and field problems, raised by web code."""

    def __init__(
        self,
        status_code: int,
        problems: Sequence[FieldProblem],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.problems = list(problems)
        self.headers = dict(headers or {})
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def one(
        cls,
        status_code: int,
        field: str | None,
        value: Any,
        rule: str,
        headers: Mapping[str, str] | None = None,
    ) -> ApiError:
        return cls(status_code, [FieldProblem(field or "", value, rule)], headers)


def _safe_value(value: Any) -> Any:
    """A JSON-safe, size-bounded rendering of an input value."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE_CHARS else value[:_MAX_VALUE_CHARS] + "…"
    if isinstance(value, Mapping):
        return "{...}"
    if isinstance(value, list | tuple) and len(value) <= 20:
        return [_safe_value(v) for v in value]
    if isinstance(value, list | tuple):
        return "[...]"
    text = str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + "…"


def error_body(problems: Sequence[FieldProblem]) -> dict[str, Any]:
    return {
        "errors": [
            {"field": p.field or None, "value": _safe_value(p.value), "rule": p.rule}
            for p in problems
        ]
    }


def problems_from_request_validation(exc: RequestValidationError) -> list[FieldProblem]:
    """Field problems from FastAPI's validation errors, with the ``body`` prefix removed."""
    problems: list[FieldProblem] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        kind = str(err.get("type", ""))
        if loc and loc[0] == "body":
            loc = loc[1:]
            # A whole-body rule (e.g. severity vs. glogau_class) is about the assessment.
            field = ".".join(loc) if loc else ("assessment" if kind == "value_error" else "body")
        else:
            field = ".".join(loc) if loc else "request"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        value = err.get("input")
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "json_invalid":
            ctx = err.get("ctx") or {}
            msg = f"malformed JSON: {ctx.get('error', 'cannot parse')}"
            value = None
        elif kind == "missing":
            value = None
        problems.append(FieldProblem(field, value, msg))
    return problems or [FieldProblem("body", None, "invalid request")]


def status_for(exc: NeedleplanError) -> int:
    if isinstance(exc, InputError | ModelRangeError):
        return 422
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, BlockedError | ConflictError | StateError | SchedulingError):
        return 409
    return 500


def problems_for(exc: NeedleplanError) -> list[FieldProblem]:
    if isinstance(exc, InputError):
        return exc.problems
    if isinstance(exc, BlockedError):
        return [FieldProblem("contraindications", None, "plan blocked: " + r) for r in exc.reasons]
    return [FieldProblem("", None, str(exc))]


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _html_error(request: Request, status_code: int, message: str) -> Response:
    templates = getattr(request.app.state, "templates", None)
    if templates is None:  # pragma: no cover - create_app always sets templates
        return HTMLResponse(f"<h1>{status_code}</h1>", status_code=status_code)
    from needleplan.web.security import template_context  # imports this module

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
}


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

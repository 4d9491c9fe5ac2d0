"""One JSON error shape for every API error, and the HTTP status each needleplan error maps to.

Every error response under ``/api/`` has the body::

    {"errors": [{"field": "age", "value": 12, "rule": "please give the age in whole years, from 18 to 90"}]}

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

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from needleplan.domain.assessment import friendly_rule
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
        msg = friendly_rule(
            field,
            kind,
            err.get("ctx") or {},
            str(err.get("msg", "invalid")).removeprefix("Value error, "),
        )
        value = err.get("input")
        if kind == "json_invalid":
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

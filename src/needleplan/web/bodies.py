"""Request bodies: strict JSON on the API routes and a size limit on every route.

* :class:`StrictJSONRoute` parses JSON bodies with orjson, which follows RFC 8259: ``NaN``,
  ``Infinity``, numbers that overflow a double (``1e999``) and lone surrogate escapes
  (``"\\ud800"``) are malformed JSON, refused with 422 in the one error shape instead of
  reaching the models (where they raised 500s).
* :class:`BodyLimitMiddleware` refuses a body larger than the limit of its path before the
  application reads it: at once when ``Content-Length`` says so, else as soon as the streamed
  chunks pass the limit. The answer is 413, in the one error shape under ``/api/`` and an error
  page elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from needleplan.exceptions import FieldProblem
from needleplan.web.errors import API_PREFIX, error_body


class StrictJSONRequest(Request):
    """A request whose ``json()`` accepts standard JSON only (orjson)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                # orjson's error is a json.JSONDecodeError: FastAPI reports it as json_invalid.
                raise json.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None
        return self._json


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route and its dependencies declare (their aliases)."""
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class StrictJSONRoute(APIRoute):
    """An API route that reads its JSON body with :class:`StrictJSONRequest` and refuses query
    parameters it does not declare (a misspelt ``limt=5`` is an error, not silently ignored)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = frozenset(_query_names(self.dependant))

        async def strict_handler(request: Request) -> Response:
            for name in request.query_params:
                if name not in declared:
                    known = ", ".join(sorted(declared)) or "none"
                    problem = FieldProblem(
                        name[:80],
                        request.query_params.get(name, "")[:80],
                        f"is not a query parameter of this request (it takes: {known})",
                    )
                    return JSONResponse(error_body([problem]), status_code=422)
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit: a 413 wherever it surfaces
    (FastAPI passes HTTP exceptions raised while reading a body on to the error handlers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _rule(limit))


class BodyLimitMiddleware:
    """Refuse request bodies over ``default`` bytes (``overrides``: path prefix -> bytes)."""

    def __init__(
        self, app: ASGIApp, default: int, overrides: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default = default
        # Longest prefix first, so /app/import/csv wins over /app/.
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit_for(path)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await _refuse(scope, send, limit, declared)
                    return
                break
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLargeError:
            if started:  # pragma: no cover - a route that answers before reading its body
                raise
            await _refuse(scope, send, limit, received)


def _rule(limit: int) -> str:
    return f"request body larger than {limit} bytes"


async def _refuse(scope: Scope, send: Send, limit: int, size: int) -> None:
    rule = _rule(limit)
    value = size if size >= 0 else None
    response: Response
    if str(scope["path"]).startswith(API_PREFIX):
        body = error_body([FieldProblem("body", value, rule)])
        response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
    else:
        response = HTMLResponse(
            f"<!doctype html><title>413</title><h1>Request too large</h1><p>{rule}.</p>",
            status_code=413,
            headers={"Connection": "close"},
        )

    async def _no_body() -> Message:  # pragma: no cover - the responses read nothing
        return {"type": "http.disconnect"}

    await response(scope, _no_body, send)

"""Structured logs of the web app (``structlog``): one JSON object per line, a request id on
every line written while a request is answered, and never patient data.

- :class:`RequestIdMiddleware` (plain ASGI) gives every request an id: the client's
  ``X-Request-ID`` when it is a plain token of at most 64 characters (``[A-Za-z0-9._-]``, so a
  proxy's id is kept end to end), else a fresh random one. The id is bound to the log context
  for the request (every line, the app's and uvicorn's, carries ``request_id``), returned in the
  ``X-Request-ID`` answer header, and ends the request with one ``request`` line: the client
  address (the proxy's forwarded one when the proxy is trusted), method, **route template**
  (``/app/patients/{patient_id}``, never the path or its query string, which may hold a
  searched name), status and duration. It is the access log: uvicorn's own access lines are off,
  so each request costs one line, not two.
- :func:`logging_config` is the ``logging.config.dictConfig`` of ``needleplan serve``: every
  logger (needleplan's, uvicorn's) through structlog's formatter, JSON by default
  (``NEEDLEPLAN_LOG_FORMAT=text`` for a terminal).

What the app logs carries ids, counts, route templates and exception class names; names, birth
dates, phone numbers, e-mail addresses and notes are never passed to a logger (tested by driving
patient requests and reading every line).
"""

from __future__ import annotations

import re
import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from needleplan.log_format import SHARED_PROCESSORS, formatter, logging_config
from needleplan.web.metrics import route_template

__all__ = [
    "SHARED_PROCESSORS",
    "RequestIdMiddleware",
    "formatter",
    "logging_config",
    "request_id_from",
]

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


log = structlog.get_logger("needleplan.web.request")


def request_id_from(scope: Scope) -> str:
    """The client's request id when it is a safe token, else a new random one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            given: str = value.decode("latin-1")
            if _SAFE_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """Binds a request id to the log context, returns it as ``X-Request-ID`` and writes one
    ``request`` line per request (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", ()) if h[0].lower() != header[0]]
                message["headers"] = [*headers, header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                client = scope.get("client")
                log.info(
                    "request",
                    client=client[0] if client else None,
                    method=str(scope.get("method", "")),
                    route=route_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 1),
                )

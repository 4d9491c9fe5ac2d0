"""Probes for process supervisors and load balancers (``/healthz``, ``/readyz``) and ``/metrics``.

The probes are unauthenticated and not rate limited, and neither says anything about a patient.
None of the three is in the OpenAPI document (they are for operators, not API clients).

- ``GET /healthz``: the process is alive and answering. It never touches the database, so a slow
  or unreachable database does not get a healthy server restarted.
- ``GET /readyz``: the server can do its work. 200 when the database answers, its schema is
  at the revision this version ships (``needleplan.storage.migrate.HEAD``) and, when a worker is
  configured (``NEEDLEPLAN_WORKER_STALE_AFTER_S``), a worker finished a pass recently; otherwise 503 in the
  one error shape (``{"errors": [{"field", "value", "rule"}]}``) naming what is not ready. The
  database address and the driver's message stay in the server log, not in the answer.
- ``GET /metrics``: Prometheus metrics for the bearer of ``NEEDLEPLAN_METRICS_TOKEN``
  (:mod:`needleplan.web.metrics`).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from needleplan import __version__
from needleplan.exceptions import FieldProblem
from needleplan.storage import migrate
from needleplan.storage.database import Database
from needleplan.web.errors import ErrorBody, error_body
from needleplan.web.metrics import CONTENT_TYPE, Metrics
from needleplan.web.settings import Settings

log = logging.getLogger("needleplan.web.health")

router = APIRouter(tags=["operations"])

_NO_STORE = {"Cache-Control": "no-store"}


@router.get(
    "/healthz",
    include_in_schema=False,
    summary="Liveness: the process answers (no database access)",
    responses={200: {"content": {"application/json": {"example": {"status": "alive"}}}}},
)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "alive", "version": __version__}, headers=_NO_STORE)


def readiness_problems(
    database: Database | None, worker_stale_after_s: int = 0
) -> list[FieldProblem]:
    """What keeps ``database`` from serving requests (empty: ready).

    No database configured (an app with in-memory stores) is ready: nothing to wait for. With
    ``worker_stale_after_s`` (a worker is configured), the newest worker heartbeat must be at
    most that many seconds old.
    """
    if database is None:
        return []
    try:
        behind = migrate.needs_upgrade(database.engine)
    except SQLAlchemyError as exc:
        log.warning("readiness: the database does not answer: %s", type(exc).__name__)
        return [FieldProblem("database", None, "the database does not answer")]
    if behind:
        return [
            FieldProblem(
                "migrations",
                migrate.HEAD,
                "the database schema is not at the revision this version needs; "
                "run `needleplan db upgrade` or restart `needleplan serve` (it migrates on start)",
            )
        ]
    if worker_stale_after_s:
        from needleplan.services._clock import utc_now
        from needleplan.services.messaging.worker import last_heartbeat

        beat = last_heartbeat(database)
        age = (utc_now() - beat).total_seconds() if beat is not None else None
        if age is None or age > worker_stale_after_s:
            seen = "never" if age is None else f"{round(age)} s ago"
            return [
                FieldProblem(
                    "worker",
                    seen,
                    f"no message worker finished a pass in the last {worker_stale_after_s} s; "
                    "start or restart `needleplan worker`",
                )
            ]
    return []


@router.get(
    "/readyz",
    include_in_schema=False,
    summary="Readiness: the database answers and its migrations are current",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        503: {"model": ErrorBody, "description": "Not ready: each problem names what and why"},
    },
)
def readyz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    problems = readiness_problems(request.app.state.db, settings.worker_stale_after_s)
    if problems:
        return JSONResponse(error_body(problems), status_code=503, headers=_NO_STORE)
    body: dict[str, Any] = {"status": "ready", "version": __version__}
    return JSONResponse(body, headers=_NO_STORE)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics (:mod:`needleplan.web.metrics`), for the bearer of the metrics token."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_token:
        raise StarletteHTTPException(404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), settings.metrics_token.encode()
    ):
        problem = FieldProblem(
            "Authorization", None, "a bearer token equal to NEEDLEPLAN_METRICS_TOKEN is required"
        )
        return JSONResponse(
            error_body([problem]),
            status_code=401,
            headers={**_NO_STORE, "WWW-Authenticate": "Bearer"},
        )
    collected: Metrics = request.app.state.metrics
    return Response(collected.render(), media_type=CONTENT_TYPE, headers=_NO_STORE)

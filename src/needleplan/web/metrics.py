"""Prometheus metrics of the web app (``prometheus-client``), served at ``/metrics``.

What is measured:

- ``needleplan_http_requests_total{method, route, status}`` and
  ``needleplan_http_request_duration_seconds{method, route}`` (a histogram): ``route`` is the
  route's template (``/api/v1/patients/{patient_id}``), never the raw path, so ids, names and
  search terms never become label values; a path no route matches counts as ``<unmatched>``.
- ``needleplan_db_pool_size`` and ``needleplan_db_pool_checked_out``: the SQLAlchemy connection
  pool of this process (both 0 without a database or with a pool that keeps no count).
- ``needleplan_outbox_messages{status}`` (messages by status), ``needleplan_worker_lag_seconds``
  (age of the oldest due queued message: how far the workers are behind) and
  ``needleplan_worker_heartbeat_age_seconds``: read from the database at each scrape (with a
  database only).

``/metrics`` answers only with ``Authorization: Bearer <NEEDLEPLAN_METRICS_TOKEN>``: 404 when
the setting is empty (the path does not exist), 401 for a missing or wrong token.

Several worker processes (``needleplan serve --workers N``) share one listening socket, so a
scrape reaches whichever worker accepts it. We use prometheus-client's multiprocess mode: when
``PROMETHEUS_MULTIPROC_DIR`` names a folder (it must be set before the processes start, and
emptied at each start; the shipped systemd unit does both with ``RuntimeDirectory``), every
worker writes its values to files there and any worker's ``/metrics`` sums them all. Without it
each process reports its own values, which is right for one process.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from needleplan.storage.database import Database

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Latency buckets [s]: page and API answers are milliseconds; forecasts can take a second.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def route_template(scope: Scope) -> str:
    """The template of the route that handled ``scope`` (set by the router), never its path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if route is not None and type(route).__name__ == "Mount":
        return path.rstrip("/") + "/{path}"
    return path or "/"


class Metrics:
    """The metrics of one app, in a registry of its own (tests build many apps per process)."""

    def __init__(self, database: Database | None) -> None:
        self.database = database
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "needleplan_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "needleplan_http_request_duration_seconds",
            "Time to answer an HTTP request [s], by method and route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "needleplan_db_pool_size",
            "Connections the database pool keeps open (summed over live worker processes)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_checked_out = Gauge(
            "needleplan_db_pool_checked_out",
            "Database connections in use (summed over live worker processes)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if self.multiprocess_dir is not None:
            # A scrape reaches one worker; the others' pool gauges stay fresh this way.
            self.update_pool()

    def update_pool(self) -> None:
        """Read this process's pool counters into the gauges."""
        pool: Any = self.database.engine.pool if self.database is not None else None
        size = getattr(pool, "size", None)
        checked_out = getattr(pool, "checkedout", None)
        self.pool_size.set(size() if callable(size) else 0)
        self.pool_checked_out.set(checked_out() if callable(checked_out) else 0)

    def render(self) -> bytes:
        """The text exposition format: this process's values, or every worker's in multiprocess
        mode, then the outbox and worker figures read from the database at this scrape."""
        self.update_pool()
        if self.multiprocess_dir is None:
            own = generate_latest(self.registry)
        else:
            combined = CollectorRegistry()
            MultiProcessCollector(combined, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            own = generate_latest(combined)
        return own + self.render_outbox()

    def render_outbox(self) -> bytes:
        """Outbox depth by status, worker lag and heartbeat age, read now (every process reads
        the same database, so these are not summed over processes)."""
        if self.database is None:
            return b""
        from needleplan.services._clock import utc_now

        registry = CollectorRegistry()
        depth = Gauge(
            "needleplan_outbox_messages",
            "Messages in the outbox, by status (queued, sent, failed, skipped)",
            ["status"],
            registry=registry,
        )
        lag = Gauge(
            "needleplan_worker_lag_seconds",
            "Age of the oldest queued message that is due [s] (0: nothing waits)",
            registry=registry,
        )
        heartbeat = Gauge(
            "needleplan_worker_heartbeat_age_seconds",
            "Seconds since a message worker last finished a pass (-1: never)",
            registry=registry,
        )
        now = utc_now()
        with self.database.transaction() as uow:
            counts = uow.outbox.counts()
            oldest = uow.outbox.oldest_due(now)
            beat = uow.heartbeats.latest()
        for status in ("queued", "sent", "failed", "skipped", *sorted(counts)):
            depth.labels(status).set(counts.get(status, 0))
        lag.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        heartbeat.set((now - beat).total_seconds() if beat is not None else -1.0)
        return generate_latest(registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (plain ASGI, outermost)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(
                str(scope.get("method", "")),
                route_template(scope),
                status,
                time.perf_counter() - start,
            )

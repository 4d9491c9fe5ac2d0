"""Operations (issue 17): JSON log lines with a request id (also the X-Request-ID answer header)
and never patient data; /readyz checks the worker heartbeat when a worker is configured;
/metrics gives the outbox depth by status and the worker lag."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.services._clock import utc_now
from needleplan.services.messaging.worker import beat
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.logs import formatter

from .conftest import TEST_SECRET, TestClient
from .patients_fixtures import ClinicApp, bearer, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log line of this test as the server writes it (the JSON formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    # the test client's own lines (httpx logs the URLs it requests) are not the server's
    handler.addFilter(lambda record: not record.name.startswith("httpx"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_request_has_an_id_in_its_log_lines_and_answer(
    web: TestClient, json_log: io.StringIO
) -> None:
    answer = web.get("/healthz")
    rid = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    kept = web.get("/healthz", headers={"X-Request-ID": "proxy-id.42"})
    assert kept.headers["x-request-id"] == "proxy-id.42"
    hostile = web.get("/healthz", headers={"X-Request-ID": 'a b"}{' + "x" * 80})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
    requests = [line for line in _lines(json_log) if line.get("event") == "request"]
    assert [r["request_id"] for r in requests] == [
        rid,
        "proxy-id.42",
        hostile.headers["x-request-id"],
    ]
    assert requests[0]["route"] == "/healthz"
    assert requests[0]["status"] == 200
    assert requests[0]["client"] == "testclient"  # the access log: no uvicorn line besides
    assert requests[0]["level"] == "info"
    assert "timestamp" in requests[0]


def test_patient_requests_log_no_patient_data(
    web: TestClient, clinic_app: ClinicApp, json_log: io.StringIO
) -> None:
    secrets = (
        "Jane",
        "Doe",
        "1976-04-02",
        "jane@example.org",
        "7946",
        "SECRET-CLINICAL-NOTE",
        "Ottilie",
        "Quenby",
        "1961-07-19",
        "+4930901820",
        "030 901820",
    )
    headers = bearer(clinic_app, "prac")
    created = web.post(
        "/api/v1/patients",
        headers=headers,
        json={
            "given_name": "Ottilie",
            "family_name": "Quenby",
            "birth_date": "1961-07-19",
            "phone": "+49 30 901820",
            "consent_treatment": True,
        },
    )
    assert created.status_code == 201, created.text
    sign_in(web, "prac")
    pid = clinic_app.patient_id
    for path in (
        "/app/patients?q=Doe",
        "/app/patients?q=1976-04-02",
        f"/app/patients/{pid}",
        f"/app/patients/{pid}/edit",
        "/app/patients/999999",
    ):
        web.get(path)
    web.get(f"/api/v1/patients/{pid}", headers=headers)
    web.get("/api/v1/patients", params={"q": "Quenby"}, headers=headers)
    bad = web.post("/api/v1/patients", headers=headers, json={"given_name": "Doe", "x": "7946"})
    assert bad.status_code == 422
    text = json_log.getvalue()
    lines = _lines(json_log)
    assert sum(1 for line in lines if line.get("event") == "request") >= 9
    assert {line["route"] for line in lines if line.get("event") == "request"} >= {
        "/app/patients",
        "/app/patients/{patient_id}",
        "/api/v1/patients",
    }
    for secret in secrets:
        assert secret not in text, secret


def _app(db: Database, **settings: Any) -> TestClient:
    base: dict[str, Any] = {"environment": "test", "secret_key": TEST_SECRET, **settings}
    return TestClient(create_app(Settings(**base), database=db))


def test_readyz_needs_a_recent_worker_heartbeat_when_a_worker_is_configured(
    db: Database,
) -> None:
    with _app(db) as client:
        assert client.get("/readyz").status_code == 200  # no worker configured: not checked
    with _app(db, worker_stale_after_s=120) as client:
        never = client.get("/readyz")
        assert never.status_code == 503
        assert never.json()["errors"][0]["field"] == "worker"
        assert never.json()["errors"][0]["value"] == "never"
        with db.transaction() as uow:
            uow.heartbeats.beat("worker-old", utc_now() - timedelta(minutes=10))
        stale = client.get("/readyz")
        assert stale.status_code == 503
        assert stale.json()["errors"][0]["value"].endswith("s ago")
        beat(db, "worker-new")
        assert client.get("/readyz").status_code == 200


def test_metrics_give_the_outbox_depth_by_status_and_the_worker_lag(db: Database) -> None:
    now = utc_now()
    with db.transaction() as uow:
        uow.outbox.add(MessageKind.REMINDER, now, due_at=now - timedelta(seconds=300))
        uow.outbox.add(MessageKind.REMINDER, now, due_at=now - timedelta(seconds=60))
        uow.outbox.add(MessageKind.REMINDER, now, due_at=now + timedelta(hours=2))
    with _app(db, metrics_token=METRICS_TOKEN) as client:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert 'needleplan_outbox_messages{status="queued"} 3.0' in text
    assert 'needleplan_outbox_messages{status="sent"} 0.0' in text
    lag = float(re.search(r"^needleplan_worker_lag_seconds (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert 300 <= lag < 400
    assert "needleplan_worker_heartbeat_age_seconds -1.0" in text
    services.list_users(db)  # the scrape left the database usable

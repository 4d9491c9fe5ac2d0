"""/healthz, /readyz and /metrics: probes without patient data, metrics behind a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from needleplan.exceptions import ConfigError
from needleplan.storage import Database, migrate
from needleplan.web import Settings, create_app, load_settings

from .conftest import TEST_SECRET, TestClient

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


def _client(database: Database | None = None, **settings: Any) -> TestClient:
    base: dict[str, Any] = {"environment": "test", "secret_key": TEST_SECRET}
    base.update(settings)
    return TestClient(create_app(Settings(**base), database=database))


@pytest.fixture
def checkouts(db: Database) -> Iterator[list[int]]:
    """Counts connection check-outs from ``db``'s pool."""
    seen: list[int] = []

    def _count(*_: Any) -> None:
        seen.append(1)

    event.listen(db.engine, "checkout", _count)
    yield seen
    event.remove(db.engine, "checkout", _count)


def test_healthz_is_alive_without_touching_the_database(db: Database, checkouts: list[int]) -> None:
    with _client(db) as client:
        checkouts.clear()  # building the app may read the clinic; the probe must not
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "alive"
    assert response.headers["cache-control"] == "no-store"
    assert checkouts == []


def test_healthz_answers_while_the_database_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the database's folder should be")
    broken = Database(create_engine(f"sqlite:///{tmp_path}/not-a-folder/clinic.sqlite3"))
    with _client(broken) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "errors": [{"field": "database", "value": None, "rule": "the database does not answer"}]
    }
    assert "not-a-folder" not in ready.text  # no address, no driver message


def test_readyz_is_ready_on_a_migrated_database(db: Database) -> None:
    with _client(db) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


def test_readyz_is_503_while_migrations_are_behind(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        with _client(db) as client:
            response = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": migrate.HEAD})
    assert response.status_code == 503
    (problem,) = response.json()["errors"]
    assert problem["field"] == "migrations"
    assert problem["value"] == migrate.HEAD
    assert "revision" in problem["rule"]


def test_readyz_without_a_database_is_ready() -> None:
    """An app on in-memory stores has nothing to wait for."""
    with _client() as client:
        assert client.get("/readyz").status_code == 200


def test_probes_need_no_sign_in_and_are_not_rate_limited() -> None:
    with _client(api_burst=1, api_per_minute=0.001, login_burst=1) as client:
        answers = [client.get(path).status_code for path in ("/healthz", "/readyz") * 10]
    assert answers == [200] * 20


def test_probes_and_metrics_stay_out_of_the_api_document() -> None:
    """Operators' endpoints, not API operations: no tag, no security scheme, no patient section."""
    with _client() as client:
        spec = client.get("/api/v1/openapi.json").json()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert path not in spec["paths"]


def test_metrics_do_not_exist_without_a_token_setting() -> None:
    with _client() as client:
        response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-wrong-token-wrong",
        f"Basic {METRICS_TOKEN}",
        f"Bearer {METRICS_TOKEN}x",
    ],
)
def test_metrics_refuse_a_missing_or_wrong_token(authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with _client(metrics_token=METRICS_TOKEN) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    (problem,) = response.json()["errors"]
    assert problem["field"] == "Authorization"
    assert METRICS_TOKEN not in response.text


def _sample(body: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name{labels}`` in a text exposition, or None."""
    for line in body.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return None


def test_metrics_count_requests_by_route_template_never_by_raw_path(db: Database) -> None:
    with _client(db, metrics_token=METRICS_TOKEN) as client:
        for _ in range(3):
            assert client.get("/api/v1/patients/987654").status_code == 401  # no bearer token
        assert client.get("/healthz").status_code == 200
        assert client.get("/no-such-page/55501234").status_code == 404
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    route = "/api/v1/patients/{patient_id}"
    assert (
        _sample(body, "needleplan_http_requests_total", method="GET", route=route, status="401")
        == 3
    )
    assert (
        _sample(body, "needleplan_http_request_duration_seconds_count", method="GET", route=route)
        == 3
    )
    assert _sample(body, "needleplan_http_requests_total", route="/healthz", status="200") == 1
    assert _sample(body, "needleplan_http_requests_total", route="<unmatched>", status="404") == 1
    assert "987654" not in body
    assert "55501234" not in body
    # The pool of this process: SQLite files and PostgreSQL both use a queue pool.
    size = _sample(body, "needleplan_db_pool_size")
    assert size is not None
    assert size >= 1
    assert _sample(body, "needleplan_db_pool_checked_out") == 0


def test_a_short_metrics_token_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(metrics_token="short-token")
    message = str(caught.value)
    assert "NEEDLEPLAN_METRICS_TOKEN" in message
    assert "short-token" not in message

"""Where `/api/v1/forecast` computes: a small forecast (at most ``INLINE_DRAWS`` draws) on the
event loop when the calibration probe reads a local file or there is no database; a larger one,
or any whose probe goes through the engine (PostgreSQL; here a SQLite file with its own probe
connection taken away, so it probes the same way), in the thread pool. Either way the answer is the same document."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.routes import api

from .conftest import REFERENCE, TEST_SECRET


@pytest.fixture
def where(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records, for each forecast computed, whether it ran on the event loop or in a thread."""
    seen: list[str] = []
    compute = api.forecast_for

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            seen.append("loop")
        except RuntimeError:
            seen.append("thread")
        return compute(*args, **kwargs)

    monkeypatch.setattr(api, "forecast_for", recording)
    return seen


def _client(database: Database | None) -> TestClient:
    settings = Settings(environment="test", secret_key=TEST_SECRET)  # type: ignore[call-arg]
    return TestClient(create_app(settings, database=database))


def _forecasts(client: TestClient, *draws: int) -> list[dict[str, Any]]:
    out = []
    for n in draws:
        response = client.post("/api/v1/forecast", json={"assessment": REFERENCE, "draws": n})
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def _probe_through_the_engine(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_raw_probe", None)  # as on PostgreSQL
    assert not db.probes_locally


@pytest.mark.parametrize("backend", ["sqlite"])
def test_small_forecasts_on_the_loop_large_ones_in_a_thread(db: Database, where: list[str]) -> None:
    assert db.probes_locally
    with _client(db) as client:
        small, large = _forecasts(client, api.INLINE_DRAWS, api.INLINE_DRAWS + 1)
        default = client.post("/api/v1/forecast", json={"assessment": REFERENCE})
    assert default.status_code == 200  # the standard 1,000 draws
    assert where == ["loop", "thread", "thread"]
    assert small["draws"] == api.INLINE_DRAWS
    assert large["draws"] == api.INLINE_DRAWS + 1


def test_without_a_database_small_forecasts_run_on_the_loop(where: list[str]) -> None:
    with _client(None) as client:
        _forecasts(client, 50)
    assert where == ["loop"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_probe_through_the_engine_keeps_every_forecast_off_the_loop(
    db: Database, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _probe_through_the_engine(db, monkeypatch)
    with _client(db) as client:
        _forecasts(client, 50)
    assert where == ["thread"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_same_document_on_the_loop_and_in_a_thread(
    db: Database, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _client(db) as client:
        one = _forecasts(client, 200)[0]
        _probe_through_the_engine(db, monkeypatch)
        other = _forecasts(client, 200)[0]
    assert where == ["loop", "thread"]
    assert one == other

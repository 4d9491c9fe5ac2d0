"""Request bodies over the limit are refused with 413 before the app reads them (issue 17, M5)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from needleplan.web.settings import load_settings

from .conftest import REFERENCE, TestClient, make_env, user_store
from .test_errors import assert_shape

__all__ = ["user_store"]

MIB = 1024 * 1024


def _call(app: Any, path: str, chunks: int, content_length: int | None) -> tuple[int, int, bytes]:
    """POST ``chunks`` chunks of 1 MiB to ``path`` straight through ASGI.

    Returns the status, how many chunks the server pulled, and the response body.
    """
    pulled = 0
    sent: list[dict[str, Any]] = []
    headers = [(b"content-type", b"application/json"), (b"host", b"testserver")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": b" " * MIB, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], pulled, body


def test_a_declared_50_mb_body_is_refused_without_reading_it(user_store: Any) -> None:
    env = make_env(user_store)
    status, pulled, body = _call(env.app, "/api/v1/plan", 50, 50 * MIB)
    assert status == 413
    assert pulled == 0
    errors = assert_shape(orjson.loads(body))
    assert errors[0]["field"] == "body"
    assert str(MIB) in errors[0]["rule"]


def test_a_streamed_50_mb_body_is_cut_off_at_the_limit(user_store: Any) -> None:
    env = make_env(user_store)
    status, pulled, body = _call(env.app, "/api/v1/forecast", 50, None)
    assert status == 413
    assert pulled <= 2  # the limit is 1 MiB: the second chunk passes it
    assert_shape(orjson.loads(body))


def test_pages_get_a_413_page_and_the_limit_is_per_route(user_store: Any) -> None:
    env = make_env(user_store, max_body_bytes=4096, max_body_overrides={"/api/v1/compare": MIB})
    status, pulled, body = _call(env.app, "/login", 1, MIB)
    assert (status, pulled) == (413, 0)
    assert b"Request too large" in body
    with TestClient(env.app) as client:
        big = {**REFERENCE, "notes": "x" * 5000}
        refused = client.post("/api/v1/plan", json=big)
        assert refused.status_code == 413
        # the refusal carries the security headers like every other answer
        assert refused.headers["x-content-type-options"] == "nosniff"
        # the override: the same body on /compare reaches validation (422: unknown field)
        response = client.post("/api/v1/compare", json={"assessment": big})
        assert response.status_code == 422
        assert client.post("/api/v1/plan", json=REFERENCE).status_code == 200


def test_limits_are_validated_settings() -> None:
    assert load_settings(environment="test").max_body_bytes == MIB
    with pytest.raises(Exception, match="NEEDLEPLAN_MAX_BODY_BYTES"):
        load_settings(environment="test", max_body_bytes=0)

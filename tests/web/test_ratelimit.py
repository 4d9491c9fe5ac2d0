"""Per-client token buckets: public endpoints answer 429 in the one error shape when exceeded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.web.ratelimit import TokenBucketLimiter

from .conftest import REFERENCE, Env, FakeClock, TestClient, make_env


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.take("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.take("a") == 0
    assert limiter.take("b") == 0, "another client has its own bucket"


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=60))
def test_bucket_never_allows_more_than_burst_plus_refill(gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=30, burst=4, clock=clock)
    start = clock.now
    allowed = 0
    for gap in gaps:
        clock.advance(gap)
        allowed += limiter.take("k") == 0
    assert allowed <= 4 + (clock.now - start) * 30 / 60 + 1e-9


def test_idle_buckets_are_forgotten_when_many_clients_were_seen() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=60, burst=2, clock=clock, max_keys=10)
    for i in range(10):
        limiter.take(f"client-{i}")
    clock.advance(10)
    limiter.take("newcomer")
    assert len(limiter) == 1


def test_limiter_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucketLimiter(per_minute=0, burst=1)


def test_public_api_answers_429_with_retry_after(user_store: object) -> None:
    env = make_env(user_store, api_burst=2, api_per_minute=6)  # type: ignore[arg-type]
    with TestClient(env.app) as client:
        statuses = [client.post("/api/v1/plan", json=REFERENCE).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.post("/api/v1/plan", json=REFERENCE)
        assert limited.headers["retry-after"] == "10"
        assert limited.json() == {
            "errors": [
                {"field": "client", "value": None, "rule": "too many requests; retry after 10 s"}
            ]
        }
        env.clock.advance(10)
        assert client.post("/api/v1/plan", json=REFERENCE).status_code == 200


def test_bad_input_also_spends_a_token(user_store: object) -> None:
    env = make_env(user_store, api_burst=1)  # type: ignore[arg-type]
    with TestClient(env.app) as client:
        assert client.post("/api/v1/plan", json={"age": 1}).status_code == 422
        assert client.post("/api/v1/plan", json=REFERENCE).status_code == 429


def test_signed_in_staff_are_not_limited(env: Env, as_user: Callable[[str], TestClient]) -> None:
    client = as_user("prac")
    burst = env.app.state.settings.api_burst
    statuses = {client.post("/api/v1/plan", json=REFERENCE).status_code for _ in range(burst + 3)}
    assert statuses == {200}


def test_two_apps_on_one_database_share_the_api_limit(db: object) -> None:
    """Two apps (as two worker processes build them) on one database: a burst of 3 is 3 answers
    in all, not 3 each; the fourth request, to either app, is refused."""
    from needleplan.web import Settings, create_app
    from needleplan.web.ratelimit import DatabaseLimiter

    from .conftest import TEST_SECRET

    settings = Settings(  # type: ignore[call-arg]
        environment="test", secret_key=TEST_SECRET, api_burst=3, api_per_minute=1
    )
    apps = [create_app(settings, database=db) for _ in range(2)]  # type: ignore[arg-type]
    assert isinstance(apps[0].state.api_limiter, DatabaseLimiter)
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        statuses = [c.post("/api/v1/plan", json=REFERENCE).status_code for c in (one, two, one)]
        assert statuses == [200, 200, 200]
        assert two.post("/api/v1/plan", json=REFERENCE).status_code == 429
        assert one.post("/api/v1/plan", json=REFERENCE).status_code == 429


def _sqlite_limiter(tmp_path: Path, burst: int) -> tuple[Any, str]:
    from needleplan.storage import Database
    from needleplan.web.ratelimit import DatabaseLimiter

    path = tmp_path / "clinic.sqlite3"
    db = Database.open(f"sqlite:///{path}")
    return DatabaseLimiter(db.engine, per_minute=1, burst=burst), str(path)


def test_a_take_without_waiting_shares_the_buckets_of_the_waiting_one(tmp_path: Path) -> None:
    limiter, _ = _sqlite_limiter(tmp_path, burst=3)
    assert [limiter.take_now("api:a"), limiter.take("api:a"), limiter.take_now("api:a")] == [0] * 3
    refused = limiter.take_now("api:a")
    assert refused is not None
    assert refused > 0
    assert limiter.take("api:a") > 0
    assert limiter.take_now("api:b") == 0  # another client's bucket


def test_a_take_without_waiting_purges_full_buckets_itself_when_a_purge_is_due(
    tmp_path: Path,
) -> None:
    """The purge due every ``purge_every`` takes runs on the event loop's take too (it once made
    that take go to the thread pool, and the takes behind it followed)."""
    from needleplan.storage import Database
    from needleplan.web.ratelimit import DatabaseLimiter

    now = [1_800_000_000.0]
    db = Database.open(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    try:
        limiter = DatabaseLimiter(
            db.engine, per_minute=60, burst=2, clock=lambda: now[0], purge_every=3
        )
        assert [limiter.take_now("api:a"), limiter.take_now("api:b")] == [0, 0]
        assert len(limiter) == 2
        now[0] += 10  # both buckets are full again
        assert limiter.take_now("api:c") == 0  # the third take: purged first, then taken
        assert len(limiter) == 1
    finally:
        db.dispose()


def test_a_take_without_waiting_gives_way_to_any_lock_holder(tmp_path: Path) -> None:
    """Another process's take (the lock file) or a writer holding SQLite's lock: None at once,
    nothing taken; the waiting take then counts as usual."""
    import fcntl
    import os
    import sqlite3

    limiter, path = _sqlite_limiter(tmp_path, burst=2)
    fd = os.open(path + ".ratelimit.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert limiter.take_now("api:a") is None
    finally:
        os.close(fd)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        assert limiter.take_now("api:a") is None
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert [limiter.take_now("api:a"), limiter.take("api:a")] == [0, 0]  # both tokens were left
    assert limiter.take_now("api:a") > 0  # type: ignore[operator]


def test_no_take_without_waiting_off_a_sqlite_file(db: Any) -> None:
    from needleplan.web.ratelimit import DatabaseLimiter

    limiter = DatabaseLimiter(db.engine, per_minute=1, burst=5)
    assert limiter.takes_now is (db.backend == "sqlite")  # the API retries it on the loop
    if db.backend == "postgresql":
        assert limiter.take_now("api:a") is None  # a network round trip: in a thread
    assert limiter.take("api:a") == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_request_takes_its_turn_while_another_worker_holds_the_lock(db: Any) -> None:
    """Another worker's take holds the lock file: the request tries again on the event loop a
    few times, then waits in the thread pool until the lock is free, and its token counts."""
    import fcntl
    import os
    import threading

    from needleplan.web import Settings, create_app
    from needleplan.web.ratelimit import LOCK_SUFFIX

    from .conftest import TEST_SECRET

    settings = Settings(  # type: ignore[call-arg]
        environment="test", secret_key=TEST_SECRET, api_burst=2, api_per_minute=1
    )
    app = create_app(settings, database=db)
    with TestClient(app) as client:
        fd = os.open(str(db.engine.url.database) + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        release = threading.Timer(0.3, os.close, args=(fd,))  # the other worker's take ends
        release.start()
        try:
            statuses = [client.post("/api/v1/plan", json=REFERENCE).status_code for _ in range(3)]
        finally:
            release.join(timeout=10)
    assert statuses == [200, 200, 429]

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


def test_two_apps_on_one_database_share_the_api_limit(db: Any) -> None:
    """Two apps (as two worker processes build them) on one database: a burst of 3 is 3 answers
    in all, not 3 each; the fourth request, to either app, is refused. A SQLite clinic shares
    the buckets in the table file beside it, PostgreSQL in the database."""
    from needleplan.web import Settings, create_app
    from needleplan.web.ratelimit import DatabaseLimiter, FileLimiter

    from .conftest import TEST_SECRET

    settings = Settings(  # type: ignore[call-arg]
        environment="test", secret_key=TEST_SECRET, api_burst=3, api_per_minute=1
    )
    apps = [create_app(settings, database=db) for _ in range(2)]
    shared = FileLimiter if db.backend == "sqlite" else DatabaseLimiter
    assert isinstance(apps[0].state.api_limiter, shared)
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        statuses = [c.post("/api/v1/plan", json=REFERENCE).status_code for c in (one, two, one)]
        assert statuses == [200, 200, 200]
        assert two.post("/api/v1/plan", json=REFERENCE).status_code == 429
        assert one.post("/api/v1/plan", json=REFERENCE).status_code == 429


def _file_limiter(
    path: Path, burst: int = 3, per_minute: float = 60, slots: int = 64
) -> tuple[Any, list[float]]:
    from needleplan.web.ratelimit import FileLimiter

    now = [1_800_000_000.0]
    limiter = FileLimiter(
        str(path), per_minute=per_minute, burst=burst, clock=lambda: now[0], slots=slots
    )
    return limiter, now


def test_the_shared_file_allows_a_burst_then_refills_at_the_rate(tmp_path: Path) -> None:
    limiter, now = _file_limiter(tmp_path / "t.ratelimit")
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(1.0)
    now[0] += 0.5
    assert limiter.take_now("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take_now("a") == 0
    assert limiter.take("b") == 0, "another client has its own bucket"
    now[0] -= 30  # a clock that steps back refills nothing (and breaks nothing)
    assert limiter.take("a") == pytest.approx(1.0)


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40))
def test_the_shared_file_never_allows_more_than_burst_plus_refill(gaps: list[float]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        limiter, now = _file_limiter(Path(folder) / "t.ratelimit", burst=4, per_minute=30)
        start, allowed = now[0], 0
        for gap in gaps:
            now[0] += gap
            allowed += limiter.take("k") == 0
        assert allowed <= 4 + (now[0] - start) * 30 / 60 + 1e-9


def test_two_limiters_on_one_file_share_every_bucket(tmp_path: Path) -> None:
    """As two worker processes: each maps the file; a bucket emptied by one is empty for both."""
    one, now = _file_limiter(tmp_path / "t.ratelimit", burst=2)
    two, _ = _file_limiter(tmp_path / "t.ratelimit", burst=2)
    two.clock = one.clock
    assert [one.take("a"), two.take("a")] == [0, 0]
    assert one.take("a") > 0
    assert two.take_now("a") > 0  # type: ignore[operator]
    assert (len(one), len(two)) == (1, 1)
    now[0] += 120  # full again: a free slot, no longer counted
    assert len(one) == 0


def test_a_crowded_table_forgets_the_bucket_nearest_to_full(tmp_path: Path) -> None:
    """One home slot (a table of 1), so every key competes for the same PROBE slots."""
    from needleplan.web.ratelimit import PROBE

    limiter, now = _file_limiter(tmp_path / "t.ratelimit", burst=2, per_minute=1, slots=1)
    for i in range(PROBE):
        assert limiter.take(f"client-{i}") == 0
        now[0] += 1
    assert len(limiter) == PROBE
    assert limiter.take("newcomer") == 0  # took client-0's slot, the nearest to full
    assert limiter.take("client-1") == 0  # the others still count: one token left each
    assert limiter.take("client-1") > 0
    assert limiter.take("client-0") == 0  # forgotten: a full bucket again (client-2's slot)
    now[0] += 120  # every bucket full again: free slots, reused by new clients
    assert [limiter.take(f"later-{i}") for i in range(PROBE)] == [0] * PROBE
    assert len(limiter) == PROBE


def test_a_file_that_is_not_a_table_is_rebuilt_private(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "t.ratelimit"
    path.write_bytes(b"not a table")
    limiter, _ = _file_limiter(path, burst=1)
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    size = path.stat().st_size
    again, _ = _file_limiter(path, burst=1, slots=8)  # an existing table keeps its size
    again.clock = limiter.clock
    assert again.take("a") > 0
    assert path.stat().st_size == size


def test_a_slot_torn_by_a_crash_counts_as_a_full_bucket(tmp_path: Path) -> None:
    import mmap
    import struct

    path = tmp_path / "t.ratelimit"
    limiter, _ = _file_limiter(path, burst=2, slots=1)
    assert limiter.take("a") == 0
    with path.open("r+b") as f, mmap.mmap(f.fileno(), 0) as table:
        # The header is 32 bytes; a slot is its key's 16-byte digest, then the tokens.
        struct.pack_into("<d", table, 32 + 16, float("nan"))  # the tokens of slot 0
    assert [limiter.take("a"), limiter.take("a")] == [0, 0]
    assert limiter.take("a") > 0


def test_a_take_without_waiting_gives_way_to_another_holder(tmp_path: Path) -> None:
    """Another process's take holds the table (its ``flock``): None at once, nothing taken; the
    waiting take then counts as usual. A writer holding SQLite's lock is no obstacle any more."""
    import fcntl
    import os

    path = tmp_path / "t.ratelimit"
    limiter, _ = _file_limiter(path, burst=2)
    assert limiter.take("warm") == 0  # the table exists
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert limiter.take_now("api:a") is None
    finally:
        os.close(fd)
    assert [limiter.take_now("api:a"), limiter.take("api:a")] == [0, 0]  # both tokens were left
    assert limiter.take_now("api:a") > 0  # type: ignore[operator]


def test_the_database_limiter_purges_buckets_that_are_full_again(db: Any) -> None:
    from needleplan.web.ratelimit import DatabaseLimiter

    now = [1_800_000_000.0]
    limiter = DatabaseLimiter(
        db.engine, per_minute=60, burst=2, clock=lambda: now[0], purge_every=5
    )
    assert [limiter.take("api:a"), limiter.take("api:b"), limiter.take("api:a")] == [0, 0, 0]
    assert limiter.take("api:a") > 0
    assert len(limiter) == 2
    now[0] += 10  # both buckets are full again
    assert limiter.take("api:c") == 0  # the fifth take: purged first, then taken
    assert len(limiter) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_request_takes_its_turn_while_another_worker_holds_the_table(db: Any) -> None:
    """Another worker's take holds the table file: the request tries again on the event loop a
    few times, then waits in the thread pool until the table is free, and its token counts."""
    import fcntl
    import os
    import threading

    from needleplan.web import Settings, create_app
    from needleplan.web.ratelimit import TABLE_SUFFIX

    from .conftest import TEST_SECRET

    settings = Settings(  # type: ignore[call-arg]
        environment="test", secret_key=TEST_SECRET, api_burst=2, api_per_minute=1
    )
    app = create_app(settings, database=db)
    with TestClient(app) as client:
        fd = os.open(str(db.engine.url.database) + TABLE_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        release = threading.Timer(0.3, os.close, args=(fd,))  # the other worker's take ends
        release.start()
        try:
            statuses = [client.post("/api/v1/plan", json=REFERENCE).status_code for _ in range(3)]
        finally:
            release.join(timeout=10)
    assert statuses == [200, 200, 429]

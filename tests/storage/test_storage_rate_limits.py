"""Token buckets in the database (``rate_limits``): atomic, shared by connections, on both backends."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from needleplan.storage import rate_limits
from needleplan.web.ratelimit import DatabaseLimiter


class StepClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_the_rate(db: Any) -> None:
    clock = StepClock()
    limiter = DatabaseLimiter(db.engine, per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") == 0
    assert limiter.take("b") == 0, "another client has its own bucket"


def test_two_limiters_on_one_database_share_the_buckets(db: Any) -> None:
    """What two server processes see: the second limiter finds the first one's bucket empty."""
    clock = StepClock()
    first = DatabaseLimiter(db.engine, per_minute=1, burst=4, clock=clock)
    second = DatabaseLimiter(db.engine, per_minute=1, burst=4, clock=clock)
    taken = [first.take("k"), second.take("k"), first.take("k"), second.take("k")]
    assert taken == [0, 0, 0, 0]
    assert first.take("k") > 0
    assert second.take("k") == pytest.approx(60.0)


def test_concurrent_takes_never_allow_more_than_the_burst(db: Any) -> None:
    """Eight threads race on one bucket of 25 tokens (no refill to speak of): exactly 25 pass."""
    limiter = DatabaseLimiter(db.engine, per_minute=1e-6, burst=25)
    allowed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(limiter.take("race") == 0 for _ in range(10))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(allowed) == 25


def test_a_clock_stepping_back_refills_nothing(db: Any) -> None:
    clock = StepClock()
    limiter = DatabaseLimiter(db.engine, per_minute=60, burst=1, clock=clock)
    assert limiter.take("k") == 0
    clock.now -= 3600
    assert limiter.take("k") > 0
    clock.now += 3600 + 1
    assert limiter.take("k") == 0


def test_full_buckets_are_purged_and_long_keys_are_hashed(db: Any) -> None:
    clock = StepClock()
    limiter = DatabaseLimiter(db.engine, per_minute=60, burst=2, clock=clock, purge_every=3)
    long_key = "login-user:" + "x" * 400
    limiter.take(long_key)
    limiter.take("short")
    assert len(limiter) == 2
    assert rate_limits.bucket_name(long_key).startswith("sha256:")
    clock.now += 10  # both buckets are full again
    limiter.take("newcomer")  # the third take purges first
    assert len(limiter) == 1


def test_limiter_rejects_nonsense_settings(db: Any) -> None:
    with pytest.raises(ValueError, match="burst"):
        DatabaseLimiter(db.engine, per_minute=10, burst=0)

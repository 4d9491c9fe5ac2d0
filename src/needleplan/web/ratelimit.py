"""In-memory token-bucket rate limiting, per client key.

Each key (a client address, or ``login-user:<name>``) owns a bucket holding up to ``burst``
tokens, refilled continuously at ``per_minute / 60`` tokens per second. A request takes one
token; an empty bucket answers "retry after N seconds". The clock is injectable so tests step
time instead of sleeping. State lives in the process: with several server processes each one
limits on its own (documented in docs/api.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from needleplan.exceptions import FieldProblem
from needleplan.web.errors import ApiError

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Per-key token buckets.

    Parameters
    ----------
    per_minute
        refill rate [tokens / minute].
    burst
        bucket capacity [tokens]: how many requests may arrive at once.
    clock
        monotonic time source [s]; ``time.monotonic`` by default.
    max_keys
        when more keys than this are tracked, full (idle) buckets are forgotten.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now

    def take(self, key: str) -> float:
        """Take one token for ``key``; return 0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_idle(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            self._refill(bucket, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        for key in list(self._buckets):
            bucket = self._buckets[key]
            self._refill(bucket, now)
            if bucket.tokens >= self.burst:
                del self._buckets[key]

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


def too_many(wait_s: float, what: str) -> ApiError:
    retry = max(1, math.ceil(wait_s))
    return ApiError(
        429,
        [FieldProblem("client", None, f"too many {what}; retry after {retry} s")],
        headers={"Retry-After": str(retry)},
    )

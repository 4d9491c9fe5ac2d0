"""Token-bucket rate limiting, per client key: in the process's memory or in the database.

Each key (a client address, or ``login-user:<name>``) owns a bucket holding up to ``burst``
tokens, refilled continuously at ``per_minute / 60`` tokens per second. A request takes one
token; an empty bucket answers "retry after N seconds". The clock is injectable so tests step
time instead of sleeping.

:class:`TokenBucketLimiter` keeps the buckets in the process (an app without a database).
:class:`DatabaseLimiter` keeps them in the ``rate_limits`` table, so every server process
(``needleplan serve --workers N``) takes from the same buckets: a limit means the same with one
worker or four (docs/api.md).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy import Engine

from needleplan.exceptions import FieldProblem
from needleplan.storage import rate_limits
from needleplan.web.errors import ApiError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

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


class Limiter(Protocol):
    """What the routes use: take a token for a key, get 0 or the seconds to wait."""

    def take(self, key: str) -> float: ...


@contextmanager
def _file_lock(path: str | None) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing); nothing when None or not POSIX."""
    if path is None or fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_file_lock(path: str) -> int | None:
    """An exclusive ``flock`` on ``path`` taken without waiting: the descriptor holding it (close
    it to release), or None when another holder has it or the platform has no ``flock``."""
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


#: The lock file beside a SQLite database that the takes of every process queue on.
LOCK_SUFFIX = ".ratelimit.lock"


class DatabaseLimiter:
    """Per-key token buckets in the database (``rate_limits``), shared by every process.

    Each :meth:`take` is one short transaction of its own on its own connection (an atomic
    UPSERT, see :mod:`needleplan.storage.rate_limits`); never call it inside a transaction of
    the same SQLite database. Every ``purge_every`` takes, buckets that are full again are
    deleted.

    On SQLite the takes of all threads and processes queue on a lock file beside the database
    (``<file>.ratelimit.lock``, ``flock``) before they ask for SQLite's write lock: SQLite's own
    busy handler retries by sleeping 1, 2, 5, 10 ... ms, which under load costs far more than
    the take itself, while a waiter on ``flock`` is woken as soon as the lock is free.

    Parameters
    ----------
    engine
        the clinic database's engine.
    per_minute, burst
        as :class:`TokenBucketLimiter`.
    clock
        wall-clock time source [s since the epoch], the same for every process;
        ``time.time`` by default.
    """

    def __init__(
        self,
        engine: Engine,
        per_minute: float,
        burst: int,
        *,
        clock: Clock = time.time,
        purge_every: int = 1000,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.engine = engine
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.purge_every = purge_every
        self._takes = 0
        self._thread_lock = threading.Lock()
        self._raw: sqlite3.Connection | None = None
        self._raw_now: sqlite3.Connection | None = None  # busy timeout 0, for take_now
        self._lock_path: str | None = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            self._lock_path = database + LOCK_SUFFIX

    @property
    def takes_now(self) -> bool:
        """Whether :meth:`take_now` can succeed at all (a SQLite file; never PostgreSQL)."""
        return self._lock_path is not None

    def take(self, key: str) -> float:
        """Take one token for ``key``; return 0 when allowed, else the seconds to wait."""
        self._takes += 1
        if self._takes % self.purge_every == 0:
            with self._thread_lock, _file_lock(self._lock_path), self.engine.begin() as conn:
                rate_limits.purge(conn, self.clock())
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                return rate_limits.take(conn, key, self.clock(), self.rate, self.burst)
        with self._thread_lock, _file_lock(self._lock_path):
            # One connection of its own, used under the lock: the hot path skips the engine's
            # per-call work (pool checkout, events, statement bookkeeping).
            if self._raw is None:
                database = self.engine.url.database or ":memory:"
                if database == ":memory:":  # a private in-memory database: the engine's own
                    with self.engine.begin() as conn:
                        return rate_limits.take(conn, key, self.clock(), self.rate, self.burst)
                self._raw = rate_limits.connect_sqlite(database)
                weakref.finalize(self, self._raw.close)
            try:
                return rate_limits.take_sqlite(self._raw, key, self.clock(), self.rate, self.burst)
            except BaseException:
                raw, self._raw = self._raw, None
                raw.close()
                raise

    def take_now(self, key: str) -> float | None:
        """:meth:`take` if it can be done without waiting, else None (then call :meth:`take`
        where waiting is allowed, e.g. a worker thread).

        For the event loop of a server process: on a SQLite file a take costs about 40
        microseconds when nothing holds its locks, less than handing it to a thread. It waits on
        nothing: the thread lock and the lock file are tried without blocking and the
        connection's busy timeout is 0, so another take in progress (this process or another)
        or a writer holding SQLite's lock answer None. A purge that is due runs here too, under
        the same locks (one indexed ``DELETE``): handed to the thread pool, it held the locks
        while that thread waited for the interpreter, and the takes behind it on the event loop
        found them held and followed it there (a run of hand-offs from one purge). Elsewhere
        (PostgreSQL, an in-memory database) always None.
        """
        if self._lock_path is None:
            return None
        if not self._thread_lock.acquire(blocking=False):
            return None
        try:
            fd = _try_file_lock(self._lock_path)
            if fd is None:
                return None
            try:
                if self._raw_now is None:
                    self._raw_now = rate_limits.connect_sqlite(self._lock_path[: -len(LOCK_SUFFIX)])
                    self._raw_now.execute("PRAGMA busy_timeout = 0")
                    weakref.finalize(self, self._raw_now.close)
                try:
                    now = self.clock()
                    if (self._takes + 1) % self.purge_every == 0:
                        rate_limits.purge_sqlite(self._raw_now, now)
                    wait = rate_limits.take_sqlite(self._raw_now, key, now, self.rate, self.burst)
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                        return None  # a writer holds SQLite's lock; BEGIN did not start
                    raw, self._raw_now = self._raw_now, None
                    raw.close()
                    raise
                self._takes += 1
                return wait
            finally:
                os.close(fd)  # releases the lock file
        finally:
            self._thread_lock.release()

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return rate_limits.count(conn)


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

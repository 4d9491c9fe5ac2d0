"""Token-bucket rate limiting, per client key: in the process, in a shared file or the database.

Each key (a client address, or ``login-user:<name>``) owns a bucket holding up to ``burst``
tokens, refilled continuously at ``per_minute / 60`` tokens per second. A request takes one
token; an empty bucket answers "retry after N seconds". The clock is injectable so tests step
time instead of sleeping.

:class:`TokenBucketLimiter` keeps the buckets in the process (an app without a database).
The two others are shared by every server process (``needleplan serve --workers N``), so a limit
means the same with one worker or four (docs/api.md): :class:`FileLimiter` keeps them in a
file beside a SQLite clinic, mapped into each process's memory; :class:`DatabaseLimiter` in the
``rate_limits`` table of a PostgreSQL clinic.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import struct
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy import Engine

from needleplan.exceptions import FieldProblem, InputError
from needleplan.storage import rate_limits
from needleplan.web.errors import ApiError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the buckets stay in the database
    fcntl = None  # type: ignore[assignment]

Clock = Callable[[], float]


def _check_limits(per_minute: float, burst: int) -> None:
    if per_minute <= 0 or burst < 1:
        raise ValueError("per_minute must be > 0 and burst >= 1")


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
        _check_limits(per_minute, burst)
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


def _try_flock(fd: int) -> bool:
    """An exclusive ``flock`` on ``fd`` taken without waiting: whether it was taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


#: The bucket table beside a SQLite database, shared by the server's worker processes.
TABLE_SUFFIX = ".ratelimit"
_MAGIC = b"NPRL0001"
_HEADER = struct.Struct("<8sI4x16s")  # magic, slots, (padding), the digest's salt
_SLOT = struct.Struct("<16sddd")  # key digest, tokens, updated [s], full again at [s]
#: Slots a key may sit in: its home slot and the next ones (linear probing, no wrap-around).
PROBE = 32
#: Bucket slots of a new table: 65,536 (2.6 MB, sparse on disk).
SLOTS = 1 << 16
_EMPTY = bytes(16)


class FileLimiter:
    """Per-key token buckets in a file mapped into every server process's memory.

    For a SQLite clinic (``needleplan serve --workers N`` on one machine): the buckets live in
    ``<database>.ratelimit``, a fixed table of :data:`SLOTS` slots, mapped with ``mmap`` by every
    worker process and changed only under an exclusive ``flock`` on that file, so every process
    takes from the same bucket and a limit means the same with one worker or four. A take reads
    and writes a few dozen bytes of shared memory: no SQLite write lock (which the clinic's own
    writes need), no disk write, about 5 microseconds.

    A key is stored as its 16-byte BLAKE2b digest salted with a random salt of the table (so no
    client can choose addresses that crowd one part of the table); its slot is the digest's home
    slot or one of the next :data:`PROBE`. A bucket that is full again is a free slot. When all
    of a key's slots hold buckets that are not full (tens of thousands of clients limited at
    once), the bucket nearest to full is forgotten: that client gets a full bucket early.

    The table is a cache of counts, not a record: it may be deleted while the server is stopped
    (every bucket then starts full); a table that is not this format, or the wrong size, is
    rebuilt empty. Created with mode 0600. Same semantics as :class:`DatabaseLimiter`: the
    clock is wall-clock seconds shared by the processes (one that steps back refills nothing).

    Parameters
    ----------
    path
        the table file (created if missing).
    per_minute, burst
        as :class:`TokenBucketLimiter`.
    clock
        wall-clock time source [s since the epoch]; ``time.time`` by default.
    slots
        the table's size when this limiter creates it (tests use small tables).
    """

    def __init__(
        self,
        path: str,
        per_minute: float,
        burst: int,
        *,
        clock: Clock = time.time,
        slots: int = SLOTS,
    ) -> None:
        _check_limits(per_minute, burst)
        if fcntl is None:  # pragma: no cover - Windows
            raise RuntimeError("a shared rate-limit file needs POSIX file locks")
        self.path = path
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.slots = slots
        self._thread_lock = threading.Lock()
        self._opened: tuple[int, int, mmap.mmap, bytes, int] | None = None  # pid, fd, map, salt, n

    def check(self) -> None:
        """Open the table (building it when it is not one) and close it again, so that a file
        this process cannot use is reported when the server starts, not as an error on each
        request: ``InputError`` naming it. The takes open it when they first need it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._check_or_build(fd)
            finally:
                os.close(fd)  # releases the lock
        except OSError as exc:
            raise InputError.one(
                "rate_limit_table",
                self.path,
                "cannot be opened for reading and writing beside the database "
                f"({exc.strerror or exc})",
            ) from None

    def _table(self) -> tuple[int, mmap.mmap, bytes, int]:
        """The open table (opened again in a forked child: a ``flock`` is per open file)."""
        opened = self._opened
        if opened is not None and opened[0] == os.getpid():
            return opened[1:]
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                salt, n = self._check_or_build(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            table = mmap.mmap(fd, _HEADER.size + (n + PROBE) * _SLOT.size)
        except BaseException:
            os.close(fd)
            raise
        self._opened = (os.getpid(), fd, table, salt, n)
        weakref.finalize(self, _close, fd, table)
        return fd, table, salt, n

    def _check_or_build(self, fd: int) -> tuple[bytes, int]:
        """The table's salt and slot count; an empty table first when the file is not one."""
        head = os.pread(fd, _HEADER.size, 0)
        if len(head) == _HEADER.size:
            magic, n, salt = _HEADER.unpack(head)
            size = _HEADER.size + (n + PROBE) * _SLOT.size
            if magic == _MAGIC and n > 0 and os.fstat(fd).st_size == size:
                return salt, n
        n, salt = self.slots, os.urandom(16)
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)  # zeros: every slot empty
        os.ftruncate(fd, _HEADER.size + (n + PROBE) * _SLOT.size)
        os.pwrite(fd, _HEADER.pack(_MAGIC, n, salt), 0)
        return salt, n

    def take(self, key: str) -> float:
        """Take one token for ``key``; return 0 when allowed, else the seconds to wait."""
        with self._thread_lock:
            fd, table, salt, n = self._table()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                return self._take(table, salt, n, key)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def take_now(self, key: str) -> float | None:
        """:meth:`take` if no other thread or process is taking at this moment, else None (then
        call :meth:`take`, which waits; on an event loop, try again first). Also None before
        this process's first :meth:`take` has opened the table."""
        opened = self._opened
        if opened is None or opened[0] != os.getpid():
            return None  # opening it may wait for the file: :meth:`take` does it
        if not self._thread_lock.acquire(blocking=False):
            return None
        try:
            fd, table, salt, n = self._table()
            if not _try_flock(fd):
                return None
            try:
                return self._take(table, salt, n, key)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _take(self, table: mmap.mmap, salt: bytes, n: int, key: str) -> float:
        """The take itself, under both locks."""
        now = self.clock()
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16, key=salt)
        found = digest.digest()
        home = _HEADER.size + (int.from_bytes(found[:8], "little") % n) * _SLOT.size
        window = table[home : home + PROBE * _SLOT.size]
        at = window.find(found)
        while at >= 0 and at % _SLOT.size:  # only a whole slot's key counts
            at = window.find(found, at + 1)
        if at >= 0:
            tokens, updated = (float(v) for v in _SLOT.unpack_from(window, at)[1:3])
            if not 0.0 <= tokens <= self.burst or updated != updated:  # torn by a crash: full
                tokens, updated = self.burst, now
            elapsed = now - updated if updated < now else 0.0
            refilled = min(self.burst, tokens + elapsed * self.rate)
            if refilled < 1.0:
                return (1.0 - refilled) / self.rate
            left = refilled - 1.0
            full_at = now + (self.burst - left) / self.rate
            _SLOT.pack_into(table, home + at, found, left, max(updated, now), full_at)
            return 0.0
        # A new bucket (full, minus this take) in the first free slot, else the nearest to full.
        best, best_full = 0, math.inf
        for offset in range(0, PROBE * _SLOT.size, _SLOT.size):
            if window[offset : offset + 16] == _EMPTY:
                best = offset
                break
            full_at = _SLOT.unpack_from(window, offset)[3]
            if full_at <= now:
                best = offset
                break
            if full_at < best_full:
                best, best_full = offset, full_at
        _SLOT.pack_into(table, home + best, found, self.burst - 1.0, now, now + 1.0 / self.rate)
        return 0.0

    def __len__(self) -> int:
        """How many buckets are not full at this moment (the others are free slots)."""
        with self._thread_lock:
            fd, table, _, n = self._table()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = self.clock()
                return sum(
                    1
                    for offset in range(
                        _HEADER.size, _HEADER.size + (n + PROBE) * _SLOT.size, _SLOT.size
                    )
                    if table[offset : offset + 16] != _EMPTY
                    and _SLOT.unpack_from(table, offset)[3] > now
                )
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


def _close(fd: int, table: mmap.mmap) -> None:
    table.close()
    os.close(fd)


class DatabaseLimiter:
    """Per-key token buckets in the database (``rate_limits``), shared by every process.

    For PostgreSQL (several servers may share it). Each :meth:`take` is one short transaction of
    its own (an atomic UPSERT, see :mod:`needleplan.storage.rate_limits`); never call it inside a
    transaction of the same database. Every ``purge_every`` takes, buckets that are full again
    are deleted.

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
        _check_limits(per_minute, burst)
        self.engine = engine
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.purge_every = purge_every
        self._takes = 0

    def take(self, key: str) -> float:
        """Take one token for ``key``; return 0 when allowed, else the seconds to wait."""
        self._takes += 1
        with self.engine.begin() as conn:
            now = self.clock()
            if self._takes % self.purge_every == 0:
                rate_limits.purge(conn, now)
            return rate_limits.take(conn, key, now, self.rate, self.burst)

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

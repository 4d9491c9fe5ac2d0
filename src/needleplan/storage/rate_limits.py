"""Token buckets in the database, so every server process shares one rate limit.

A bucket (a row of ``rate_limits``) holds up to ``burst`` tokens and refills at ``rate`` tokens
per second; taking a token is one statement, atomic on SQLite and PostgreSQL alike: an UPSERT
that creates the bucket full minus one token, or refills it and takes a token only where at least
one is there (``ON CONFLICT ... DO UPDATE ... WHERE``), returning the tokens left. No row back
means refused; a second read then says how long to wait. Times are wall-clock seconds [s] since
the epoch, shared by the processes (a clock that steps back refills nothing).

Unlike the other repositories these functions take a SQLAlchemy ``Connection`` and run in the
caller's short transaction of their own: a limit's count must survive whatever the request does
next.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, delete, func, select, text

from needleplan.storage.tables import RateLimitRow

#: Longest bucket name stored as is; longer ones are stored as their SHA-256.
MAX_BUCKET = 255


def bucket_name(key: str) -> str:
    """``key`` itself, or ``sha256:<hex>`` when it is longer than the column."""
    if len(key) <= MAX_BUCKET:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# The stored bucket's tokens at :now: refilled since ``updated`` (never for a clock that stepped
# back), at most :burst. Plain SQL (the same on SQLite and PostgreSQL), compiled once: building
# the statement as an expression per call cost more than running it.
_ELAPSED = "CASE WHEN rate_limits.updated < :now THEN :now - rate_limits.updated ELSE 0.0 END"
_GROWN = f"rate_limits.tokens + ({_ELAPSED}) * :rate"
_REFILLED = f"(CASE WHEN {_GROWN} > :burst THEN :burst ELSE {_GROWN} END)"

_TAKE = text(
    "INSERT INTO rate_limits (bucket, tokens, updated, full_at) "
    "VALUES (:bucket, :burst - 1.0, :now, :now + 1.0 / :rate) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    f"tokens = {_REFILLED} - 1.0, "
    "updated = CASE WHEN rate_limits.updated < :now THEN :now ELSE rate_limits.updated END, "
    f"full_at = :now + (:burst - ({_REFILLED} - 1.0)) / :rate "
    f"WHERE {_REFILLED} >= 1.0 "
    "RETURNING tokens"
)
_LEFT = text(f"SELECT {_REFILLED} FROM rate_limits WHERE bucket = :bucket")


def take(conn: Connection, key: str, now: float, rate: float, burst: float) -> float:
    """Take one token from ``key``'s bucket; return 0 when allowed, else the seconds to wait.

    Parameters
    ----------
    conn
        a connection inside a transaction (committed by the caller).
    key
        the bucket (a limit and a client).
    now
        wall-clock time [s since the epoch].
    rate
        refill rate [tokens / s], > 0.
    burst
        capacity [tokens], >= 1.
    """
    values = {"bucket": bucket_name(key), "now": float(now), "rate": float(rate)}
    values["burst"] = float(burst)
    if conn.execute(_TAKE, values).first() is not None:
        return 0.0
    tokens = conn.execute(_LEFT, values).scalar_one()
    return max(0.0, (1.0 - float(tokens)) / rate)


def purge(conn: Connection, now: float) -> int:
    """Delete the buckets that are full again at ``now`` (a missing bucket is a full one)."""
    result: Any = conn.execute(delete(RateLimitRow).where(RateLimitRow.full_at <= now))
    return int(result.rowcount)


def count(conn: Connection) -> int:
    """How many buckets are stored."""
    return int(conn.execute(select(func.count()).select_from(RateLimitRow)).scalar_one())

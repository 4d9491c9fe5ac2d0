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

from sqlalchemy import ColumnElement, Connection, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from needleplan.storage.tables import RateLimitRow

#: Longest bucket name stored as is; longer ones are stored as their SHA-256.
MAX_BUCKET = 255


def bucket_name(key: str) -> str:
    """``key`` itself, or ``sha256:<hex>`` when it is longer than the column."""
    if len(key) <= MAX_BUCKET:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _refilled(now: float, rate: float, burst: float) -> ColumnElement[float]:
    """The stored bucket's tokens at ``now``: refilled since ``updated``, at most ``burst``."""
    table = RateLimitRow.__table__.c
    elapsed = case((table.updated < now, literal(now) - table.updated), else_=0.0)
    grown = table.tokens + elapsed * rate
    return case((grown > burst, literal(burst)), else_=grown)


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
    name = bucket_name(key)
    table = RateLimitRow.__table__
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    refilled = _refilled(now, rate, burst)
    stmt = (
        insert(table)
        .values(bucket=name, tokens=burst - 1.0, updated=now, full_at=now + 1.0 / rate)
        .on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={
                "tokens": refilled - 1.0,
                "updated": case((table.c.updated < now, literal(now)), else_=table.c.updated),
                "full_at": literal(now) + (burst - (refilled - 1.0)) / rate,
            },
            where=refilled >= 1.0,
        )
        .returning(table.c.tokens)
    )
    if conn.execute(stmt).first() is not None:
        return 0.0
    tokens = conn.execute(select(refilled).where(table.c.bucket == name)).scalar_one()
    return max(0.0, (1.0 - float(tokens)) / rate)


def purge(conn: Connection, now: float) -> int:
    """Delete the buckets that are full again at ``now`` (a missing bucket is a full one)."""
    result: Any = conn.execute(delete(RateLimitRow).where(RateLimitRow.full_at <= now))
    return int(result.rowcount)


def count(conn: Connection) -> int:
    """How many buckets are stored."""
    return int(conn.execute(select(func.count()).select_from(RateLimitRow)).scalar_one())

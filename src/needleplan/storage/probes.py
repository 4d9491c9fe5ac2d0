"""Version probes for the app's caches: one indexed scalar on a plain connection.

A web request that needs the clinic calendar or the calibration in force asks only for the number
of the newest saved version and keeps the parsed one in memory per number, so every worker process
notices a version saved by another at once. These numbers are read on a bare connection, never
through a unit of work (200-400 µs): on a SQLite file one ``sqlite3`` connection of the probes' own
in autocommit mode (:class:`SQLiteProbe`, 5-20 µs a read, where an engine connection's pool
checkout and events cost 60-100 µs, and 150-400 µs in a server's worker thread right after a
rate-limit write), elsewhere an engine connection (SQLAlchemy Core, no ORM session). Either read
is a deferred read transaction of its own, not ``BEGIN IMMEDIATE``: it sees the last committed
version at once even while another connection writes (a long import, say). Inside a unit of work
the probe reads through it instead, so a version that unit saved and has not committed yet is seen.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from needleplan.storage.engine import READ_ONLY, SQLITE_BUSY_TIMEOUT_MS
from needleplan.storage.repositories.calibrations import ADOPTION
from needleplan.storage.tables import ClinicCalibrationRow, ClinicConfigRow

#: The version number of the newest adoption (a revert is an adoption too): None before any.
CALIBRATION_VERSION: Select[Any] = select(func.max(ClinicCalibrationRow.version)).where(
    ClinicCalibrationRow.kind == ADOPTION
)
#: The number of the newest saved clinic calendar version: None before any.
CLINIC_VERSION: Select[Any] = select(func.max(ClinicConfigRow.id))


class SQLiteProbe:
    """The probes' own ``sqlite3`` connection to a SQLite file (opened at the first read, in
    autocommit mode: each read is its own read transaction and sees every committed version).

    Usable from any thread: reads are serialised by a lock (each takes microseconds). Statements
    are compiled to SQL once, with their constants inlined.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._sql: dict[int, tuple[Select[Any], str]] = {}  # by id(statement), kept alive

    def scalar(self, engine: Engine, statement: Select[Any]) -> Any:
        known = self._sql.get(id(statement))
        if known is None:
            compiled = statement.compile(
                dialect=engine.dialect, compile_kwargs={"literal_binds": True}
            )
            known = self._sql[id(statement)] = (statement, str(compiled))
        sql = known[1]
        with self._lock:
            if self._conn is None:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                self._conn = conn
                weakref.finalize(self, conn.close)
            try:
                row = self._conn.execute(sql).fetchone()
            except BaseException:
                self.close_unlocked()
                raise
        return None if row is None else row[0]

    def close_unlocked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self.close_unlocked()


def sqlite_probe(engine: Engine) -> SQLiteProbe | None:
    """A :class:`SQLiteProbe` for ``engine``'s database when it is a SQLite file, else None
    (PostgreSQL, or a private in-memory database only the engine's own connection sees)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI (shared memory and the like): the engine's own
        return None
    return SQLiteProbe(database)


def read_version(
    engine: Engine,
    session: Session | None,
    statement: Select[Any],
    raw: SQLiteProbe | None = None,
) -> int | None:
    """``statement``'s number: through ``session`` when given (a unit of work is open), else on
    ``raw`` (a SQLite file), else on a bare connection of ``engine``."""
    if session is not None:
        inside: int | None = session.execute(statement).scalar()
        return inside
    if raw is not None:
        number: int | None = raw.scalar(engine, statement)
        return number
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})  # SQLite: never waits for a writer
        value: int | None = connection.execute(statement).scalar()
    return value


__all__ = ["CALIBRATION_VERSION", "CLINIC_VERSION", "SQLiteProbe", "read_version", "sqlite_probe"]

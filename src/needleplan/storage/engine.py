"""Engine factory: SQLite in the user's data directory by default, PostgreSQL by URL.

``NEEDLEPLAN_DATABASE_URL`` selects the database (``postgresql+psycopg://user@host/db`` for
PostgreSQL through psycopg 3, ``sqlite:///path`` for a file). A bare path is read as a SQLite file.

SQLite connections get ``journal_mode=WAL`` (readers never block the writer; a committed
transaction survives a killed process), ``foreign_keys=ON``, ``synchronous=NORMAL`` (safe with WAL:
a crash of the process loses nothing committed; a power cut may lose the last commits) and a
busy timeout. Bound parameters are hidden from SQLAlchemy's log lines and error messages and fetched rows are
dropped from its DEBUG lines, so patient data never reaches a log even when a host application
logs SQL. Every SQLite transaction
starts with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the database lock instead of failing when a read lock cannot be upgraded; a connection
marked read-only (the :data:`READ_ONLY` execution option, used by the version probes) begins
deferred instead, so it reads the last committed state at once while a writer holds the lock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from needleplan.exceptions import InputError
from needleplan.private_files import touch_private

ENV_VAR = "NEEDLEPLAN_DATABASE_URL"
DEFAULT_FILENAME = "needleplan.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: A connection execution option: this connection only reads. On SQLite its transactions begin
#: deferred (a WAL snapshot that never waits for a writer) instead of ``BEGIN IMMEDIATE``.
READ_ONLY = "needleplan_read_only"


class _NoResultRows(logging.Filter):
    """Drop SQLAlchemy's DEBUG lines that print fetched rows (they would carry patient data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_ROW_FILTER = _NoResultRows()


def _protect_logs() -> None:
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    if _ROW_FILTER not in logger.filters:
        logger.addFilter(_ROW_FILTER)


def default_database_path() -> Path:
    """The SQLite file used when no URL is configured (under the platform's user data dir)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("needleplan", appauthor=False)) / DEFAULT_FILENAME


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: ``url``, else ``$NEEDLEPLAN_DATABASE_URL``, else the default file.

    ``postgresql://`` and ``postgres://`` are mapped to the psycopg 3 driver; a bare path becomes a
    SQLite URL.
    """
    raw = url if url else os.environ.get(ENV_VAR, "")
    raw = raw.strip()
    if not raw:
        path = default_database_path()
        return f"sqlite:///{path}"
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (see :func:`resolve_url`) with needleplan's connection setup.

    Raises
    ------
    InputError
        when the URL cannot be parsed or names an unsupported backend.
    """
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise InputError.one("database_url", _redact(resolved), "must be a database URL") from None
    backend = parsed.get_backend_name()
    # Never put bound values (names, notes, contact details) into SQL log lines or error texts,
    # nor fetched rows into DEBUG lines.
    kwargs.setdefault("hide_parameters", True)
    _protect_logs()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            # Patient records: the file (and SQLite's -wal/-shm, which copy its mode) 0600.
            touch_private(database)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    raise InputError.one("database_url", _redact(resolved), "backend must be sqlite or postgresql")


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader: never queues behind a writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

"""Clinic records storage: SQLAlchemy 2 tables, repositories, unit of work, Alembic migrations.

Open a database with :meth:`Database.open` (SQLite in the user's data directory by default,
``NEEDLEPLAN_DATABASE_URL`` for PostgreSQL); it upgrades the schema on start. The use-cases in
:mod:`needleplan.services` are the only callers that open transactions.
"""

from needleplan.storage.database import Database, UnitOfWork
from needleplan.storage.engine import ENV_VAR, default_database_path, make_engine, resolve_url
from needleplan.storage.inserts import InsertedRow, InsertLog

__all__ = [
    "ENV_VAR",
    "Database",
    "InsertLog",
    "InsertedRow",
    "UnitOfWork",
    "default_database_path",
    "make_engine",
    "resolve_url",
]

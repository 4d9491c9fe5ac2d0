"""Run the Alembic migrations shipped inside the package, programmatically.

The schema belongs to the migrations in ``needleplan/storage/migrations``; :func:`upgrade` brings
any database (empty or at an older revision) to the head revision. The app calls it on start.

An empty database (no tables at all) going to the head revision is built in one step from the
table definitions (``storage/tables``) and stamped with :data:`HEAD`, the way Alembic's cookbook
builds a new database: about 30 ms instead of replaying every migration (0.3 s on SQLite, where
many of them rebuild tables). ``tests/storage/test_storage_migrations.py`` checks that both
ways give the same schema, column by column, constraint by constraint, on both backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: The newest shipped revision (a test checks it against the migration scripts). Knowing it
#: without loading Alembic keeps start-up fast when the database is already up to date.
HEAD = "0030"


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is not at :data:`HEAD` (a cheap check that skips Alembic)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        conn.rollback()
    return row is None or row[0] != HEAD


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``engine``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    if revision in ("head", HEAD) and create_at_head(engine):
        return
    replay(engine, revision)


def replay(engine: Engine, revision: str = "head") -> None:
    """Run the migration scripts up to ``revision``, even on an empty database."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def create_at_head(engine: Engine) -> bool:
    """Build the newest schema in an empty database in one transaction and stamp it :data:`HEAD`.

    Returns ``False`` (and does nothing) when the database already has a table: such a database
    is upgraded by its migrations.
    """
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    from needleplan.storage.tables import metadata

    # Alembic's own version table, as ``alembic stamp`` would create it.
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    with engine.begin() as conn:
        if inspect(conn).get_table_names():
            return False
        metadata.create_all(conn)
        version.create(conn)
        conn.execute(version.insert().values(version_num=HEAD))
    return True


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return rev


def head_revision() -> str:
    """The newest revision shipped with this version of needleplan (read from the scripts)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_plain_config()).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """All shipped revisions, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_plain_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _plain_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config

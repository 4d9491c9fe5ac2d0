"""Run the Alembic migrations shipped inside the package, programmatically.

The schema belongs to the migrations in ``needleplan/storage/migrations``; :func:`upgrade` brings
any database (empty or at an older revision) to the head revision. The app calls it on start.
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
HEAD = "0026"


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
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


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

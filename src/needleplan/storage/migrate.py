"""Run the Alembic migrations shipped inside the package, programmatically.

The schema belongs to the migrations in ``needleplan/storage/migrations``; :func:`upgrade` brings
any database (empty or at an older revision) to the head revision. The app calls it on start.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return rev


def head_revision() -> str:
    """The newest revision shipped with this version of needleplan."""
    head = ScriptDirectory.from_config(_plain_config()).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """All shipped revisions, oldest first."""
    script = ScriptDirectory.from_config(_plain_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _plain_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config

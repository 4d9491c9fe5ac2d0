"""Alembic environment: runs online against the engine handed over by needleplan.storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from needleplan.storage.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("run migrations through needleplan.storage.migrate.upgrade(engine)")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("needleplan runs migrations online only")
run_migrations_online()

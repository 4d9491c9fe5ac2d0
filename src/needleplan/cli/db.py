"""``needleplan db``: schema migrations and housekeeping."""

from __future__ import annotations

import typer

from needleplan.cli.records import (
    DatabaseOpt,
    console,
    open_records,
)

app = typer.Typer(rich_markup_mode=None, name="db", help="Schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(database: str | None = DatabaseOpt) -> None:
    """Upgrade the schema to the newest revision."""
    from needleplan.storage import migrate

    with open_records(database, upgrade=False) as db:
        before = migrate.current_revision(db.engine)
        migrate.upgrade(db.engine)
        after = migrate.current_revision(db.engine)
    console.print(f"schema {before or 'empty'} -> {after} ({db.engine.url.render_as_string()})")


@app.command("current")
def db_current(database: str | None = DatabaseOpt) -> None:
    """Show the schema revision (without changing anything)."""
    from needleplan.storage import migrate

    with open_records(database, upgrade=False) as db:
        rev = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    state = "up to date" if rev == head else f"needs upgrade to {head}"
    console.print(f"{db.engine.url.render_as_string()}: revision {rev or 'none'} ({state})")


@app.command("purge-sessions")
def db_purge_sessions(database: str | None = DatabaseOpt) -> None:
    """Delete ended web sign-in sessions (signed out, expired or idle per NEEDLEPLAN_*)."""
    from needleplan.services.staff_sessions import SessionPolicy, purge_sessions
    from needleplan.web.settings import load_settings

    settings = load_settings()
    policy = SessionPolicy(
        max_age_s=settings.session_max_age_s, idle_timeout_s=settings.idle_timeout_s
    )
    with open_records(database) as db:
        gone = purge_sessions(db, policy)
    console.print(f"{gone} ended sign-in session(s) deleted; live sessions kept")

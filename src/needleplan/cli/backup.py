"""``needleplan backup`` and ``needleplan restore``: a consistent snapshot of every record."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from needleplan.cli.records import DatabaseOpt, console, open_records

#: Top-level commands (added to the root app without a group name).
app = typer.Typer(rich_markup_mode=None)


@app.command("backup")
def backup_cmd(
    file: Path = typer.Argument(..., help="Target file (.json or .json.gz)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Write a consistent snapshot of every record (safe while the app runs)."""
    from needleplan.storage import backup

    with open_records(database) as db:
        counts = backup.backup(db.engine, file)
    console.print(f"backup written to {escape(str(file))}: {sum(counts.values())} rows")


@app.command("restore")
def restore_cmd(
    file: Path = typer.Argument(..., help="A file written by needleplan backup."),
    database: str | None = DatabaseOpt,
) -> None:
    """Restore a backup into an empty database."""
    from needleplan.storage import backup

    with open_records(database, upgrade=False) as db:
        counts = backup.restore(db.engine, file)
    console.print(f"restored {sum(counts.values())} rows from {escape(str(file))}")

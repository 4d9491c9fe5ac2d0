"""``needleplan export`` and ``needleplan import``: clinic records as CSV."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from needleplan.cli.actor import audited, resolve_actor
from needleplan.cli.records import DatabaseOpt, console, open_records
from needleplan.exceptions import InputError
from needleplan.private_files import open_private

#: Top-level commands (added to the root app without a group name).
app = typer.Typer(rich_markup_mode=None)


@app.command("export")
def export_cmd(
    kind: str = typer.Argument(..., help="patients, appointments or measurements."),
    file: Path = typer.Argument(..., help="CSV file to write ('-' = standard output)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Export records as CSV."""
    from needleplan.interop import csv_io

    k = csv_io.parse_kind(kind)
    with open_records(database) as db, audited(db, "export") as event:
        if str(file) == "-":
            n = csv_io.export_csv(db, k, sys.stdout)
        else:
            with open_private(file, "w", encoding="utf-8", newline="") as out:
                n = csv_io.export_csv(db, k, out)
        event.detail = f"cli {k.value}"
    if str(file) != "-":
        console.print(f"exported {n} {k.value} to {escape(str(file))}")


@app.command("import")
def import_cmd(
    kind: str = typer.Argument(..., help="patients, appointments or measurements."),
    file: Path = typer.Argument(..., help="CSV file ('-' = standard input)."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Import the good rows and list the bad ones."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Import records from CSV: every row validated; nothing imported if any row is bad."""
    from needleplan.interop import csv_io

    k = csv_io.parse_kind(kind)
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError.one("file", str(file), "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one("file", str(file), f"cannot be read ({type(exc).__name__})") from None
    with open_records(database) as db:
        actor = resolve_actor(db)
        with import_progress(console, len(text) > 0) as progress:
            report = csv_io.import_csv(
                db,
                k,
                text,
                skip_bad=skip_bad,
                user=actor.user,
                username=actor.username,
                progress=progress,
            )
    console.print(f"imported {report.imported} {k.value}")
    for problem in report.skipped:
        console.print(f"skipped {escape(str(problem))}")
    if report.skipped:
        console.print(f"{len(report.skipped)} rows skipped (listed above); nothing else dropped")


@contextmanager
def import_progress(console: Console, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar over the imported rows (on a terminal; silent otherwise)."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "importing",
        BarColumn(),
        MofNCompleteColumn(),
        "rows",
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("rows", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update

"""``needleplan demo``: a made-up clinic in an empty database, to try the product."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from needleplan.cli.records import DatabaseOpt, console, open_records

#: Top-level commands (added to the root app without a group name).
app = typer.Typer(rich_markup_mode=None)


@app.command("demo")
def demo_cmd(
    patients: int = typer.Option(300, "--patients", help="How many made-up patients."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same clinic."),
    large: bool = typer.Option(
        False,
        "--large",
        help="A large clinic group written in bulk (COPY on PostgreSQL), for measuring scale "
        "(docs/scale.md): 20 practitioners, up to 2,000,000 patients.",
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Fill an empty database with a realistic made-up clinic to try the product."""
    from needleplan import services

    if large:
        from needleplan.services.large_clinic import fill_large_clinic

        started = time.perf_counter()
        with open_records(database) as db:
            big = fill_large_clinic(
                db,
                patients=patients,
                seed=seed,
                progress=lambda table, n: console.print(
                    f"{table}: {n} rows ({time.perf_counter() - started:.0f} s)"
                ),
            )
        states = ", ".join(f"{n} {s}" for s, n in big.courses.items())
        console.print(
            f"large clinic ready in {escape(db.display_url)} after "
            f"{time.perf_counter() - started:.0f} s: {big.patients} patients, "
            f"{big.practitioners} practitioners; courses: {states}; {big.appointments} "
            f"appointments, {big.sessions} sessions, {big.measurements} measurements, "
            f"{big.recalls} recall entries"
        )
        console.print(f"users {', '.join(big.users)} (password: demo-password)")
        return
    with open_records(database) as db:
        summary = services.fill_demo_clinic(db, patients=patients, seed=seed)
    courses = ", ".join(f"{n} {s}" for s, n in summary.courses.items())
    console.print(
        f"demo clinic ready in {escape(db.display_url)}: {summary.patients} patients; "
        f"courses: {courses}; {summary.appointments} appointments, {summary.sessions} "
        f"sessions, {summary.measurements} measurements, {summary.recalls} recall entries"
    )
    console.print(f"users {', '.join(summary.users)} (password: demo-password)")

"""``needleplan clinic``: the clinic calendar saved in the database (the one the web app uses).

* ``clinic show [--toml]`` — which calendar is in force and a summary (or its TOML text).
* ``clinic history`` — every saved version: number, when, who, note.
* ``clinic set FILE [--note] [--yes]`` — validate FILE and save it as the newest version. Booked
  appointments it would not allow are listed; without ``--yes`` nothing is saved (exit 5).
* ``clinic revert VERSION [--note] [--yes]`` — put an older version back in force (a copy is
  appended), with the same check.
* ``clinic conflicts`` — the future booked appointments the calendar in force does not allow
  (closure, holiday, day off, outside hours, a practitioner it no longer lists); exit 0 when
  there are none, 5 when there are (the same list as the admin page's "Appointments to move").

Like the record commands they take ``--database URL`` (default ``$NEEDLEPLAN_DATABASE_URL``).
Until a version is saved, the calendar in force is the file in ``$NEEDLEPLAN_CLINIC_FILE`` (as for
the web app), else the bundled example clinic. The record commands that book, move, rebook or
record book in that calendar too (:func:`needleplan.cli.records.clinic_in_force`); their
``--clinic FILE`` option uses that file instead, for one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan.cli.records import DatabaseOpt, clinic_file_setting, open_records
from needleplan.exceptions import ConflictError, InputError

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.scheduling import ClinicConfig
    from needleplan.services.clinic_calendar import AffectedAppointment, ClinicSummary
    from needleplan.storage import Database

console = Console(highlight=False, soft_wrap=True)


def _who(db: Database) -> User | str:
    """The acting account (``--as``, ``NEEDLEPLAN_USER`` or the OS user's account), whose role the
    service checks; a development run without an account acts by its ``cli:NAME`` label."""
    from needleplan.cli.actor import resolve_actor

    actor = resolve_actor(db)
    return actor.user if actor.user is not None else actor.username


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.one("file", str(path), "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one("file", str(path), f"cannot be read ({type(exc).__name__})") from None


def _print_summary(s: ClinicSummary) -> None:
    console.print(f"[bold]{escape(s.name)}[/bold]  time zone {s.timezone}")
    if s.location:
        console.print(escape(s.location))
    hours = Table(title="working hours (clinic, then each practitioner)", title_justify="left")
    hours.add_column("day")
    hours.add_column("clinic")
    for p in s.practitioners:
        hours.add_column(escape(p.name) + ("" if p.own_hours else " (clinic hours)"))
    for day, spans in s.opening_hours.items():
        hours.add_row(day[:3], spans or "closed", *[p.hours[day] or "-" for p in s.practitioners])
    console.print(hours)
    for p in s.practitioners:
        off = "; ".join(str(d) for d in p.days_off) or "none"
        console.print(f"days off, {escape(p.name)}: {escape(off)}")
    closures = "; ".join(str(c) for c in s.closures) or "none"
    console.print(f"closures: {escape(closures)}")
    if s.holidays:
        upcoming = ", ".join(f"{d} {name}" for d, name in s.upcoming_holidays[:4])
        console.print(f"public holidays: {s.holidays} (next: {escape(upcoming) or 'none'})")
    else:
        console.print("public holidays: none configured")
    lengths = ", ".join(f"{k} {v} min" for k, v in s.session_minutes.items())
    console.print(f"session lengths: {lengths}")
    console.print(
        f"slot grid {s.slot_minutes} min, preferred start {s.preferred_start}, search "
        f"{s.first_session_search_days} days, recall threshold {s.recall_threshold} %"
    )
    console.print(f"prices: {s.prices or 'not set'}")


def _print_conflicts(
    db: Database, items: list[AffectedAppointment], clinic: ClinicConfig, title: str, scope: str
) -> None:
    """Print a conflict list, audited as one ``clinic.conflicts.read`` listing its patients
    (the account needs the clinic configuration permission, as on the web page)."""
    from needleplan import services
    from needleplan.cli.actor import audited

    detail = services.audit_patients_detail(
        f"{scope} shown={len(items)}", (a.appointment.patient_id for a in items)
    )
    with audited(db, "clinic.conflicts.read", detail=detail):
        pass
    table = Table(title=title, title_justify="left")
    for col in ("appointment", "patient", "start", "practitioner", "why"):
        table.add_column(col)
    for a in items:
        table.add_row(
            str(a.appointment.id),
            str(a.appointment.patient_id),
            a.appointment.start.astimezone(clinic.tz).strftime("%Y-%m-%d %H:%M"),
            escape(a.practitioner),
            escape(a.reason),
        )
    console.print(table)


def _check_and_list(db: Database, new: ClinicConfig, yes: bool) -> int:
    """List the booked appointments ``new`` would not allow; refuse without ``yes``."""
    from needleplan.services import clinic_calendar

    try:
        current: ClinicConfig | None = clinic_calendar.effective_clinic(
            db, clinic_file_setting()
        ).clinic
    except InputError:
        current = None  # the version in force no longer validates: compare with nothing
    affected = clinic_calendar.affected_appointments(db, new, current=current)
    fresh = clinic_calendar.new_conflicts(affected)
    already = len(affected) - len(fresh)
    if fresh:
        _print_conflicts(
            db, fresh, new, f"{len(fresh)} booked appointment(s) conflict with it", "draft new"
        )
    if already:
        console.print(
            f"{already} more booked appointment(s) do not fit it, nor the calendar in force"
        )
    if fresh and not yes:
        raise ConflictError(
            f"{len(fresh)} booked appointment(s) would conflict with this calendar; nothing "
            "saved (rerun with --yes to save anyway: they stay booked and need moving)"
        )
    return len(fresh)


app = typer.Typer(
    rich_markup_mode=None,
    name="clinic",
    help="The clinic calendar saved in the database (used by the web app).",
    no_args_is_help=True,
)


@app.command("show")
def clinic_show(
    as_toml: bool = typer.Option(False, "--toml", help="Print the TOML text in force."),
    database: str | None = DatabaseOpt,
) -> None:
    """Which calendar is in force (saved version, file or bundled example) and a summary."""
    from datetime import datetime

    from needleplan.services import clinic_calendar

    with open_records(database) as db:
        eff = clinic_calendar.effective_clinic(db, clinic_file_setting())
    if as_toml:
        typer.echo(eff.toml, nl=not eff.toml.endswith("\n"))
        return
    console.print(f"in force: {escape(eff.describe())}")
    if eff.version is not None and eff.version.note:
        console.print(f"note: {escape(eff.version.note)}")
    today = datetime.now(eff.clinic.tz).date()
    _print_summary(clinic_calendar.clinic_summary(eff.clinic, today))


@app.command("history")
def clinic_history(
    limit: int = typer.Option(50, "--limit", help="At most this many versions."),
    database: str | None = DatabaseOpt,
) -> None:
    """Saved versions, newest (in force) first."""
    from needleplan.services import clinic_calendar

    with open_records(database) as db:
        versions = clinic_calendar.clinic_config_history(db, limit)
    if not versions:
        console.print("no version saved yet (the file or the bundled example is in force)")
        return
    table = Table(title_justify="left")
    for col in ("version", "saved (UTC)", "by", "note"):
        table.add_column(col)
    for i, v in enumerate(versions):
        table.add_row(
            f"{v.id}{' (in force)' if i == 0 else ''}",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            escape(v.username),
            escape(v.note),
        )
    console.print(table)


@app.command("set")
def clinic_set(
    file: Path = typer.Argument(..., help="Clinic calendar TOML (format: docs/scheduling.md)."),
    note: str = typer.Option("", "--note", help="Why (shown in the history)."),
    yes: bool = typer.Option(
        False, "--yes", help="Save even if booked appointments conflict (exit 5 without)."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Validate FILE and save it as the newest version (in force for the web app at once)."""
    from needleplan.services import clinic_calendar

    text = _read(file)
    new = clinic_calendar.parse_clinic_toml(text, source=str(file))
    with open_records(database) as db:
        conflicts = _check_and_list(db, new, yes)
        version = clinic_calendar.save_clinic_config(
            db, text, _who(db), note, detail=f"{conflicts} booked appointments conflict"
        )
    console.print(f"saved version {version.id}; it is in force now")


@app.command("revert")
def clinic_revert(
    version_id: int = typer.Argument(..., metavar="VERSION", help="Version to restore."),
    note: str = typer.Option("", "--note", help="Why (default: 'revert to version N')."),
    yes: bool = typer.Option(
        False, "--yes", help="Revert even if booked appointments conflict (exit 5 without)."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Put an older version back in force (a copy is appended; the history stays)."""
    from needleplan.services import clinic_calendar

    with open_records(database) as db:
        old = clinic_calendar.clinic_config_version(db, version_id)
        new = clinic_calendar.parse_clinic_toml(
            old.toml, source=f"clinic calendar version {old.id}"
        )
        conflicts = _check_and_list(db, new, yes)
        version = clinic_calendar.revert_clinic_config(
            db, old.id, _who(db), note, detail=f"{conflicts} booked appointments conflict"
        )
    console.print(f"version {old.id} is back in force (saved again as version {version.id})")


@app.command("conflicts")
def clinic_conflicts(
    database: str | None = DatabaseOpt,
) -> None:
    """List future booked appointments the calendar in force does not allow (exit 5 if any)."""
    from needleplan.cli.exit_codes import EXIT_CONFLICT
    from needleplan.services import clinic_calendar

    with open_records(database) as db:
        eff = clinic_calendar.effective_clinic(db, clinic_file_setting())
        affected = clinic_calendar.affected_appointments(db, eff.clinic)
        console.print(f"in force: {escape(eff.describe())}")
        if not affected:
            console.print("no conflicts: every future booking fits the calendar in force")
            return
        _print_conflicts(
            db,
            affected,
            eff.clinic,
            f"{len(affected)} future booking(s) the calendar does not allow",
            "in force",
        )
    raise typer.Exit(EXIT_CONFLICT)

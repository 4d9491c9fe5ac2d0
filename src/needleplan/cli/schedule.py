"""``needleplan schedule``: dated sessions in a clinic's calendar, the recall date, an .ics file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli import common as c
from needleplan.cli.records import clinic_file_setting
from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.scheduling import ClinicConfig, CourseSchedule


def parse_start(value: str) -> date:
    """``--start`` as a date (YYYY-MM-DD), raising InputError naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.one("--start", value, "must be a date like 2027-01-11") from None


def clinic_for_schedule(clinic_file: Path | None) -> ClinicConfig:
    """``--clinic FILE``, else ``$NEEDLEPLAN_CLINIC_FILE``, else the bundled example clinic.

    ``schedule`` reads no clinic records, so a version saved in the database (see
    ``needleplan clinic``) is not consulted; the record commands (``course book`` ...) use it.
    """
    if clinic_file is not None:
        from needleplan.scheduling import load_clinic

        return load_clinic(clinic_file)
    from needleplan.services.clinic_calendar import effective_clinic

    return effective_clinic(None, clinic_file_setting()).clinic


def render_schedule(course: CourseSchedule, clinic: ClinicConfig, console: Console) -> None:
    """Print the course as a Rich table, then the recall date and warnings."""
    table = Table(
        title=f"Course at {escape(clinic.name)} ({course.timezone})",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("date")
    table.add_column("day")
    table.add_column("time")
    table.add_column("practitioner")
    table.add_column("gap (days)", justify="right")
    previous: date | None = None
    for s in course.sessions:
        day = s.start.date()
        gap = "" if previous is None else str((day - previous).days)
        table.add_row(
            str(s.number),
            day.isoformat(),
            f"{s.start:%A}",
            f"{s.start:%H:%M}-{s.end:%H:%M} UTC{s.start.isoformat()[-6:]}",
            escape(s.practitioner),
            gap,
        )
        previous = day
    console.print(table)
    lo, hi = course.interval_days
    console.print(
        f"interval window: {lo}-{hi} days; each session {course.duration_minutes} minutes"
    )
    if course.maintenance is not None:
        m = course.maintenance
        console.print(f"[bold]maintenance due:[/] {m.due:%A %Y-%m-%d} [dim]({escape(m.reason)})[/]")
    for warning in course.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(f"[dim]{DISCLAIMER}[/]")


#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


@app.command("schedule")
def schedule(
    source: Path = typer.Option(
        ...,
        "--from",
        "-f",
        help="Assessment JSON file ('-' reads standard input).",
        show_default=False,
    ),
    start: str = typer.Option(
        ..., "--start", help="Requested day of session 1 (YYYY-MM-DD).", show_default=False
    ),
    clinic_file: Path | None = typer.Option(
        None,
        "--clinic",
        help=(
            "Clinic calendar TOML (default: $NEEDLEPLAN_CLINIC_FILE, else the bundled example "
            "clinic)."
        ),
        show_default=False,
    ),
    practitioner: str | None = typer.Option(
        None, "--practitioner", help="Who treats (default: any, same one preferred)."
    ),
    ics: Path | None = typer.Option(
        None, "--ics", help="Write the course as an iCalendar (.ics) file.", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the schedule as JSON."),
    course_id: str | None = typer.Option(
        None,
        "--course-id",
        help=(
            "The course's identity; iCalendar UIDs derive from it (default: derived from "
            "the clinic, start date, practitioner and file name, so re-exports match)."
        ),
        show_default=False,
    ),
    guideline: Path | None = typer.Option(
        None,
        "--guideline",
        help="A clinic's guideline TOML file (default: the shipped one).",
        show_default=False,
    ),
) -> None:
    """Date a course in the clinic's calendar, with the forecast-driven maintenance recall.

    Exit codes: 0 scheduled, 2 bad input or clinic config, 3 plan blocked by a
    contraindication, 6 no feasible slot for a session (the line names it and why).
    """
    from needleplan.guideline import load_guideline, make_protocol
    from needleplan.scheduling import course_ics, course_uuid, maintenance_due, schedule_course

    first_day = parse_start(start)
    assessment = c.build_assessment(source, c.AssessmentFlags())
    clinic = clinic_for_schedule(clinic_file)
    if practitioner is not None:
        clinic.practitioner(practitioner)
    rules = load_guideline(guideline) if guideline is not None else None
    protocol = make_protocol(assessment, rules)
    identity = course_id or course_uuid(
        f"{clinic.name}|{first_day.isoformat()}|{practitioner or ''}|{source.name}"
    )
    course = schedule_course(
        protocol, first_day, clinic, practitioner=practitioner, course_id=identity
    )
    course = course.with_maintenance(maintenance_due(assessment, course.dates, clinic, protocol))
    if ics is not None:
        try:
            ics.write_bytes(course_ics(course))
        except OSError as exc:
            raise InputError.one(
                "--ics", str(ics), f"cannot be written ({exc.strerror or exc})"
            ) from None
    if as_json:
        typer.echo(json.dumps(course.to_json(), indent=2, ensure_ascii=False))
    else:
        render_schedule(course, clinic, Console(highlight=False))
        if ics is not None:
            Console(highlight=False).print(f"wrote {escape(str(ics))}")

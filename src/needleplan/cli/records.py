"""Clinic record commands: patients, courses, sessions, measurements, recall, database, backup.

Every command takes ``--database URL`` (default ``$NEEDLEPLAN_DATABASE_URL``, else the SQLite file
in the user's data directory) and upgrades the schema on start. Bad input exits 2 with one line
naming the field, value and rule; a missing record exits 4; a double booking or an illegal status
change exits 5; a session that cannot be scheduled (``course rebook``) exits 6.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli.actor import audited
from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.domain.records import Patient
    from needleplan.storage import Database

# The storage stack (SQLAlchemy, Alembic, argon2) is imported inside each command, so that
# ``needleplan --help`` and the other commands do not pay for it.

console = Console(highlight=False, soft_wrap=True)

DATABASE_HELP = (
    "Database URL or SQLite file (default: $NEEDLEPLAN_DATABASE_URL, else the user data dir)."
)


def _db_option() -> Any:
    return typer.Option(None, "--database", "-d", help=DATABASE_HELP, show_default=False)


def open_db(url: str | None) -> Database:
    """Open (and upgrade) the database named by ``url`` or the environment."""
    from needleplan.storage import Database

    return Database.open(url)


@contextmanager
def open_records(url: str | None) -> Iterator[Database]:
    """The clinic records for one command: opened (and upgraded), always closed afterwards."""
    db = open_db(url)
    try:
        yield db
    finally:
        db.dispose()


def parse_when(value: str, field: str) -> datetime:
    """An ISO 8601 date-time with offset (``2030-01-02T10:00+01:00``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError.one(
            field, value, "must be an ISO 8601 date-time like 2030-01-02T10:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        raise InputError.one(field, value, "must include a UTC offset, e.g. +01:00 or Z")
    return parsed


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.one(field, value, "must be a date like 2030-01-31") from None


def _jsonable(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def _patient_table(rows: list[Patient]) -> Table:
    table = Table(title_justify="left")
    for col in ("id", "record", "name", "born", "email", "phone"):
        table.add_column(col)
    for p in rows:
        table.add_row(
            str(p.id),
            escape(p.mrn),
            escape(p.display_name),
            p.birth_date.isoformat(),
            escape(p.email or ""),
            escape(p.phone or ""),
        )
    return table


def _resolve_patient(db: Database, key: str) -> Patient:
    from needleplan import services

    return services.find_patient(db, key)


def _register_patient_commands(app: typer.Typer) -> None:
    patient = typer.Typer(help="Register, list and show patients.", no_args_is_help=True)
    app.add_typer(patient, name="patient")

    @patient.command("add")
    def patient_add(
        given_name: str = typer.Option(..., "--given-name", help="Given name."),
        family_name: str = typer.Option(..., "--family-name", help="Family name."),
        birth_date: str = typer.Option(..., "--birth-date", help="YYYY-MM-DD."),
        mrn: str | None = typer.Option(None, "--mrn", help="Record number (assigned if absent)."),
        sex: str | None = typer.Option(None, "--sex", help="female, male, other, undisclosed."),
        email: str | None = typer.Option(None, "--email"),
        phone: str | None = typer.Option(None, "--phone"),
        consent_treatment: bool = typer.Option(False, "--consent-treatment"),
        consent_contact: bool = typer.Option(False, "--consent-contact"),
        consent_research: bool = typer.Option(False, "--consent-research"),
        notes: str = typer.Option("", "--notes"),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
        database: str | None = _db_option(),
    ) -> None:
        """Register a patient."""
        from needleplan import services

        data: dict[str, Any] = {
            "given_name": given_name,
            "family_name": family_name,
            "birth_date": birth_date,
            "mrn": mrn,
            "email": email,
            "phone": phone,
            "consent_treatment": consent_treatment,
            "consent_contact": consent_contact,
            "consent_research": consent_research,
            "notes": notes,
        }
        if sex is not None:
            data["sex"] = sex
        with open_records(database) as db, audited(db, "patient.create") as event:
            p = services.register_patient(db, data)
            event.patient_id = p.id
        if as_json:
            _print_json(p)
        else:
            console.print(f"registered patient {p.id} (record {escape(p.mrn)})")

    @patient.command("list")
    def patient_list(
        search: str | None = typer.Option(None, "--search", "-s", help="Part of a name or record."),
        limit: int = typer.Option(50, "--limit", help="At most this many rows."),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """List patients by family name."""
        from needleplan import services

        with open_records(database) as db, audited(db, "patient.list") as event:
            rows = services.list_patients(db, search, limit=limit)
            event.detail = f"cli results={len(rows)}"
        if as_json:
            _print_json(rows)
        else:
            console.print(_patient_table(rows))

    @patient.command("show")
    def patient_show(
        key: str = typer.Argument(..., help="Record number or id."),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """Everything stored about one patient."""
        from needleplan import services

        with open_records(database) as db, audited(db, "patient.read") as event:
            found = _resolve_patient(db, key)
            file = services.patient_file(db, found.id)
            event.patient_id = found.id
        if as_json:
            _print_json(file)
            return
        p = file.patient
        console.print(f"[bold]{escape(p.display_name)}[/bold]  record {escape(p.mrn)}  id {p.id}")
        console.print(f"born {p.birth_date}  sex {p.sex.value}  email {escape(p.email or '-')}")
        console.print(
            f"consent: treatment {p.consent_treatment}, contact {p.consent_contact}, "
            f"research {p.consent_research}"
        )
        console.print(f"assessments: {len(file.assessments)}")
        for c in file.courses:
            console.print(
                f"course {c.id}: {c.status.value}, {c.remaining_sessions} of "
                f"{c.planned_sessions} sessions left (guideline {escape(c.guideline_version)})"
            )
        table = Table(title="appointments", title_justify="left")
        for col in ("id", "course", "#", "start", "end", "practitioner", "status"):
            table.add_column(col)
        for a in file.appointments:
            table.add_row(
                str(a.id),
                str(a.course_id or ""),
                str(a.session_number or ""),
                a.start.isoformat(),
                a.end.isoformat(),
                str(a.practitioner_id),
                a.status.value,
            )
        console.print(table)
        console.print(
            f"sessions performed: {len(file.sessions)}; measurements: {len(file.measurements)}"
        )
        for r in file.recalls:
            console.print(f"recall {r.id}: due {r.due_date} ({r.status.value})")

    @patient.command("assess")
    def patient_assess(
        key: str = typer.Argument(..., help="Record number or id."),
        source: Path = typer.Option(
            ..., "--from", "-f", help="Assessment JSON file ('-' = stdin)."
        ),
        practitioner_id: int | None = typer.Option(None, "--by", help="Assessing practitioner id."),
        database: str | None = _db_option(),
    ) -> None:
        """Add an assessment to the patient's history (earlier ones are kept)."""
        from needleplan import services
        from needleplan.cli.common import read_json_file

        data = read_json_file(source)
        with open_records(database) as db, audited(db, "assessment.create") as event:
            p = _resolve_patient(db, key)
            record = services.record_assessment(db, p.id, data, assessed_by=practitioner_id)
            event.patient_id = p.id
            event.detail = f"cli assessment={record.id}"
        console.print(f"assessment {record.id} recorded for patient {p.id}")


def _register_course_commands(app: typer.Typer) -> None:
    course = typer.Typer(help="Plan, book, show and move courses.", no_args_is_help=True)
    app.add_typer(course, name="course")

    @course.command("book")
    def course_book(
        key: str = typer.Argument(..., help="Patient record number or id."),
        start: str = typer.Option(..., "--start", help="Requested day of session 1 (YYYY-MM-DD)."),
        clinic_file: Path | None = typer.Option(
            None, "--clinic", help="Clinic TOML (default: the bundled example clinic)."
        ),
        practitioner: str | None = typer.Option(None, "--practitioner", help="Practitioner name."),
        assessment_id: int | None = typer.Option(None, "--assessment", help="Assessment id."),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """Plan a course from the patient's newest assessment, date it, and book every session."""
        from needleplan import services
        from needleplan.scheduling import load_clinic

        day = parse_day(start, "--start")
        clinic = load_clinic(clinic_file)
        with open_records(database) as db, audited(db, "course.book") as event:
            p = _resolve_patient(db, key)
            planned = services.plan_and_book_course(
                db, p.id, day, clinic, practitioner=practitioner, assessment_id=assessment_id
            )
            names = {v: k for k, v in services.sync_practitioners(db, clinic).items()}
            event.patient_id = p.id
        booking = planned.booking
        if as_json:
            _print_json({"course": booking.course, "appointments": booking.appointments})
            return
        c = booking.course
        console.print(
            f"course {c.id} booked for patient {p.id}: {c.planned_sessions} sessions, "
            f"guideline {escape(c.guideline_version)}"
        )
        _appointment_table(booking.appointments, names, clinic.timezone)
        for warning in planned.schedule.warnings:
            console.print(f"warning: {escape(warning)}")
        console.print(DISCLAIMER, style="dim")

    @course.command("show")
    def course_show(
        course_id: int = typer.Argument(..., help="Course id."),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """A course with its appointments, sessions and remaining-session ledger."""
        from needleplan import services

        with open_records(database) as db, audited(db, "course.read") as event:
            file = services.course_file(db, course_id)
            names = {p.id: p.name for p in services.list_practitioners(db)}
            timezone = services.ensure_clinic(db).timezone
            event.patient_id = file.course.patient_id
            event.detail = f"cli course={file.course.id}"
        if as_json:
            _print_json(file)
            return
        c = file.course
        console.print(
            f"course {c.id} (patient {c.patient_id}): {c.status.value}; "
            f"{c.remaining_sessions} of {c.planned_sessions} sessions left; "
            f"guideline {escape(c.guideline_version)}"
        )
        _appointment_table(file.appointments, names, timezone)
        ledger = Table(title="ledger", title_justify="left")
        for col in ("at", "change", "left", "reason"):
            ledger.add_column(col)
        for e in file.ledger:
            ledger.add_row(
                e.at.isoformat(), f"{e.delta:+d}", str(e.remaining_after), escape(e.reason)
            )
        console.print(ledger)

    @course.command("move")
    def course_move(
        appointment_id: int = typer.Argument(..., help="Appointment id."),
        start: str = typer.Option(..., "--start", help="New start, ISO 8601 with offset."),
        end: str | None = typer.Option(
            None, "--end", help="New end (default: same length; only with --alone)."
        ),
        practitioner_id: int | None = typer.Option(
            None, "--practitioner-id", help="Who treats (only with --alone)."
        ),
        practitioner: str | None = typer.Option(
            None, "--practitioner", help="Who treats the moved and later sessions (re-plan)."
        ),
        preview: bool = typer.Option(
            False, "--preview", help="Show the re-planned course without saving anything."
        ),
        alone: bool = typer.Option(
            False, "--alone", help="Move only this appointment; do not re-plan the course."
        ),
        clinic_file: Path | None = typer.Option(
            None, "--clinic", help="Clinic TOML (default: the bundled example clinic)."
        ),
        database: str | None = _db_option(),
    ) -> None:
        """Move a booked session and re-anchor the following ones inside their windows.

        The re-plan is conflict-checked and saved all or nothing; a gap beyond its window is
        costed with the patient's forecast and says whether an extra session is advised.
        """
        from needleplan import services
        from needleplan.scheduling import load_clinic

        new_start = parse_when(start, "--start")
        with open_records(database) as db, audited(db, "appointment.move") as event:
            current = services.get_appointment(db, appointment_id)
            event.patient_id = current.patient_id
            event.detail = f"cli appointment {appointment_id}" + (" preview" if preview else "")
            if alone:
                new_end = (
                    parse_when(end, "--end") if end else new_start + (current.end - current.start)
                )
                moved = services.move_appointment(
                    db,
                    appointment_id,
                    (new_start, new_end, practitioner_id or current.practitioner_id),
                )
                console.print(
                    f"appointment {moved.id} now {moved.start.isoformat()} to "
                    f"{moved.end.isoformat()}"
                )
                return
            if end is not None or practitioner_id is not None:
                raise InputError.one(
                    "--end/--practitioner-id", end or practitioner_id, "only apply with --alone"
                )
            clinic = load_clinic(clinic_file)
            result = services.replan_course(
                db, appointment_id, new_start, clinic, practitioner=practitioner, save=not preview
            )
        table = Table(title=f"course {result.course_id} re-planned ({clinic.timezone})")
        for col in ("#", "start", "end", "practitioner", "change"):
            table.add_column(col)
        changed = set(result.replan.changed)
        for s in result.replan.schedule.sessions:
            table.add_row(
                str(s.number),
                s.start.strftime("%a %Y-%m-%d %H:%M"),
                s.end.strftime("%H:%M"),
                s.practitioner,
                "moved" if s.number in changed else "",
            )
        console.print(table)
        for gap in result.replan.gaps:
            console.print(f"[yellow]gap:[/] {escape(gap.explanation)}")
        for warning in result.replan.schedule.warnings:
            console.print(f"[yellow]warning:[/] {escape(warning)}")
        if preview:
            console.print("preview only: nothing was saved")
        elif result.saved:
            console.print(f"saved: {len(result.moves)} appointment(s) moved")
        else:
            console.print("nothing to change")

    @course.command("missed")
    def course_missed(
        appointment_id: int = typer.Argument(..., help="Appointment id."),
        database: str | None = _db_option(),
    ) -> None:
        """Record that the patient did not come (the session stays owed; see course rebook)."""
        from needleplan import services

        with open_records(database) as db, audited(db, "appointment.missed") as event:
            a = services.mark_missed(db, appointment_id)
            event.patient_id = a.patient_id
            event.detail = f"cli appointment {a.id}"
        console.print(f"appointment {a.id} marked missed; rebook it with: course rebook {a.id}")

    @course.command("rebook")
    def course_rebook(
        appointment_id: int = typer.Argument(..., help="The missed appointment's id."),
        not_before: str | None = typer.Option(
            None,
            "--not-before",
            help="First day the new session may take (YYYY-MM-DD, clinic zone; default today).",
        ),
        practitioner: str | None = typer.Option(
            None, "--practitioner", help="Who treats the rebooked and moved sessions."
        ),
        preview: bool = typer.Option(
            False, "--preview", help="Show the proposal without saving anything."
        ),
        clinic_file: Path | None = typer.Option(
            None, "--clinic", help="Clinic TOML (default: the bundled example clinic)."
        ),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """Book a missed session again and re-anchor the course's later sessions.

        The missed appointment stays on record as missed (never counted as performed: the
        course still owes the session); a new appointment takes its session number at the first
        feasible slot from --not-before. Saved all or nothing; a session that cannot be placed
        exits 6 naming the session, why, and the nearest feasible alternative.
        """
        from needleplan import services
        from needleplan.scheduling import load_clinic

        day = parse_day(not_before, "--not-before") if not_before is not None else None
        clinic = load_clinic(clinic_file)
        with open_records(database) as db, audited(db, "appointment.rebook") as event:
            event.patient_id = services.get_appointment(db, appointment_id).patient_id
            event.detail = f"cli appointment {appointment_id}" + (" preview" if preview else "")
            plan = services.rebook_missed(
                db,
                appointment_id,
                clinic,
                not_before=day,
                practitioner=practitioner,
                preview=preview,
            )
        sessions = [s for s in plan.replan.schedule.sessions if s.number >= plan.session_number]
        moved = {aid for aid, _, _ in plan.moves}
        if as_json:
            _print_json(
                {
                    "saved": plan.saved,
                    "course_id": plan.course_id,
                    "missed_appointment_id": plan.missed.id,
                    "session_number": plan.session_number,
                    "not_before": plan.not_before,
                    "appointment": plan.appointment,
                    "moved": list(plan.moved),
                    "schedule": plan.replan.schedule.to_json(),
                    "gaps": [g.explanation for g in plan.replan.gaps],
                }
            )
            return
        table = Table(
            title=f"course {plan.course_id}: session {plan.session_number} rebooked "
            f"({clinic.timezone})"
        )
        for col in ("#", "appointment", "start", "end", "practitioner", "change"):
            table.add_column(col)
        for s in sessions:
            appt = plan.ordered[s.number - 1]
            if s.number == plan.session_number:
                change = f"new (missed {appt.start.astimezone(clinic.tz):%Y-%m-%d %H:%M})"
                shown = str(plan.appointment.id) if plan.appointment is not None else "new"
            else:
                change = "moved" if appt.id in moved else ""
                shown = str(appt.id)
            table.add_row(
                str(s.number),
                shown,
                s.start.strftime("%a %Y-%m-%d %H:%M"),
                s.end.strftime("%H:%M"),
                escape(s.practitioner),
                change,
            )
        console.print(table)
        for gap in plan.replan.gaps:
            console.print(f"[yellow]gap:[/] {escape(gap.explanation)}")
        for warning in plan.replan.schedule.warnings:
            console.print(f"[yellow]warning:[/] {escape(warning)}")
        if preview:
            console.print("preview only: nothing was saved")
        else:
            assert plan.appointment is not None
            console.print(
                f"saved: appointment {plan.appointment.id} booked for session "
                f"{plan.session_number} (appointment {plan.missed.id} stays missed); "
                f"{len(plan.moved)} later appointment(s) moved"
            )

    @course.command("cancel")
    def course_cancel(
        appointment_id: int = typer.Argument(..., help="Appointment id."),
        reason: str = typer.Option("", "--reason"),
        database: str | None = _db_option(),
    ) -> None:
        """Cancel a booked appointment and free the practitioner's time."""
        from needleplan import services

        with open_records(database) as db, audited(db, "appointment.cancel") as event:
            a = services.cancel_appointment(db, appointment_id, reason=reason)
            event.patient_id = a.patient_id
            event.detail = f"cli appointment {a.id}"
        console.print(f"appointment {a.id} cancelled")

    @course.command("status")
    def course_status(
        course_id: int = typer.Argument(..., help="Course id."),
        status: str = typer.Argument(..., help="active, completed, lapsed or cancelled."),
        note: str = typer.Option("", "--note"),
        database: str | None = _db_option(),
    ) -> None:
        """Change a course's status along a legal transition."""
        from needleplan import services

        with open_records(database) as db, audited(db, "course.status") as event:
            c = services.change_course_status(db, course_id, status, note=note)
            event.patient_id = c.patient_id
            event.detail = f"cli course {c.id}"
        console.print(f"course {c.id} is now {c.status.value}")


def _appointment_table(appointments: list[Any], names: dict[int, str], timezone: str) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    table = Table(title=f"appointments ({timezone})", title_justify="left")
    for col in ("id", "#", "start", "end", "practitioner", "status"):
        table.add_column(col)
    for a in appointments:
        table.add_row(
            str(a.id),
            str(a.session_number or ""),
            f"{a.start.astimezone(zone):%a %Y-%m-%d %H:%M}",
            f"{a.end.astimezone(zone):%H:%M}",
            escape(names.get(a.practitioner_id, str(a.practitioner_id))),
            a.status.value,
        )
    console.print(table)


def _parse_depths(values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        area, sep, depth = item.partition("=")
        if not sep:
            raise InputError.one("--depth", item, "must be AREA=MM, e.g. full_face=1.5")
        try:
            out[area.strip()] = float(depth)
        except ValueError:
            raise InputError.one("--depth", item, "depth must be a number of millimetres") from None
    return out


def _register_session_commands(app: typer.Typer) -> None:
    session = typer.Typer(help="Record performed sessions.", no_args_is_help=True)
    app.add_typer(session, name="session")

    @session.command("record")
    def session_record(
        appointment_id: int = typer.Argument(..., help="The booked appointment that took place."),
        areas: list[str] = typer.Option(..., "--area", help="Treated area (repeat)."),
        depth: list[str] = typer.Option(..., "--depth", help="AREA=MM needle depth (repeat)."),
        device: str = typer.Option(..., "--device"),
        passes: int = typer.Option(..., "--passes"),
        product: str = typer.Option("", "--product"),
        lot: str = typer.Option("", "--lot"),
        notes: str = typer.Option("", "--notes"),
        adverse: list[str] = typer.Option([], "--adverse", help="KIND[:SEVERITY] (repeat)."),
        performed_at: str | None = typer.Option(None, "--at", help="Default: appointment start."),
        practitioner_id: int | None = typer.Option(None, "--practitioner-id"),
        clinic_file: Path | None = typer.Option(
            None, "--clinic", help="Clinic TOML: recall date from the patient's forecast."
        ),
        database: str | None = _db_option(),
    ) -> None:
        """Record a performed session; the last one completes the course and opens a recall."""
        from needleplan import services

        depths = _parse_depths(depth)
        events = []
        for item in adverse:
            kind, _, severity = item.partition(":")
            events.append({"kind": kind, "severity": severity or "mild"})
        with open_records(database) as db, audited(db, "session.record") as event:
            appt = services.get_appointment(db, appointment_id)
            event.patient_id = appt.patient_id
            event.detail = f"cli appointment {appointment_id}"
            data = {
                "performed_at": parse_when(performed_at, "--at") if performed_at else appt.start,
                "areas": areas,
                "device": device,
                "needle_depth_mm": depths,
                "passes": passes,
                "product": product,
                "lot": lot,
                "notes": notes,
                "practitioner_id": practitioner_id or appt.practitioner_id,
                "adverse_events": events,
            }
            due = None
            if clinic_file is not None:
                from needleplan.scheduling import load_clinic

                due = services.forecast_maintenance_due(load_clinic(clinic_file))
            s = services.record_session(
                db, data, appointment_id=appointment_id, maintenance_due=due
            )
            course = services.course_file(db, s.course_id).course if s.course_id else None
        console.print(f"session {s.id} recorded")
        if course is not None:
            console.print(
                f"course {course.id}: {course.status.value}, {course.remaining_sessions} left"
            )


def _register_measure_commands(app: typer.Typer) -> None:
    measure = typer.Typer(help="Record outcome measurements.", no_args_is_help=True)
    app.add_typer(measure, name="measure")

    @measure.command("add")
    def measure_add(
        key: str = typer.Argument(..., help="Patient record number or id."),
        scale: str = typer.Option(
            ..., "--scale", help="gais, wrinkle_grade, laxity_grade, cutometer_r2, satisfaction."
        ),
        value: float = typer.Option(..., "--value"),
        at: str | None = typer.Option(None, "--at", help="ISO 8601 with offset (default: now)."),
        by: int | None = typer.Option(None, "--by", help="Practitioner id."),
        course_id: int | None = typer.Option(None, "--course"),
        area: str | None = typer.Option(None, "--area"),
        note: str = typer.Option("", "--note"),
        database: str | None = _db_option(),
    ) -> None:
        """Record one measurement on a defined scale."""
        from needleplan import services

        data: dict[str, Any] = {
            "scale": scale,
            "value": value,
            "measured_at": parse_when(at, "--at") if at else services.utc_now(),
            "measured_by": by,
            "course_id": course_id,
            "note": note,
        }
        if area:
            data["area"] = area
        with open_records(database) as db, audited(db, "measurement.create") as event:
            p = _resolve_patient(db, key)
            m = services.record_measurement(db, p.id, data)
            event.patient_id = p.id
            event.detail = f"cli measurement={m.id}"
        console.print(f"measurement {m.id} recorded ({m.scale.value} {m.value:g})")


def _register_recall_commands(app: typer.Typer) -> None:
    recall = typer.Typer(help="The recall worklist.", no_args_is_help=True)
    app.add_typer(recall, name="recall")

    @recall.command("list")
    def recall_list(
        due_by: str | None = typer.Option(None, "--due-by", help="Only entries due by this day."),
        include_closed: bool = typer.Option(False, "--all", help="Include closed entries."),
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = _db_option(),
    ) -> None:
        """Patients due for maintenance, earliest first, with contact attempts."""
        from needleplan import services
        from needleplan.domain.records import RecallStatus

        day = parse_day(due_by, "--due-by") if due_by else None
        statuses = tuple(RecallStatus) if include_closed else (RecallStatus.OPEN,)
        with open_records(database) as db, audited(db, "recall.read") as event:
            rows = services.recall_list(db, due_by=day, statuses=statuses)
            patients = {r.patient_id: services.get_patient(db, r.patient_id) for r in rows}
            event.detail = services.audit_patients_detail("cli", (r.patient_id for r in rows))
        if as_json:
            _print_json(rows)
            return
        table = Table(title_justify="left")
        for col in ("id", "due", "patient", "phone", "status", "attempts", "last outcome"):
            table.add_column(col)
        for r in rows:
            p = patients[r.patient_id]
            table.add_row(
                str(r.id),
                r.due_date.isoformat(),
                escape(f"{p.display_name} ({p.mrn})"),
                escape(p.phone or ""),
                r.status.value,
                str(len(r.attempts)),
                r.attempts[-1].outcome.value if r.attempts else "",
            )
        console.print(table)

    @recall.command("contact")
    def recall_contact(
        recall_id: int = typer.Argument(...),
        channel: str = typer.Option(..., "--channel", help="phone, email, sms, letter."),
        outcome: str = typer.Option(
            ...,
            "--outcome",
            help="no_answer, left_message, call_back, declined, booked, wrong_number.",
        ),
        note: str = typer.Option("", "--note"),
        database: str | None = _db_option(),
    ) -> None:
        """Log an attempt to reach the patient."""
        from needleplan import services

        with open_records(database) as db, audited(db, "recall.contact") as event:
            a = services.record_contact(db, recall_id, channel=channel, outcome=outcome, note=note)
            event.detail = f"cli recall {recall_id} attempt {a.id}"
        console.print(f"contact attempt {a.id} logged")

    @recall.command("opt-out")
    def recall_opt_out(
        recall_id: int = typer.Argument(...), database: str | None = _db_option()
    ) -> None:
        """The patient does not want maintenance reminders."""
        from needleplan import services

        with open_records(database) as db, audited(db, "recall.opt-out") as event:
            services.opt_out_recall(db, recall_id)
            event.detail = f"cli recall {recall_id}"
        console.print(f"recall entry {recall_id} closed: opted out")


def _register_db_commands(app: typer.Typer) -> None:
    dbapp = typer.Typer(help="Schema migrations.", no_args_is_help=True)
    app.add_typer(dbapp, name="db")

    @dbapp.command("upgrade")
    def db_upgrade(database: str | None = _db_option()) -> None:
        """Upgrade the schema to the newest revision."""
        from needleplan.storage import migrate
        from needleplan.storage.engine import make_engine

        engine = make_engine(database)
        try:
            before = migrate.current_revision(engine)
            migrate.upgrade(engine)
            after = migrate.current_revision(engine)
        finally:
            engine.dispose()
        console.print(f"schema {before or 'empty'} -> {after} ({engine.url.render_as_string()})")

    @dbapp.command("current")
    def db_current(database: str | None = _db_option()) -> None:
        """Show the schema revision (without changing anything)."""
        from needleplan.storage import migrate
        from needleplan.storage.engine import make_engine

        engine = make_engine(database)
        try:
            rev = migrate.current_revision(engine)
        finally:
            engine.dispose()
        head = migrate.head_revision()
        state = "up to date" if rev == head else f"needs upgrade to {head}"
        console.print(f"{engine.url.render_as_string()}: revision {rev or 'none'} ({state})")

    @dbapp.command("purge-sessions")
    def db_purge_sessions(database: str | None = _db_option()) -> None:
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


def _register_file_commands(app: typer.Typer) -> None:
    @app.command("backup")
    def backup_cmd(
        file: Path = typer.Argument(..., help="Target file (.json or .json.gz)."),
        database: str | None = _db_option(),
    ) -> None:
        """Write a consistent snapshot of every record (safe while the app runs)."""
        from needleplan.storage import backup

        with open_records(database) as db:
            counts = backup.backup(db.engine, file)
        console.print(f"backup written to {escape(str(file))}: {sum(counts.values())} rows")

    @app.command("restore")
    def restore_cmd(
        file: Path = typer.Argument(..., help="A file written by needleplan backup."),
        database: str | None = _db_option(),
    ) -> None:
        """Restore a backup into an empty database."""
        from needleplan.storage import backup
        from needleplan.storage.engine import make_engine

        engine = make_engine(database)
        try:
            counts = backup.restore(engine, file)
        finally:
            engine.dispose()
        console.print(f"restored {sum(counts.values())} rows from {escape(str(file))}")

    @app.command("export")
    def export_cmd(
        kind: str = typer.Argument(..., help="patients, appointments or measurements."),
        file: Path = typer.Argument(..., help="CSV file to write ('-' = standard output)."),
        database: str | None = _db_option(),
    ) -> None:
        """Export records as CSV."""
        from needleplan.interop import csv_io

        k = csv_io.parse_kind(kind)
        with open_records(database) as db, audited(db, "export") as event:
            if str(file) == "-":
                n = csv_io.export_csv(db, k, sys.stdout)
            else:
                with file.open("w", encoding="utf-8", newline="") as out:
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
        database: str | None = _db_option(),
    ) -> None:
        """Import records from CSV: every row validated; nothing imported if any row is bad."""
        from needleplan.interop import csv_io

        k = csv_io.parse_kind(kind)
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError.one("file", str(file), "file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.one(
                "file", str(file), f"cannot be read ({type(exc).__name__})"
            ) from None
        with open_records(database) as db, audited(db, "import") as event:
            report = csv_io.import_csv(db, k, text, skip_bad=skip_bad)
            event.detail = f"cli {k.value}"
        console.print(f"imported {report.imported} {k.value}")
        for problem in report.skipped:
            console.print(f"skipped {escape(str(problem))}")

    @app.command("demo")
    def demo_cmd(
        patients: int = typer.Option(300, "--patients", help="How many made-up patients."),
        seed: int = typer.Option(7, "--seed", help="Same seed, same clinic."),
        database: str | None = _db_option(),
    ) -> None:
        """Fill an empty database with a realistic made-up clinic to try the product."""
        from needleplan import services

        with open_records(database) as db:
            summary = services.fill_demo_clinic(db, patients=patients, seed=seed)
        courses = ", ".join(f"{n} {s}" for s, n in summary.courses.items())
        console.print(
            f"demo clinic ready in {escape(db.display_url)}: {summary.patients} patients; "
            f"courses: {courses}; {summary.appointments} appointments, {summary.sessions} "
            f"sessions, {summary.measurements} measurements, {summary.recalls} recall entries"
        )
        console.print(f"users {', '.join(summary.users)} (password: demo-password)")


def _register_user_commands(app: typer.Typer) -> None:
    user = typer.Typer(help="Web-app accounts.", no_args_is_help=True)
    app.add_typer(user, name="user")

    @user.command("add")
    def user_add(
        username: str = typer.Argument(...),
        role: str = typer.Option(..., "--role", help="admin, practitioner or front_desk."),
        practitioner_id: int | None = typer.Option(None, "--practitioner-id"),
        database: str | None = _db_option(),
    ) -> None:
        """Create an account; the password comes from $NEEDLEPLAN_PASSWORD or a hidden prompt."""
        from needleplan import services

        password = os.environ.get("NEEDLEPLAN_PASSWORD") or typer.prompt(
            "password", hide_input=True, confirmation_prompt=True
        )
        with open_records(database) as db:
            u = services.create_user(db, username, password, role, practitioner_id=practitioner_id)
        console.print(f"user {escape(u.username)} ({u.role.value}) created")


def register(app: typer.Typer) -> None:
    """Add the clinic-record commands to the ``needleplan`` app."""
    _register_patient_commands(app)
    _register_course_commands(app)
    _register_session_commands(app)
    _register_measure_commands(app)
    _register_recall_commands(app)
    _register_db_commands(app)
    _register_file_commands(app)
    _register_user_commands(app)

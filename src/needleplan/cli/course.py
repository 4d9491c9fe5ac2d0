"""``needleplan course``: book a course in the clinic calendar in force, show it, move, rebook
and cancel its sessions, change its status."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from needleplan.cli.actor import audited
from needleplan.cli.records import (
    ClinicOpt,
    DatabaseOpt,
    appointment_ref,
    appointment_table,
    clinic_in_force,
    console,
    open_records,
    parse_day,
    parse_when,
    print_json,
    resolve_patient,
)
from needleplan.exceptions import InputError

app = typer.Typer(
    rich_markup_mode=None,
    name="course",
    help="Plan, book, show and move courses.",
    no_args_is_help=True,
)


@app.command("book")
def course_book(
    key: str = typer.Argument(..., help="Patient record number or id."),
    start: str = typer.Option(..., "--start", help="Requested day of session 1 (YYYY-MM-DD)."),
    clinic_file: Path | None = ClinicOpt,
    practitioner: str | None = typer.Option(None, "--practitioner", help="Practitioner name."),
    assessment_id: int | None = typer.Option(None, "--assessment", help="Assessment id."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Plan a course from the patient's newest assessment, date it, and book every session."""
    from needleplan import DISCLAIMER, services

    day = parse_day(start, "--start")
    with open_records(database) as db:
        clinic = clinic_in_force(db, clinic_file)
        with audited(db, "course.book") as event:
            p = resolve_patient(db, key)
            planned = services.plan_and_book_course(
                db, p.id, day, clinic, practitioner=practitioner, assessment_id=assessment_id
            )
            names = {v: k for k, v in services.sync_practitioners(db, clinic).items()}
            event.patient_id = p.id
    booking = planned.booking
    if as_json:
        print_json({"course": booking.course, "appointments": booking.appointments})
        return
    c = booking.course
    console.print(
        f"course {c.id} booked for patient {p.id}: {c.planned_sessions} sessions, "
        f"guideline {escape(c.guideline_version)}"
    )
    appointment_table(booking.appointments, names, clinic.timezone)
    for warning in planned.schedule.warnings:
        console.print(f"warning: {escape(warning)}")
    console.print(DISCLAIMER, style="dim")


@app.command("show")
def course_show(
    course_id: int = typer.Argument(..., help="Course id."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
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
        print_json(file)
        return
    c = file.course
    console.print(
        f"course {c.id} (patient {c.patient_id}): {c.status.value}; "
        f"{c.remaining_sessions} of {c.planned_sessions} sessions left; "
        f"guideline {escape(c.guideline_version)}"
    )
    appointment_table(file.appointments, names, timezone)
    ledger = Table(title="ledger", title_justify="left")
    for col in ("at", "change", "left", "reason"):
        ledger.add_column(col)
    for e in file.ledger:
        ledger.add_row(e.at.isoformat(), f"{e.delta:+d}", str(e.remaining_after), escape(e.reason))
    console.print(ledger)


@app.command("move")
def course_move(
    appointment: str = typer.Argument(
        ..., metavar="APPT", help="Appointment id, or COURSE/SESSION (e.g. 301/3)."
    ),
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
    clinic_file: Path | None = ClinicOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Move a booked session and re-anchor the following ones inside their windows.

    The re-plan is conflict-checked and saved all or nothing; a gap beyond its window is
    costed with the patient's forecast and says whether an extra session is advised.
    """
    from needleplan import services

    new_start = parse_when(start, "--start")
    with open_records(database) as db, audited(db, "appointment.move") as event:
        appointment_id = appointment_ref(db, appointment)
        current = services.get_appointment(db, appointment_id)
        event.patient_id = current.patient_id
        event.detail = f"cli appointment {appointment_id}" + (" preview" if preview else "")
        if alone:
            new_end = parse_when(end, "--end") if end else new_start + (current.end - current.start)
            moved = services.move_appointment(
                db,
                appointment_id,
                (new_start, new_end, practitioner_id or current.practitioner_id),
            )
            console.print(
                f"appointment {moved.id} now {moved.start.isoformat()} to {moved.end.isoformat()}"
            )
            return
        if end is not None or practitioner_id is not None:
            raise InputError.one(
                "--end/--practitioner-id", end or practitioner_id, "only apply with --alone"
            )
        clinic = clinic_in_force(db, clinic_file)
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


@app.command("missed")
def course_missed(
    appointment_id: int = typer.Argument(..., help="Appointment id."),
    database: str | None = DatabaseOpt,
) -> None:
    """Record that the patient did not come (the session stays owed; see course rebook).

    Refused before the appointment's start (the clock: ``NEEDLEPLAN_NOW`` outside production).
    """
    from needleplan import services
    from needleplan.domain.visits import VisitRules

    with open_records(database) as db, audited(db, "appointment.missed") as event:
        VisitRules().require_started(
            services.get_appointment(db, appointment_id), services.utc_now()
        )
        a = services.mark_missed(db, appointment_id)
        event.patient_id = a.patient_id
        event.detail = f"cli appointment {a.id}"
    console.print(f"appointment {a.id} marked missed; rebook it with: course rebook {a.id}")


@app.command("rebook")
def course_rebook(
    appointment_id: int = typer.Argument(..., help="The missed or cancelled appointment's id."),
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
    clinic_file: Path | None = ClinicOpt,
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Book a missed session again and re-anchor the course's later sessions.

    The missed appointment stays on record as missed (never counted as performed: the
    course still owes the session); a new appointment takes its session number at the first
    feasible slot from --not-before. Saved all or nothing; a session that cannot be placed
    exits 6 naming the session, why, and the nearest feasible alternative.
    """
    from needleplan import services

    day = parse_day(not_before, "--not-before") if not_before is not None else None
    with open_records(database) as db, audited(db, "appointment.rebook") as event:
        clinic = clinic_in_force(db, clinic_file)
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
        print_json(
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
        title=f"course {plan.course_id}: session {plan.session_number} rebooked ({clinic.timezone})"
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


@app.command("cancel")
def course_cancel(
    appointment_id: int = typer.Argument(..., help="Appointment id."),
    reason: str = typer.Option("no reason given", "--reason", help="Why the visit is cancelled."),
    clinic_file: Path | None = ClinicOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Cancel a booked appointment and free the practitioner's time (the same rules as
    ``appointment cancel``: a named account, the clinic's notice period)."""
    from needleplan import services
    from needleplan.cli.appointment import _account
    from needleplan.services import visits

    with open_records(database) as db:
        services.get_appointment(db, appointment_id)  # a missing one exits 4 before the account
        a = visits.cancel(
            db, _account(db), appointment_id, reason, clinic_in_force(db, clinic_file)
        )
    late = " (late: inside the clinic's notice period)" if a.cancelled_late else ""
    console.print(f"appointment {a.id} cancelled{late}")


@app.command("status")
def course_status(
    course_id: int = typer.Argument(..., help="Course id."),
    status: str = typer.Argument(..., help="active, completed, lapsed or cancelled."),
    note: str = typer.Option("", "--note"),
    database: str | None = DatabaseOpt,
) -> None:
    """Change a course's status along a legal transition."""
    from needleplan import services

    with open_records(database) as db, audited(db, "course.status") as event:
        c = services.change_course_status(db, course_id, status, note=note)
        event.patient_id = c.patient_id
        event.detail = f"cli course {c.id}"
    console.print(f"course {c.id} is now {c.status.value}")

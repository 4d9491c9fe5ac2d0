"""``needleplan session record``: a performed session; the last one completes the course and
opens its recall (due from her forecast and the recall threshold of the calendar in force)."""

from __future__ import annotations

from pathlib import Path

import typer

from needleplan.cli.actor import audited
from needleplan.cli.records import (
    ClinicOpt,
    DatabaseOpt,
    clinic_in_force,
    console,
    open_records,
    parse_when,
)
from needleplan.exceptions import InputError

app = typer.Typer(
    rich_markup_mode=None, name="session", help="Record performed sessions.", no_args_is_help=True
)


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


@app.command("record")
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
    clinic_file: Path | None = ClinicOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Record a performed session; the last one completes the course and opens a recall.

    Refused before the visit opens (the clinic's check-in window before its start) and for a
    time (``--at``) in the future or before that; the clock is ``NEEDLEPLAN_NOW`` outside
    production. Refused too while she has no current signed treatment consent (sign one
    with ``needleplan consent sign``).
    """
    from needleplan import services
    from needleplan.services.visits import refuse_chart_timing

    depths = _parse_depths(depth)
    events = []
    for item in adverse:
        kind, _, severity = item.partition(":")
        events.append({"kind": kind, "severity": severity or "mild"})
    with open_records(database) as db, audited(db, "session.record") as event:
        appt = services.get_appointment(db, appointment_id)
        event.patient_id = appt.patient_id
        event.detail = f"cli appointment {appointment_id}"
        when = parse_when(performed_at, "--at") if performed_at else appt.start
        clinic = clinic_in_force(db, clinic_file)
        refuse_chart_timing(appt, when, clinic, services.utc_now())
        data = {
            "performed_at": when,
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
        due = services.forecast_maintenance_due(clinic)
        s = services.record_session(db, data, appointment_id=appointment_id, maintenance_due=due)
        course = services.course_file(db, s.course_id).course if s.course_id else None
    console.print(f"session {s.id} recorded")
    if course is not None:
        console.print(
            f"course {course.id}: {course.status.value}, {course.remaining_sessions} left"
        )

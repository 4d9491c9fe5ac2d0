"""``needleplan measure add``: an outcome measurement on a defined scale."""

from __future__ import annotations

from typing import Any

import typer

from needleplan.cli.actor import audited
from needleplan.cli.records import (
    DatabaseOpt,
    console,
    open_records,
    parse_when,
    resolve_patient,
)

app = typer.Typer(
    rich_markup_mode=None, name="measure", help="Record outcome measurements.", no_args_is_help=True
)


@app.command("add")
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
    database: str | None = DatabaseOpt,
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
        p = resolve_patient(db, key)
        m = services.record_measurement(db, p.id, data)
        event.patient_id = p.id
        event.detail = f"cli measurement={m.id}"
    console.print(f"measurement {m.id} recorded ({m.scale.value} {m.value:g})")

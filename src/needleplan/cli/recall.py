"""``needleplan recall``: the maintenance recall worklist."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from needleplan.cli.actor import audited
from needleplan.cli.records import (
    DatabaseOpt,
    console,
    open_records,
    parse_day,
    print_json,
)

app = typer.Typer(
    rich_markup_mode=None, name="recall", help="The recall worklist.", no_args_is_help=True
)


@app.command("list")
def recall_list(
    due_by: str | None = typer.Option(None, "--due-by", help="Only entries due by this day."),
    include_closed: bool = typer.Option(False, "--all", help="Include closed entries."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
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
        print_json(rows)
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


@app.command("contact")
def recall_contact(
    recall_id: int = typer.Argument(...),
    channel: str = typer.Option(..., "--channel", help="phone, email, sms, letter."),
    outcome: str = typer.Option(
        ...,
        "--outcome",
        help="no_answer, left_message, call_back, declined, booked, wrong_number.",
    ),
    note: str = typer.Option("", "--note"),
    database: str | None = DatabaseOpt,
) -> None:
    """Log an attempt to reach the patient."""
    from needleplan import services

    with open_records(database) as db, audited(db, "recall.contact") as event:
        a = services.record_contact(db, recall_id, channel=channel, outcome=outcome, note=note)
        event.detail = f"cli recall {recall_id} attempt {a.id}"
    console.print(f"contact attempt {a.id} logged")


@app.command("opt-out")
def recall_opt_out(
    recall_id: int = typer.Argument(...), database: str | None = DatabaseOpt
) -> None:
    """The patient does not want maintenance reminders."""
    from needleplan import services

    with open_records(database) as db, audited(db, "recall.opt-out") as event:
        services.opt_out_recall(db, recall_id)
        event.detail = f"cli recall {recall_id}"
    console.print(f"recall entry {recall_id} closed: opted out")

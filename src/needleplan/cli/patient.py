"""``needleplan patient``: register, list, show and assess patients."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from needleplan.cli.actor import audited
from needleplan.cli.records import (
    DatabaseOpt,
    console,
    open_records,
    print_json,
    resolve_patient,
)

if TYPE_CHECKING:
    from needleplan.domain.records import Patient

app = typer.Typer(
    rich_markup_mode=None,
    name="patient",
    help="Register, list and show patients.",
    no_args_is_help=True,
)


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


@app.command("add")
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
    database: str | None = DatabaseOpt,
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
        print_json(p)
    else:
        console.print(f"registered patient {p.id} (record {escape(p.mrn)})")


@app.command("list")
def patient_list(
    search: str | None = typer.Option(None, "--search", "-s", help="Part of a name or record."),
    limit: int = typer.Option(50, "--limit", help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """List patients by family name."""
    from needleplan import services

    with open_records(database) as db, audited(db, "patient.list") as event:
        rows = services.list_patients(db, search, limit=limit)
        event.detail = f"cli results={len(rows)}"
    if as_json:
        print_json(rows)
    else:
        console.print(_patient_table(rows))


@app.command("show")
def patient_show(
    key: str = typer.Argument(..., help="Record number or id."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Everything stored about one patient."""
    from needleplan import services

    with open_records(database) as db, audited(db, "patient.read") as event:
        found = resolve_patient(db, key)
        file = services.patient_file(db, found.id)
        event.patient_id = found.id
    if as_json:
        print_json(file)
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


@app.command("assess")
def patient_assess(
    key: str = typer.Argument(..., help="Record number or id."),
    source: Path = typer.Option(..., "--from", "-f", help="Assessment JSON file ('-' = stdin)."),
    practitioner_id: int | None = typer.Option(None, "--by", help="Assessing practitioner id."),
    database: str | None = DatabaseOpt,
) -> None:
    """Add an assessment to the patient's history (earlier ones are kept)."""
    from needleplan import services
    from needleplan.cli.common import read_json_file

    data = read_json_file(source)
    with open_records(database) as db, audited(db, "assessment.create") as event:
        p = resolve_patient(db, key)
        record = services.record_assessment(db, p.id, data, assessed_by=practitioner_id)
        event.patient_id = p.id
        event.detail = f"cli assessment={record.id}"
    console.print(f"assessment {record.id} recorded for patient {p.id}")

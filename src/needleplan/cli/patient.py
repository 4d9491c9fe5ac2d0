"""``needleplan patient``: register, edit, merge, list, show and assess patients."""

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
    help="Register, edit, merge, list and show patients.",
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
    confirm_duplicate: bool = typer.Option(
        False,
        "--confirm-duplicate",
        help="Register even when name and birth date, phone or e-mail match a record.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """Register a patient (exit 5 naming the record when she likely has one already)."""
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
        p = services.register_patient(db, data, confirm_duplicate=confirm_duplicate, note=event)
        event.patient_id = p.id
    if as_json:
        print_json(p)
    else:
        console.print(f"registered patient {p.id} (record {escape(p.mrn)})")


_CONSENT_HELP = "Given (--consent-X) or withdrawn (--no-consent-X); kept in her consent history."


@app.command("edit")
def patient_edit(
    key: str = typer.Argument(..., help="Record number or id."),
    given_name: str | None = typer.Option(None, "--given-name"),
    family_name: str | None = typer.Option(None, "--family-name"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD."),
    sex: str | None = typer.Option(None, "--sex", help="female, male, other, undisclosed."),
    email: str | None = typer.Option(None, "--email", help="'' clears it."),
    phone: str | None = typer.Option(None, "--phone", help="'' clears it."),
    mrn: str | None = typer.Option(None, "--mrn", help="A new record number."),
    consent_treatment: bool | None = typer.Option(
        None, "--consent-treatment/--no-consent-treatment", help=_CONSENT_HELP
    ),
    consent_contact: bool | None = typer.Option(
        None, "--consent-contact/--no-consent-contact", help=_CONSENT_HELP
    ),
    consent_research: bool | None = typer.Option(
        None, "--consent-research/--no-consent-research", help=_CONSENT_HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """Change a patient's demographics, contact details or consents (only the options given)."""
    from needleplan import services
    from needleplan.exceptions import InputError

    given: dict[str, Any] = {
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "sex": sex,
        "email": email,
        "phone": phone,
        "mrn": mrn,
        "consent_treatment": consent_treatment,
        "consent_contact": consent_contact,
        "consent_research": consent_research,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    for cleared in ("email", "phone"):
        if changes.get(cleared) == "":
            changes[cleared] = None
    if not changes:
        raise InputError.one("options", "", "give at least one field to change")
    with open_records(database) as db, audited(db, "patient.update") as event:
        found = resolve_patient(db, key)
        event.patient_id = found.id
        p = services.update_patient(db, found.id, changes, note=event)
    if as_json:
        print_json(p)
    else:
        console.print(f"patient {p.id} (record {escape(p.mrn)}) changed: {', '.join(changes)}")


@app.command("merge")
def patient_merge(
    keep: str = typer.Argument(..., help="Record number or id of the record to keep."),
    remove: str = typer.Argument(..., help="Record number or id of the duplicate to merge in."),
    yes: bool = typer.Option(False, "--yes", help="Merge without asking."),
    database: str | None = DatabaseOpt,
) -> None:
    """Merge a duplicate record into another: every record of it moves, then it is deleted.

    Refused (exit 5) when both records have an open course.
    """
    from needleplan import services

    with open_records(database) as db:
        kept, gone = resolve_patient(db, keep), resolve_patient(db, remove)
        if not yes:
            typer.confirm(
                f"Merge patient {gone.id} (record {gone.mrn}) into {kept.id} "
                f"(record {kept.mrn}) and delete record {gone.mrn}?",
                abort=True,
            )
        with audited(db, "patient.merge", kept.id) as event:
            result = services.merge_patients(db, kept.id, gone.id, note=event)
    moved = ", ".join(f"{v} {k}" for k, v in result.moved.items() if v) or "no records"
    console.print(
        f"merged patient {result.removed_id} into {result.kept.id} "
        f"(record {escape(result.kept.mrn)}): moved {moved}"
    )


@app.command("list")
def patient_list(
    search: str | None = typer.Option(
        None,
        "--search",
        "-s",
        help="The start of any word of a name (case and accents aside), a record number, "
        "phone number, e-mail address or date of birth.",
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """List patients by family name."""
    from needleplan import services

    with open_records(database) as db, audited(db, "patient.list") as event:
        rows = services.list_patients(db, search, limit=limit)
        event.detail = services.audit_patients_detail(
            f"cli results={len(rows)}", (r.id for r in rows)
        )
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
    for change in file.consents:
        console.print(
            f"  {change.changed_at:%Y-%m-%d %H:%M} {change.consent} consent "
            f"{'given' if change.granted else 'withdrawn'} by {escape(change.changed_by)}"
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


@app.command("export-all")
def patient_export_all(
    key: str = typer.Argument(..., help="Record number or id."),
    out: Path = typer.Option(..., "--out", help="The ZIP file to write (created 0600)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Subject access: everything stored about one patient in one ZIP (FHIR record, handout,
    messages, audit trail, README). Practitioners and admins; audited."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.private_files import write_private_bytes
    from needleplan.reports.subject_access import subject_access_archive

    with open_records(database) as db:
        found = resolve_patient(db, key)
        data = subject_access_archive(db, found.id, actor=resolve_actor(db).user)
    write_private_bytes(out, data)
    console.print(f"wrote {escape(str(out))} ({len(data)} bytes) for patient {found.id}")


@app.command("erase")
def patient_erase(
    key: str = typer.Argument(..., help="Record number or id."),
    yes: bool = typer.Option(False, "--yes", help="Erase without asking."),
    database: str | None = DatabaseOpt,
) -> None:
    """Erasure on request: her contact requests, her consent to be contacted and her messages'
    texts. Clinical records stay for the retention period. Admins; audited (counts only)."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.data_rights import erase_on_request

    with open_records(database) as db:
        found = resolve_patient(db, key)
        if not yes:
            typer.confirm(
                f"Erase the contact requests, contact consent and message texts of patient "
                f"{found.id} (record {found.mrn})? This cannot be undone.",
                abort=True,
            )
        report = erase_on_request(db, found.id, actor=resolve_actor(db).user)
    consent = "withdrawn" if report.contact_consent_withdrawn else "was not given"
    console.print(
        f"patient {found.id}: {report.contact_requests} contact request(s) deleted, "
        f"{report.messages} message text(s) erased, contact consent {consent}"
    )

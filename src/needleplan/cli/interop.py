"""``needleplan fhir patient`` (FHIR R4 Bundle) and ``needleplan handout`` (patient PDF).

Exit codes: 0 written, 2 bad input, 3 plan blocked by a contraindication, 4 no such patient,
5 the patient has no assessment yet.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from needleplan.cli import common as c
from needleplan.cli.actor import audited
from needleplan.cli.records import DatabaseOpt, clinic_in_force, open_records
from needleplan.exceptions import InputError
from needleplan.private_files import write_private_text

console = Console(highlight=False, soft_wrap=True)


def _summary(bundle: dict[str, Any]) -> str:
    counts = Counter(e["resource"]["resourceType"] for e in bundle.get("entry", []))
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))


#: ``handout`` and the ``fhir`` group (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)

fhir = typer.Typer(
    rich_markup_mode=None, help="FHIR R4 export of clinic records.", no_args_is_help=True
)
app.add_typer(fhir, name="fhir")


@fhir.command("patient")
def fhir_patient(
    key: str = typer.Argument(..., help="Patient record number or id."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the Bundle JSON here (default: standard output)."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Export one patient's record as a FHIR R4 collection Bundle (JSON).

    Patient, Practitioner, CarePlan (courses), Appointment, Procedure (performed sessions) and
    Observation (measurements); stable urn:uuid fullUrls. Exit codes: 0 ok, 4 no such patient.
    """
    from needleplan import services
    from needleplan.interop.fhir import patient_bundle

    with open_records(database) as db, audited(db, "patient.export", None, "fhir") as event:
        patient = services.find_patient(db, key)
        event.patient_id = patient.id
        bundle = patient_bundle(db, patient.id)
    text = json.dumps(bundle, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    write_private_text(out, text + "\n")
    console.print(f"FHIR Bundle written to {escape(str(out))}: {_summary(bundle)}")


@fhir.command("questionnaire")
def fhir_questionnaire(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the Questionnaire JSON here (default: standard output)."
    ),
    definition: Path | None = typer.Option(
        None, "--definition", help="An intake questionnaire TOML (default: the shipped one)."
    ),
) -> None:
    """Export the intake questionnaire definition as a FHIR R4 Questionnaire (JSON).

    Exit codes: 0 ok, 2 a definition file that fails its schema (the key and the rule named).
    """
    from needleplan.guideline.intake import load_questionnaire
    from needleplan.interop.fhir_intake import questionnaire_json

    document = questionnaire_json(load_questionnaire(definition))  # InputError: exit 2
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    write_private_text(out, text + "\n")
    console.print(f"FHIR Questionnaire {document['version']} written to {escape(str(out))}")


@app.command("handout")
def handout_cmd(
    key: str | None = typer.Argument(
        None, help="Patient record number or id (or use --from for a consultation)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The PDF file to write."),
    source: Path | None = typer.Option(
        None,
        "--from",
        "-f",
        help="Assessment JSON file for a consultation without a stored patient.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Patient name printed with --from (optional)."
    ),
    clinic_file: Path | None = typer.Option(
        None,
        "--clinic",
        help=(
            "Clinic calendar TOML for the clinic name and time zone (default: with KEY the "
            "calendar in force, as for the record commands; with --from a neutral 'Your clinic', "
            "UTC)."
        ),
    ),
    guideline: Path | None = typer.Option(
        None, "--guideline", help="A clinic's guideline TOML (default: the shipped one)."
    ),
    language: str | None = typer.Option(
        None,
        "--language",
        help="Language of the handout: en or de (default: the clinic's default_language).",
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Write a patient handout PDF: the plan and its reasons, dates, forecast chart, aftercare.

    Give a patient KEY (her latest assessment, open course and booked dates) or --from an
    assessment JSON. Exit codes: 0 written, 2 bad input, 3 blocked by a contraindication,
    4 no such patient, 5 she has no assessment yet.
    """
    from needleplan.guideline import load_guideline
    from needleplan.reports.handout import (
        handout_for_assessment,
        handout_for_patient,
        page_count,
        render_handout,
    )
    from needleplan.scheduling import load_clinic

    if (key is None) == (source is None):
        raise InputError.one(
            "KEY", key or "", "give exactly one of a patient KEY or --from ASSESSMENT.json"
        )
    if name is not None and source is None:
        raise InputError.one("--name", name, "only goes with --from (a stored patient's name)")
    if out.suffix.lower() != ".pdf":
        raise InputError.one("--out", str(out), "must be a .pdf file")
    rules = load_guideline(guideline) if guideline is not None else None
    if language is not None:
        from needleplan.domain.language import check_language

        try:
            language = check_language(language)
        except ValueError as exc:
            raise InputError.one("--language", language, str(exc)) from None
    if key is not None:
        from needleplan import services

        with open_records(database) as db:
            clinic = clinic_in_force(db, clinic_file)
            with audited(db, "patient.handout") as event:
                patient = services.find_patient(db, key)
                event.patient_id = patient.id
                handout = handout_for_patient(
                    db, patient.id, clinic=clinic, guideline=rules, language=language
                )
    else:
        given = load_clinic(clinic_file) if clinic_file is not None else None
        assessment = c.build_assessment(source, c.AssessmentFlags())
        handout = handout_for_assessment(
            assessment,
            clinic_name=given.name if given is not None else "Your clinic",
            timezone=given.timezone if given is not None else "UTC",
            patient_name=name.strip() if name else None,
            guideline=rules,
            language=language or (given.default_language if given is not None else "en"),
        )
    data = render_handout(handout, out)
    console.print(
        f"handout written to {escape(str(out))} ({page_count(data)} pages, "
        f"{len(handout.visits)} booked visits)"
    )

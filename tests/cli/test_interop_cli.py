"""``needleplan fhir patient`` and ``needleplan handout`` through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.interop.fhir import parse_bundle
from needleplan.reports.handout import page_count
from tests.cli.conftest import Runner
from tests.conftest import make_protocol_value


@pytest.fixture
def stored(tmp_path: Path) -> Any:
    """The CLI's SQLite database with one assessed patient and a booked course."""
    from needleplan.storage import Database

    db = Database.open(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    try:
        services.ensure_clinic(db, "Klinik Süd", "Europe/Berlin")
        who = services.add_practitioner(db, "Dr. Ana")
        patient = services.register_patient(
            db,
            {
                "mrn": "P-7",
                "given_name": "Zoë",
                "consent_treatment": True,
                "family_name": "Müller",
                "birth_date": "1976-04-02",
            },
        )
        services.record_assessment(db, patient.id, reference_assessment())
        t0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)
        services.book_course(
            db,
            patient.id,
            make_protocol_value(2),
            [
                (t0 + timedelta(days=35 * i), t0 + timedelta(days=35 * i, hours=1), who.id)
                for i in (0, 1)
            ],
        )
    finally:
        db.dispose()
    return patient


def test_fhir_patient_prints_a_bundle_and_writes_one(
    cli: Runner, stored: Any, tmp_path: Path
) -> None:
    printed = cli("fhir", "patient", "P-7")
    assert printed.returncode == 0, printed.stderr
    bundle = json.loads(printed.stdout)
    parsed = parse_bundle(bundle)
    kinds = sorted(type(e.resource).__name__ for e in parsed.entry)
    assert kinds == ["Appointment", "Appointment", "CarePlan", "Patient", "Practitioner"]
    written = cli("fhir", "patient", str(stored.id), "--out", "out/bundle.json")
    assert written.returncode == 0, written.stderr
    assert "Appointment 2, CarePlan 1, Patient 1, Practitioner 1" in written.stdout
    assert json.loads((tmp_path / "out" / "bundle.json").read_text(encoding="utf-8")) == bundle


def test_fhir_patient_unknown_key_exits_4(cli: Runner, stored: Any) -> None:
    result = cli("fhir", "patient", "NOPE")
    assert result.returncode == 4
    assert "no patient with record number NOPE" in result.stderr


def test_handout_for_a_stored_patient_writes_a_pdf(
    cli: Runner, stored: Any, tmp_path: Path
) -> None:
    result = cli("handout", "P-7", "--out", "zoe.pdf")
    assert result.returncode == 0, result.stderr
    assert "2 booked visits" in result.stdout
    data = (tmp_path / "zoe.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    assert f"({page_count(data)} pages" in result.stdout


def test_handout_from_an_assessment_file(cli: Runner, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(reference_assessment().model_dump(mode="json")))
    result = cli("handout", "--from", "a.json", "--name", "Zoë", "--out", "consult.pdf")
    assert result.returncode == 0, result.stderr
    assert "0 booked visits" in result.stdout
    assert (tmp_path / "consult.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["handout", "--out", "x.pdf"], 2, "exactly one of a patient KEY or --from"),
        (["handout", "P-7", "--out", "x.txt"], 2, "--out: must be a .pdf file"),
        (["handout", "P-7", "--name", "Z", "--out", "x.pdf"], 2, "--name"),
        (["handout", "--from", "blocked.json", "--out", "x.pdf"], 3, "pregnancy"),
        (["handout", "--from", "missing.json", "--out", "x.pdf"], 2, "file does not exist"),
    ],
)
def test_handout_bad_input_names_the_problem_and_writes_nothing(
    cli: Runner, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    blocked = {**reference_assessment().model_dump(mode="json"), "contraindications": ["pregnancy"]}
    (tmp_path / "a.json").write_text(json.dumps(reference_assessment().model_dump(mode="json")))
    (tmp_path / "blocked.json").write_text(json.dumps(blocked))
    result = cli(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "x.pdf").exists()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_patient_files_are_created_for_their_owner_only(
    cli: Runner, stored: Any, tmp_path: Path
) -> None:
    """Issue 17, L7: FHIR, handout, CSV export and the SQLite file 0600; new folders 0700."""
    assert cli("fhir", "patient", "P-7", "--out", "fhir/deep/b.json").returncode == 0
    assert cli("handout", "P-7", "--out", "handouts/zoe.pdf").returncode == 0
    (tmp_path / "old.csv").write_text("stale")
    (tmp_path / "old.csv").chmod(0o644)
    assert cli("export", "patients", "old.csv").returncode == 0
    assert cli("export", "patients", "exports/p.csv").returncode == 0
    for path in ("fhir/deep/b.json", "handouts/zoe.pdf", "old.csv", "exports/p.csv"):
        assert _mode(tmp_path / path) == 0o600, path
    for folder in ("fhir", "fhir/deep", "handouts", "exports"):
        assert _mode(tmp_path / folder) == 0o700, folder
    # A database file the CLI creates itself (cli.sqlite3 is the fixture's migrated copy).
    created = cli("patient", "list", "--database", f"sqlite:///{tmp_path / 'records/new.sqlite3'}")
    assert created.returncode == 0, created.stderr
    assert _mode(tmp_path / "records/new.sqlite3") == 0o600
    assert _mode(tmp_path / "records") == 0o700
    assert "P-7" in (tmp_path / "old.csv").read_text()


def test_fhir_questionnaire_prints_the_definition_and_names_a_bad_file(
    cli: Runner, tmp_path: Path
) -> None:
    from fhir.resources.R4B.questionnaire import Questionnaire

    printed = cli("fhir", "questionnaire")
    assert printed.returncode == 0, printed.stderr
    document = Questionnaire.model_validate(json.loads(printed.stdout))
    assert document.url == "https://needleplan.org/fhir/Questionnaire/needleplan-intake"
    (tmp_path / "bad.toml").write_text('schema = 1\nid = "x"\nversion = "1"\ntitle = "T"\n')
    bad = cli("fhir", "questionnaire", "--definition", "bad.toml")
    assert bad.returncode == 2
    assert "bad.toml: sections: Field required" in bad.stderr

"""CSV export/import: every bad row reported with line and field; all-or-nothing or --skip-bad."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needleplan import services
from needleplan.exceptions import InputError
from needleplan.interop.csv_io import COLUMNS, Kind, export_csv, import_csv, parse_csv
from needleplan.storage import Database
from tests.strategies import examples

GOOD_PATIENTS = """mrn,given_name,family_name,birth_date,sex,email,consent_contact
A1,Anna,Ames,1970-01-02,female,anna@example.org,yes
A2,Bea,Bloom,1981-12-31,,,
"""


def test_patients_import_then_export_round_trips(db: Any) -> None:
    report = import_csv(db, "patients", GOOD_PATIENTS)
    assert report.imported == 2
    assert report.skipped == []
    out = io.StringIO()
    assert export_csv(db, "patients", out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(COLUMNS[Kind.PATIENTS])
    assert lines[1].startswith("A1,Anna,Ames,1970-01-02,female,anna@example.org,,false,true,false,")


def test_bad_rows_are_reported_by_line_and_field_and_nothing_is_imported(db: Any) -> None:
    text = GOOD_PATIENTS + "A3,Cara,,1990-01-01,,,\nA4,Dee,Dunn,1990-13-01,,,maybe\n"
    with pytest.raises(InputError) as info:
        import_csv(db, "patients", text)
    message = str(info.value)
    assert "nothing imported" in message
    assert "line 4: family_name" in message
    assert "line 5: birth_date" in message
    assert "line 5: consent_contact" in message
    assert services.list_patients(db) == []


def test_skip_bad_imports_good_rows_and_lists_the_rest(db: Any) -> None:
    text = GOOD_PATIENTS + "A1,Dup,Licate,1990-01-01,,,\nA5,Eve,,1990-01-01,,,\n"
    report = import_csv(db, "patients", text, skip_bad=True)
    assert report.imported == 2
    assert [(p.line, p.problems[0].field) for p in report.skipped] == [
        (4, "mrn"),
        (5, "family_name"),
    ]
    assert len(services.list_patients(db)) == 2


def test_duplicate_within_the_file_is_a_bad_row(db: Any) -> None:
    with pytest.raises(InputError, match="line 3: mrn"):
        import_csv(
            db,
            "patients",
            "mrn,given_name,family_name,birth_date\nZ,A,B,1970-01-01\nZ,C,D,1970-01-01\n",
        )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "header"),
        ("given_name,family_name\n", "header"),
        ("given_name,family_name,birth_date,colour\n", "header"),
        ("given_name,given_name,family_name,birth_date\n", "header"),
    ],
)
def test_unusable_header_is_one_input_error(text: str, field: str) -> None:
    with pytest.raises(InputError, match=field):
        parse_csv("patients", text)


def test_unknown_kind_is_input_error(db: Any) -> None:
    with pytest.raises(InputError, match="kind"):
        import_csv(db, "invoices", "a\n")


def test_appointments_and_measurements_round_trip_between_databases(
    populated: Any, empty_database_url: str
) -> None:
    files = {}
    for kind in ("patients", "appointments", "measurements"):
        buf = io.StringIO()
        export_csv(populated.db, kind, buf)
        files[kind] = buf.getvalue()
    target = Database.open(empty_database_url)
    try:
        services.ensure_clinic(target)
        services.add_practitioner(target, "Alice")
        services.add_practitioner(target, "Bob")
        for kind in ("patients", "appointments", "measurements"):
            assert import_csv(target, kind, files[kind]).imported == files[kind].count("\n") - 1
        for kind in ("patients", "appointments", "measurements"):
            buf = io.StringIO()
            export_csv(target, kind, buf)
            assert buf.getvalue() == files[kind]
    finally:
        target.dispose()


def test_appointment_import_refuses_double_booking_per_row(clinic: Any) -> None:
    mrn = clinic.patient.mrn
    who = clinic.alice.id
    text = (
        "patient_mrn,practitioner_id,start,end\n"
        f"{mrn},{who},2030-01-01T09:00+00:00,2030-01-01T10:00+00:00\n"
        f"{mrn},{who},2030-01-01T09:30+00:00,2030-01-01T10:30+00:00\n"
        f"NOPE,{who},2030-01-02T09:00+00:00,2030-01-02T10:00+00:00\n"
        f"{mrn},999,2030-01-03T09:00+00:00,2030-01-03T10:00+00:00\n"
        f"{mrn},{who},2030-01-04T09:00,2030-01-04T10:00+00:00\n"
    )
    report = import_csv(clinic.db, "appointments", text, skip_bad=True)
    assert report.imported == 1
    assert [(p.line, p.problems[0].field) for p in report.skipped] == [
        (3, "start"),
        (4, "patient_mrn"),
        (5, "practitioner_id"),
        (6, "start"),
    ]


def test_measurement_off_scale_names_line_and_value(clinic: Any) -> None:
    text = f"patient_mrn,scale,value,measured_at\n{clinic.patient.mrn},gais,7,2030-01-01T10:00Z\n"
    with pytest.raises(InputError, match=r"line 2: value.*gais must lie between 1 and 5"):
        import_csv(clinic.db, "measurements", text)


def test_file_with_quoted_newlines_reports_the_starting_line() -> None:
    text = 'given_name,family_name,birth_date,notes\nA,B,1970-01-01,"two\nlines"\nC,,1970-01-01,x\n'
    parsed = parse_csv("patients", text)
    assert [line for line, _ in parsed.rows] == [2]
    assert [p.line for p in parsed.problems] == [4]


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=examples(200), deadline=None)
@given(
    kind=st.sampled_from(list(Kind)),
    body=st.lists(st.lists(cells, max_size=8), max_size=6),
    raw=st.text(max_size=80),
)
def test_parsing_any_text_never_crashes(kind: Kind, body: list[list[str]], raw: str) -> None:
    """Structured-but-random CSV and raw text either parse or raise InputError, nothing else."""
    buf = io.StringIO()
    import csv

    writer = csv.writer(buf)
    writer.writerow(COLUMNS[kind])
    writer.writerows(body)
    for text in (buf.getvalue(), raw, COLUMNS[kind][0] + "\n" + raw):
        with contextlib.suppress(InputError):
            parse_csv(kind, text)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(list(Kind)),
    body=st.lists(
        st.lists(
            st.sampled_from(
                [
                    "",
                    "x",
                    "1",
                    "2030-01-01T10:00Z",
                    "1970-01-01",
                    "gais",
                    "true",
                    "P000001",
                    "-3",
                    "9" * 30,
                ]
            )
            | cells,
            min_size=3,
            max_size=7,
        ),
        max_size=5,
    ),
    skip=st.booleans(),
)
def test_importing_any_rows_never_crashes_or_half_imports(
    tmp_path: Path, kind: Kind, body: list[list[str]], skip: bool
) -> None:
    import csv

    db = Database.open(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    try:
        if services.list_practitioners(db) == []:
            services.add_practitioner(db, "P")
            services.register_patient(
                db, {"given_name": "A", "family_name": "B", "birth_date": "1970-01-01"}
            )
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(COLUMNS[kind][: len(body[0])] if body else COLUMNS[kind])
        writer.writerows(body)
        before = io.StringIO()
        export_csv(db, kind, before)
        try:
            report = import_csv(db, kind, buf.getvalue(), skip_bad=skip)
        except InputError:
            after = io.StringIO()
            export_csv(db, kind, after)
            assert after.getvalue() == before.getvalue()
        else:
            assert report.imported + len(report.skipped) <= len(body)
    finally:
        db.dispose()


def test_a_field_over_the_limit_is_one_bad_row_and_later_rows_still_count(db: Any) -> None:
    """Issue 17, M7: the rows after a huge field are imported or reported, never dropped."""
    huge = "x" * 10_001
    text = (
        GOOD_PATIENTS
        + f"A3,{huge},Cole,1990-01-01,,,\n"
        + "A4,Dee,Dunn,1990-01-01,,,\n"
        + "A5,Eve,,1990-01-01,,,\n"
        + "A6,Fay,Fox,1990-01-01,,,\n"
    )
    report = import_csv(db, "patients", text, skip_bad=True)
    assert report.imported == 4
    assert [(p.line, p.problems[0].field) for p in report.skipped] == [
        (4, "given_name"),
        (6, "family_name"),
    ]
    assert "10000" in report.skipped[0].problems[0].rule
    assert sorted(p.mrn for p in services.list_patients(db)) == ["A1", "A2", "A4", "A6"]


FORMULAS = ["=HYPERLINK(1)", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=1", "'plain"]


def test_export_neutralises_formulas_and_import_round_trips_them(db: Any, tmp_path: Path) -> None:
    """Issue 17, L4: no cell a spreadsheet would run as a formula; the values survive."""
    for i, formula in enumerate(FORMULAS, 1):
        services.register_patient(
            db,
            {
                "mrn": f"N{i}",
                "given_name": "Nora",
                "family_name": "Nash",
                "birth_date": "1980-01-01",
                "notes": formula,
            },
            confirm_duplicate=True,  # the same person on purpose, once per formula
        )
    out = io.StringIO()
    export_csv(db, "patients", out)
    import csv as _csv

    for record in _csv.reader(io.StringIO(out.getvalue())):
        for cell in record:
            assert not cell or cell[0] not in "=+-@\t\r", record
    other = Database.open(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        assert import_csv(other, "patients", out.getvalue()).imported == len(FORMULAS)
        by_mrn = {p.mrn: p for p in services.list_patients(other)}
        stored = {p.mrn: p.notes for p in services.list_patients(db)}
        for i in range(1, len(FORMULAS) + 1):
            # import strips surrounding blanks, as for any cell
            assert by_mrn[f"N{i}"].notes == stored[f"N{i}"].strip()
    finally:
        other.dispose()

"""The record commands book in the clinic calendar in force, the one the web app uses: the newest
version saved in the database, else ``$NEEDLEPLAN_CLINIC_FILE``, else the bundled example;
``--clinic FILE`` overrides it for one command."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest

import needleplan.scheduling
from needleplan.services import clinic_calendar
from needleplan.storage import Database
from tests.cli_support import migrated_sqlite
from tests.consent_support import signature_png

from .conftest import Runner

REFERENCE = {"age": 50, "severity": "moderate", "areas": ["full_face"]}
START = "2031-03-03"  # a Monday

CALENDAR = """\
name = "Saved Clinic"
timezone = "Europe/Berlin"

[opening_hours]
monday = ["09:00-18:00"]
tuesday = ["09:00-18:00"]

[[practitioners]]
name = "Alice Practitioner"
"""


def closed(first: str, last: str, reason: str) -> str:
    return CALENDAR + f'\n[[closures]]\nstart = {first}\nend = {last}\nreason = "{reason}"\n'


@pytest.fixture
def run(cli: Runner, tmp_path: Path, _sqlite_template: Path) -> Runner:
    url = migrated_sqlite(_sqlite_template, tmp_path / "in-force.sqlite3")

    def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, env={"NEEDLEPLAN_DATABASE_URL": url, **env})

    (tmp_path / "reference.json").write_text(json.dumps(REFERENCE), encoding="utf-8")
    for given in ("Ada", "Bea"):
        added = _run(
            "patient", "add", "--given-name", given, "--family-name", "Doe",
            "--birth-date", "1976-04-02", "--consent-treatment",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    (tmp_path / "signature.png").write_bytes(signature_png())
    for key in ("1", "2"):
        assessed = _run("patient", "assess", key, "--from", str(tmp_path / "reference.json"))
        assert assessed.returncode == 0, assessed.stderr
        signed = _run("consent", "sign", key, "--signature", str(tmp_path / "signature.png"))
        assert signed.returncode == 0, signed.stderr
    return _run


def save(run: Runner, tmp_path: Path, text: str) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    saved = run("clinic", "set", str(path))
    assert saved.returncode == 0, saved.stderr


def first_day(result: subprocess.CompletedProcess[str]) -> date:
    assert result.returncode == 0, result.stderr
    appointments = json.loads(result.stdout)["appointments"]
    return datetime.fromisoformat(appointments[0]["start"]).date()


def test_course_book_without_clinic_uses_the_saved_version(run: Runner, tmp_path: Path) -> None:
    """A saved version closing the requested day moves session 1 past the closure, as in the web
    app; ``--clinic FILE`` still books that day in the file's calendar."""
    save(run, tmp_path, closed("2031-03-03", "2031-03-04", "staff training"))
    assert first_day(run("course", "book", "1", "--start", START, "--json")) == date(2031, 3, 10)
    example = Path(needleplan.scheduling.__file__).with_name("example_clinic.toml")
    override = run("course", "book", "2", "--start", START, "--clinic", str(example), "--json")
    assert first_day(override) == date(2031, 3, 3)


def test_course_book_refuses_what_the_saved_version_closes_with_exit_6(
    run: Runner, tmp_path: Path
) -> None:
    """A closure over the whole search window: exit 6 naming it, and nothing is booked."""
    save(run, tmp_path, closed("2031-03-01", "2032-12-31", "rebuilding"))
    refused = run("course", "book", "1", "--start", START)
    assert refused.returncode == 6, refused.stderr
    assert "rebuilding" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    shown = json.loads(run("patient", "show", "1", "--json").stdout)
    assert shown["courses"] == []
    assert shown["appointments"] == []


def test_the_cli_books_in_the_calendar_the_web_app_resolves(
    run: Runner, tmp_path: Path, cli: Runner
) -> None:
    """The calendar the booking used is the one ``effective_clinic`` (the web app's resolver)
    returns for the same database: its name and zone are on the printed table."""
    save(run, tmp_path, CALENDAR)
    url = f"sqlite:///{tmp_path / 'in-force.sqlite3'}"
    database = Database.open(url)
    try:
        in_force = clinic_calendar.effective_clinic(database, None)
    finally:
        database.dispose()
    assert in_force.source is clinic_calendar.ClinicSource.SAVED
    booked = run("course", "book", "1", "--start", START)
    assert booked.returncode == 0, booked.stderr
    assert f"appointments ({in_force.clinic.timezone})" in booked.stdout
    assert "Alice Practitioner" in booked.stdout


def test_without_a_saved_version_the_clinic_file_setting_is_in_force(
    run: Runner, tmp_path: Path
) -> None:
    """``$NEEDLEPLAN_CLINIC_FILE`` (the web app's setting) is used until a version is saved."""
    path = tmp_path / "file-clinic.toml"
    path.write_text(closed("2031-03-03", "2031-03-04", "inventory"), encoding="utf-8")
    booked = run(
        "course", "book", "1", "--start", START, "--json", NEEDLEPLAN_CLINIC_FILE=str(path)
    )
    assert first_day(booked) == date(2031, 3, 10)
    default = run("course", "book", "2", "--start", START, "--json")
    assert first_day(default) == date(2031, 3, 3)  # the bundled example clinic is open


def _recall_after_last_session(run: Runner, course_id: str, *extra: str) -> int:
    """Record every session of the course; days from the last session to the recall's due date."""
    shown = json.loads(run("course", "show", course_id, "--json").stdout)
    for appt in shown["appointments"]:
        done = run(
            "session", "record", str(appt["id"]), "--area", "full_face",
            "--depth", "full_face=1.5", "--device", "Dermapen", "--passes", "3", *extra,
            NEEDLEPLAN_NOW=appt["end"],  # charted as the visit ends
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    patient = str(shown["course"]["patient_id"])
    (recall,) = json.loads(run("patient", "show", patient, "--json").stdout)["recalls"]
    last = datetime.fromisoformat(shown["appointments"][-1]["start"]).date()
    return (date.fromisoformat(recall["due_date"]) - last).days


def test_session_record_sets_the_recall_from_the_forecast_in_the_saved_calendar(
    run: Runner, tmp_path: Path
) -> None:
    """Without ``--clinic`` the last session's recall comes from her forecast and the recall
    threshold of the calendar in force (not the protocol's shortest interval of 6 months): the
    same as with ``--clinic`` naming the saved file."""
    save(run, tmp_path, CALENDAR)
    assert run("course", "book", "1", "--start", START).returncode == 0
    assert run("course", "book", "2", "--start", START).returncode == 0
    in_force = _recall_after_last_session(run, "1")
    explicit = _recall_after_last_session(run, "2", "--clinic", str(tmp_path / "calendar.toml"))
    assert in_force == explicit
    assert in_force > 7 * 31  # the reference patient stays noticeable: recalled at 12 months


def test_course_move_refuses_a_closure_of_the_saved_version(run: Runner, tmp_path: Path) -> None:
    """A version saved after booking closes a day: moving a session onto it is refused (exit 6,
    naming the closure), as the web app's move would; ``--clinic`` with the old file allows it."""
    save(run, tmp_path, CALENDAR)
    assert run("course", "book", "1", "--start", START).returncode == 0
    old = tmp_path / "old.toml"
    old.write_text(CALENDAR, encoding="utf-8")
    save(run, tmp_path, closed("2031-04-14", "2031-04-15", "fire drill"))
    moved = run("course", "move", "2", "--start", "2031-04-14T10:00+02:00", "--preview")
    assert moved.returncode == 6, moved.stderr
    assert "clinic closure (fire drill)" in moved.stderr
    allowed = run(
        "course", "move", "2", "--start", "2031-04-14T10:00+02:00", "--preview", "--clinic", str(old)
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "preview only: nothing was saved" in allowed.stdout

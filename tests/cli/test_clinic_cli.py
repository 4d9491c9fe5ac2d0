"""``needleplan clinic show | history | set | revert`` through the real entry point: the saved
calendar versions, the conflict check with exit 5 unless ``--yes``, and the exit codes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus
from needleplan.services import clinic_calendar
from needleplan.storage import Database

from .conftest import Runner

BASE = """\
name = "CLI Clinic"
timezone = "Europe/Berlin"

[opening_hours]
monday = ["09:00-18:00"]
tuesday = ["09:00-18:00"]

[[practitioners]]
name = "Alice Practitioner"
"""
SHORT = BASE.replace('monday = ["09:00-18:00"]', 'monday = ["09:00-12:00"]')


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'clinic-cli.sqlite3'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database.open(url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def run(cli: Runner, url: str) -> Runner:
    def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, env={"NEEDLEPLAN_DATABASE_URL": url, **env})

    return _run


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_show_names_the_bundled_example_or_the_file_until_a_version_is_saved(
    run: Runner, tmp_path: Path
) -> None:
    shown = run("clinic", "show")
    assert shown.returncode == 0, shown.stderr
    assert "in force: the bundled example clinic (no version saved in the app yet)" in shown.stdout
    assert "Dr. Aylin Kaya" in shown.stdout
    toml = run("clinic", "show", "--toml")
    assert toml.stdout == clinic_calendar.bundled_clinic_toml()
    file = write(tmp_path, "own.toml", BASE)
    from_file = run("clinic", "show", NEEDLEPLAN_CLINIC_FILE=file)
    assert f"in force: the file {file}" in from_file.stdout
    assert "CLI Clinic" in from_file.stdout
    history = run("clinic", "history")
    assert history.returncode == 0
    assert "no version saved yet" in history.stdout


def test_set_saves_a_version_that_show_and_history_report(
    run: Runner, tmp_path: Path, db: Database
) -> None:
    result = run("clinic", "set", write(tmp_path, "c.toml", BASE), "--note", "opening")
    assert result.returncode == 0, result.stderr
    assert "saved version 1; it is in force now" in result.stdout
    shown = run("clinic", "show")
    assert "in force: saved version 1 (by cli" in shown.stdout
    assert "note: opening" in shown.stdout
    assert "CLI Clinic" in shown.stdout
    assert run("clinic", "show", "--toml").stdout == BASE
    history = run("clinic", "history")
    assert "1 (in force)" in history.stdout
    assert "opening" in history.stdout
    (event,) = services.audit_log(db)
    assert (event.action, event.patient_id) == ("clinic.config.save", None)
    assert event.username.startswith("cli")


def test_set_acts_as_the_named_account_and_front_desk_is_refused_with_exit_7(
    run: Runner, tmp_path: Path, db: Database
) -> None:
    services.create_user(db, "boss", "a long enough secret 1", "admin")
    services.create_user(db, "frontdesk", "a long enough secret 2", "front_desk")
    refused = run("--as", "frontdesk", "clinic", "set", write(tmp_path, "c.toml", BASE))
    assert refused.returncode == 7, refused.stderr
    assert "frontdesk (front_desk) may not" in refused.stderr
    assert clinic_calendar.clinic_config_history(db) == []
    saved = run("--as", "boss", "clinic", "set", write(tmp_path, "c.toml", BASE))
    assert saved.returncode == 0, saved.stderr
    (event,) = services.audit_log(db)
    assert (event.action, event.username) == ("clinic.config.save", "boss")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name = \n",
            "toml: is not valid TOML: Invalid value (at line 1, column 8) (got 'name =')",
        ),
        (BASE.replace("Europe/Berlin", "Nowhere/City"), "timezone: 'Nowhere/City' is not an IANA"),
        (BASE + "wheelchair = true\n", "practitioners.0.wheelchair: unknown field (got True)"),
    ],
    ids=["not-toml", "bad-value", "unknown-key"],
)
def test_set_refuses_a_bad_calendar_with_exit_2_and_stores_nothing(
    run: Runner, tmp_path: Path, db: Database, text: str, expected: str
) -> None:
    result = run("clinic", "set", write(tmp_path, "bad.toml", text))
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert clinic_calendar.clinic_config_history(db) == []


def test_set_a_missing_file_exits_2(run: Runner, tmp_path: Path) -> None:
    result = run("clinic", "set", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "file: file does not exist" in result.stderr


def test_conflicting_appointments_are_listed_and_need_yes(
    run: Runner, tmp_path: Path, db: Database
) -> None:
    clinic_calendar.save_clinic_config(db, BASE, "setup")
    ids = services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    patient = services.register_patient(
        db,
        {
            "consent_treatment": True,
            "given_name": "Ada",
            "family_name": "Late",
            "birth_date": "1970-01-01",
        },
    )
    start = datetime(2031, 3, 3, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday
    appt = services.book_appointment(
        db, patient.id, (start, start + timedelta(hours=1), ids["Alice Practitioner"])
    )
    short = write(tmp_path, "short.toml", SHORT)

    refused = run("clinic", "set", short, COLUMNS="250")
    assert refused.returncode == 5
    assert "1 booked appointment(s) would conflict with this calendar; nothing saved" in (
        refused.stderr
    )
    assert str(appt.id) in refused.stdout
    assert "2031-03-03 15:00" in refused.stdout
    assert "outside Alice Practitioner's working hours" in refused.stdout
    assert len(clinic_calendar.clinic_config_history(db)) == 1

    accepted = run("clinic", "set", short, "--yes")
    assert accepted.returncode == 0, accepted.stderr
    assert "saved version 2" in accepted.stdout
    assert len(clinic_calendar.clinic_config_history(db)) == 2
    with db.transaction() as uow:
        assert uow.appointments.get(appt.id).status is AppointmentStatus.BOOKED

    # Reverting to the longer hours conflicts with nothing; back to the short ones needs --yes.
    assert run("clinic", "revert", "1").returncode == 0
    assert run("clinic", "revert", "2").returncode == 5
    assert len(clinic_calendar.clinic_config_history(db)) == 3


def test_revert_appends_a_copy_and_a_missing_version_exits_4(
    run: Runner, tmp_path: Path, db: Database
) -> None:
    clinic_calendar.save_clinic_config(db, BASE, "setup")
    clinic_calendar.save_clinic_config(db, BASE.replace("CLI Clinic", "Renamed"), "setup")
    result = run("clinic", "revert", "1")
    assert result.returncode == 0, result.stderr
    assert "version 1 is back in force (saved again as version 3)" in result.stdout
    assert clinic_calendar.effective_clinic(db).clinic.name == "CLI Clinic"
    assert services.audit_log(db, limit=1)[0].action == "clinic.config.revert"
    missing = run("clinic", "revert", "42")
    assert missing.returncode == 4
    assert "clinic calendar version 42 does not exist" in missing.stderr
    assert len(clinic_calendar.clinic_config_history(db)) == 3


def test_the_database_option_selects_the_database(
    cli: Runner, tmp_path: Path, url: str, db: Database
) -> None:
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    file = write(tmp_path, "c.toml", BASE)
    result = cli("clinic", "set", file, "--database", other, env={"NEEDLEPLAN_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert clinic_calendar.clinic_config_history(db) == []
    shown = cli("clinic", "show", "-d", other, env={"NEEDLEPLAN_DATABASE_URL": url})
    assert "saved version 1" in shown.stdout


def test_conflicts_lists_future_bookings_the_calendar_in_force_refuses(
    run: Runner, db: Database
) -> None:
    clinic_calendar.save_clinic_config(db, BASE, "setup")
    none = run("clinic", "conflicts")
    assert none.returncode == 0, none.stderr
    assert "no conflicts" in none.stdout
    ids = services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    patient = services.register_patient(
        db, {"given_name": "Ada", "family_name": "Late", "birth_date": "1970-01-01"}
    )
    start = datetime(2031, 3, 3, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday
    appt = services.book_appointment(
        db, patient.id, (start, start + timedelta(hours=1), ids["Alice Practitioner"])
    )
    assert run("clinic", "conflicts").returncode == 0
    clinic_calendar.save_clinic_config(db, SHORT, "setup")  # the afternoon is closed now
    found = run("clinic", "conflicts", COLUMNS="250")
    assert found.returncode == 5
    assert "1 future booking(s) the calendar does not allow" in found.stdout
    assert str(appt.id) in found.stdout
    assert "2031-03-03 15:00" in found.stdout
    assert "outside Alice Practitioner's working hours" in found.stdout
    # the list is on her audit trail (L3), and needs the clinic configuration permission
    events, _ = services.search_audit(db, patient_id=patient.id)
    [read] = [e for e in events if e.action == "clinic.conflicts.read"]
    assert read.detail == f"cli in force shown=1 patients={patient.id}"
    services.create_user(db, "desk", "front-desk-password-1", "front_desk")
    refused = run("--as", "desk", "clinic", "conflicts")
    assert refused.returncode == 7
    assert "clinic.conflicts.read" in refused.stderr

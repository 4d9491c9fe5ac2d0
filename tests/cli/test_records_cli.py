"""Clinic-record commands through the real entry point: output, files, exit codes 0/2/4/5.

Most tests call the console-script function ``needleplan.cli.main.run`` in-process (argv, stdout,
stderr and exit code exactly as from a shell, without paying the interpreter start-up for each of
some sixty invocations); one test runs ``python -m needleplan`` in a subprocess end to end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import pytest

from needleplan.cli.main import run
from tests.cli_support import invoke, migrated_sqlite
from tests.consent_support import signature_png

REFERENCE = {"age": 50, "severity": "moderate", "areas": ["full_face"]}

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    _sqlite_template: Path,
) -> Runner:
    """Run ``needleplan ARGS`` in-process with a fresh SQLite database in ``tmp_path``
    (``cli.sqlite3``, a copy of one already migrated)."""
    monkeypatch.chdir(tmp_path)
    url = migrated_sqlite(_sqlite_template, tmp_path / "cli.sqlite3")
    monkeypatch.setenv("NEEDLEPLAN_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "160")

    def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            m.setattr(sys, "argv", ["needleplan", *args])
            code: int | str | None = 0
            try:
                run()
            except SystemExit as exc:
                code = exc.code
            except click.exceptions.Exit as exc:
                code = exc.exit_code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), int(code or 0), out.out, out.err)

    return invoke


def test_entry_point_in_a_subprocess_books_and_reports_errors(tmp_path: Path) -> None:
    env = {**os.environ, "NEEDLEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'sub.sqlite3'}"}

    def sub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "needleplan", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    ok = sub(
        "patient",
        "add",
        "--given-name",
        "Jane",
        "--family-name",
        "Doe",
        "--birth-date",
        "1976-04-02",
    )
    assert ok.returncode == 0, ok.stderr
    assert "registered patient 1 (record P000001)" in ok.stdout
    bad = sub("patient", "show", "P404")
    assert bad.returncode == 4
    assert bad.stderr.strip() == "error: no patient with record number P404"


#: The clock just after the second session of the ``booked`` course (2030-10-07 10:00 Berlin).
AFTER_SECOND = {"NEEDLEPLAN_NOW": "2030-10-07T10:30+02:00"}


#: The files of the ``booked`` clinic: its database, and the inputs its commands read.
BOOKED_FILES = ("cli.sqlite3", "a.json", "signature.png")


@pytest.fixture(scope="session")
def _booked_template(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Path:
    """A folder holding the ``booked`` clinic, built once per session through the same commands
    (in-process, tests/cli_support.py) that ``booked`` used to run for every test: patient
    P000001 added, assessed, a course booked from 2030-09-02 and her treatment consent signed.
    Its media folder (``media/``) holds whatever those commands stored there."""
    folder = tmp_path_factory.mktemp("booked-template")
    (folder / "media").mkdir()
    env = {
        "NEEDLEPLAN_DATABASE_URL": migrated_sqlite(_sqlite_template, folder / "cli.sqlite3"),
        "NEEDLEPLAN_MEDIA_DIR": str(folder / "media"),
        "COLUMNS": "160",
    }
    with contextlib.chdir(folder):  # the commands name their input files relative to it

        def step(*args: str) -> None:
            res = invoke(args, env=env)
            assert res.returncode == 0, (args, res.stdout, res.stderr)

        step(
            "patient",
            "add",
            "--given-name",
            "Jane",
            "--family-name",
            "Doe",
            "--birth-date",
            "1976-04-02",
            "--consent-treatment",
        )
        (folder / "a.json").write_text(json.dumps(REFERENCE))
        step("patient", "assess", "P000001", "--from", "a.json")
        step("course", "book", "P000001", "--start", "2030-09-02")
        (folder / "signature.png").write_bytes(signature_png())
        step("consent", "sign", "P000001", "--signature", "signature.png", "--device", "pad")
    # Each command closes its database, which folds the write-ahead log into the file: the file
    # alone is the clinic.
    assert not (folder / "cli.sqlite3-wal").exists()
    return folder


@pytest.fixture
def booked(cli: Runner, tmp_path: Path, media_folder: Path, _booked_template: Path) -> Runner:
    """A database with patient P000001 assessed and a course booked from 2030-09-02: a copy of
    ``_booked_template`` (its database file, input files and media files) in ``tmp_path``."""
    for name in BOOKED_FILES:
        # Onto the 0600 file ``cli`` made (copyfile keeps the target's mode).
        shutil.copyfile(_booked_template / name, tmp_path / name)
    shutil.copytree(_booked_template / "media", media_folder, dirs_exist_ok=True)
    return cli


def test_book_show_record_and_complete_a_course(booked: Runner) -> None:
    import needleplan.scheduling

    clinic_toml = Path(needleplan.scheduling.__file__).with_name("example_clinic.toml")
    shown = json.loads(booked("course", "show", "1", "--json").stdout)
    assert shown["course"]["status"] == "planned"
    appts = shown["appointments"]
    assert len(appts) == shown["course"]["planned_sessions"] == 5
    for appt in appts:
        res = booked(
            "session", "record", str(appt["id"]), "--area", "full_face", "--depth", "full_face=1.5",
            "--device", "Dermapen", "--passes", "3", "--clinic", str(clinic_toml),
            env={"NEEDLEPLAN_NOW": appt["end"]},  # charted as the visit ends
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
    final = json.loads(booked("course", "show", "1", "--json").stdout)
    assert final["course"]["status"] == "completed"
    assert final["course"]["remaining_sessions"] == 0
    (recall,) = json.loads(booked("recall", "list", "--json").stdout)
    last = datetime.fromisoformat(appts[-1]["start"]).date()
    due = date.fromisoformat(recall["due_date"])
    assert 6 * 28 <= (due - last).days <= 12 * 31  # forecast-driven, inside 6-12 months
    assert "Jane Doe" in booked("recall", "list").stdout


def test_move_into_a_taken_slot_exits_5_and_changes_nothing(booked: Runner) -> None:
    appts = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    res = booked("course", "move", str(appts[1]["id"]), "--start", appts[0]["start"], "--alone")
    assert res.returncode == 5
    assert "already booked" in res.stderr
    again = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    assert again == appts


def test_replanned_move_before_the_previous_session_exits_2_and_changes_nothing(
    booked: Runner,
) -> None:
    appts = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    res = booked("course", "move", str(appts[1]["id"]), "--start", appts[0]["start"])
    assert res.returncode == 2
    assert "session 2 must come after session 1" in res.stderr
    again = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    assert again == appts


def test_replanned_move_shifts_the_later_sessions_and_preview_saves_nothing(
    booked: Runner,
) -> None:
    appts = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    late = (datetime.fromisoformat(appts[2]["start"]) + timedelta(days=28)).isoformat()
    preview = booked("course", "move", str(appts[2]["id"]), "--start", late, "--preview")
    assert preview.returncode == 0, preview.stderr
    assert "preview only: nothing was saved" in preview.stdout
    assert json.loads(booked("course", "show", "1", "--json").stdout)["appointments"] == appts
    res = booked("course", "move", str(appts[2]["id"]), "--start", late)
    assert res.returncode == 0, res.stderr
    assert "saved:" in res.stdout
    after = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    assert after[:2] == appts[:2]
    assert after[3]["start"] != appts[3]["start"]


def test_move_to_a_free_time_keeps_the_length(booked: Runner) -> None:
    appts = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    res = booked("course", "move", str(appts[0]["id"]), "--start", "2030-09-03T14:00:00+02:00")
    assert res.returncode == 0, res.stderr
    moved = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"][0]
    assert datetime.fromisoformat(moved["start"]) == datetime(2030, 9, 3, 12, tzinfo=UTC)
    old = datetime.fromisoformat(appts[0]["end"]) - datetime.fromisoformat(appts[0]["start"])
    assert datetime.fromisoformat(moved["end"]) - datetime.fromisoformat(moved["start"]) == old


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            [
                "patient",
                "add",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--birth-date",
                "1976-13-02",
            ],
            "birth_date",
        ),
        (
            [
                "patient",
                "add",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--birth-date",
                "1976-01-02",
                "--email",
                "x",
            ],
            "email",
        ),
        (["measure", "add", "P000001", "--scale", "gais", "--value", "9"], "value"),
        (["measure", "add", "P000001", "--scale", "beauty", "--value", "1"], "scale"),
        (["course", "move", "1", "--start", "2030-09-03T14:00"], "--start"),
        (["recall", "list", "--due-by", "soon"], "--due-by"),
        (["import", "invoices", "x.csv"], "kind"),
        (["import", "patients", "missing.csv"], "file"),
        (["export", "patients", "out.csv", "--database", "mysql://u@h/d"], "database_url"),
        (
            [
                "session",
                "record",
                "1",
                "--area",
                "full_face",
                "--depth",
                "full_face",
                "--device",
                "d",
                "--passes",
                "2",
            ],
            "--depth",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    booked: Runner, args: list[str], needle: str
) -> None:
    res = booked(*args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert needle in lines[0]
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "args", [["patient", "show", "P404"], ["course", "show", "99"], ["course", "cancel", "99"]]
)
def test_missing_records_exit_4(booked: Runner, args: list[str]) -> None:
    res = booked(*args)
    assert res.returncode == 4
    assert res.stderr.startswith("error: ")


def test_illegal_status_change_exits_5(booked: Runner) -> None:
    res = booked("course", "status", "1", "completed")
    assert res.returncode == 5
    assert "planned to completed" in res.stderr


def test_csv_import_all_or_nothing_then_skip_bad(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "patients.csv"
    src.write_text("given_name,family_name,birth_date\nAnna,Ames,1970-01-02\nBea,,1980-01-01\n")
    res = cli("import", "patients", str(src))
    assert res.returncode == 2
    assert "line 3: family_name" in res.stderr
    assert json.loads(cli("patient", "list", "--json").stdout) == []
    res = cli("import", "patients", str(src), "--skip-bad")
    assert res.returncode == 0
    assert "imported 1 patients" in res.stdout
    assert "skipped line 3: family_name" in res.stdout
    out = tmp_path / "out.csv"
    assert cli("export", "patients", str(out)).returncode == 0
    assert out.read_text().splitlines()[1].startswith("P000001,Anna,Ames,1970-01-02")


def test_backup_restore_round_trip_and_db_commands(booked: Runner, tmp_path: Path) -> None:
    assert "up to date" in booked("db", "current").stdout
    assert booked("backup", str(tmp_path / "b.json.gz")).returncode == 0
    other = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    res = booked("restore", str(tmp_path / "b.json.gz"), "--database", other)
    assert res.returncode == 0, res.stderr
    a = json.loads(booked("course", "show", "1", "--json").stdout)
    b = json.loads(booked("course", "show", "1", "--json", "--database", other).stdout)
    assert a == b
    again = booked("restore", str(tmp_path / "b.json.gz"), "--database", other)
    assert again.returncode == 5


#: The clinic's clock for the demo command, so the clinic it makes is the same on any day.
DEMO_NOW = "2026-11-21T10:00+01:00"


def test_demo_fills_a_clinic_with_every_course_state(cli: Runner, tmp_path: Path) -> None:
    """24 patients (seed 3, on a fixed day) are enough for a course in every state; the summary
    counts each of them."""
    res = cli("demo", "--patients", "24", "--seed", "3", env={"NEEDLEPLAN_NOW": DEMO_NOW})
    assert res.returncode == 0, res.stderr
    found = re.findall(r"(\d+) (planned|active|completed|lapsed|cancelled)", res.stdout)
    counts = {state: int(n) for n, state in found}
    assert set(counts) == {"planned", "active", "completed", "lapsed", "cancelled"}
    assert all(n > 0 for n in counts.values()), res.stdout
    assert len(json.loads(cli("patient", "list", "--limit", "1000", "--json").stdout)) == 24
    assert cli("demo").returncode == 5  # refuses a database that already has patients


def test_demo_large_writes_a_clinic_group_in_bulk(cli: Runner) -> None:
    res = cli("demo", "--large", "--patients", "400", "--seed", "3")
    assert res.returncode == 0, res.stderr
    assert "400 patients, 20 practitioners" in res.stdout
    assert "completed" in res.stdout
    listed = json.loads(cli("patient", "list", "--limit", "1000", "--json").stdout)
    assert len(listed) == 400
    assert cli("demo", "--large", "--patients", "5").returncode == 5  # not an empty database
    bad = cli("demo", "--large", "--patients", "0")
    assert bad.returncode == 2
    assert "patients" in bad.stderr


def test_user_add_reads_password_from_environment(cli: Runner) -> None:
    res = cli(
        "user",
        "add",
        "desk",
        "--role",
        "front_desk",
        env={"NEEDLEPLAN_PASSWORD": "long enough secret"},
    )
    assert res.returncode == 0, res.stderr
    bad = cli("user", "add", "desk2", "--role", "front_desk", env={"NEEDLEPLAN_PASSWORD": "short"})
    assert bad.returncode == 2
    assert "short" not in bad.stderr


def test_db_purge_sessions_deletes_only_ended_sign_ins(cli: Runner, tmp_path: Path) -> None:
    from needleplan.services import staff_sessions
    from needleplan.storage import Database

    env = {"NEEDLEPLAN_PASSWORD": "long enough secret"}
    assert cli("user", "add", "desk", "--role", "front_desk", env=env).returncode == 0
    db = Database.open(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    try:
        policy = staff_sessions.SessionPolicy()
        now = datetime.now(UTC)
        start = staff_sessions.start_session
        live, _ = start(db, 1, "browser", policy, now=now)
        ended, _ = start(db, 1, "browser", policy, now=now)
        start(db, 1, "browser", policy, now=now - timedelta(hours=2))  # idle for 2 h
        staff_sessions.end_session(db, ended)
        res = cli("db", "purge-sessions")
        assert res.returncode == 0, res.stderr
        assert "2 ended sign-in session(s) deleted" in res.stdout
        assert staff_sessions.find_session(db, live, policy) is not None
        bad = cli("db", "purge-sessions", env={"NEEDLEPLAN_IDLE_TIMEOUT_S": "5"})
        assert bad.returncode == 2
        assert "NEEDLEPLAN_IDLE_TIMEOUT_S" in bad.stderr
    finally:
        db.dispose()


def test_a_missed_session_is_rebooked_after_a_preview(booked: Runner) -> None:
    appts = json.loads(booked("course", "show", "1", "--json").stdout)["appointments"]
    second = appts[1]["id"]
    missed = booked("course", "missed", str(second), env=AFTER_SECOND)
    assert missed.returncode == 0, missed.stderr
    assert f"course rebook {second}" in missed.stdout
    shown = booked("course", "show", "1", "--json").stdout
    preview = booked("course", "rebook", str(second), "--preview")
    assert preview.returncode == 0, preview.stderr
    assert "preview only: nothing was saved" in preview.stdout
    assert "new (missed 2030-10-07 10:00)" in preview.stdout  # Berlin wall clock
    assert booked("course", "show", "1", "--json").stdout == shown
    saved = booked("course", "rebook", str(second), "--not-before", "2030-10-20", "--json")
    assert saved.returncode == 0, saved.stderr
    data = json.loads(saved.stdout)
    assert data["saved"] is True
    assert data["session_number"] == 2
    assert data["not_before"] == "2030-10-20"
    new = data["appointment"]
    assert new["status"] == "booked"
    assert new["session_number"] == 2
    assert new["start"] >= "2030-10-20"
    assert data["moved"], "past the window: the later sessions follow"
    course = json.loads(booked("course", "show", "1", "--json").stdout)
    statuses = {a["id"]: a["status"] for a in course["appointments"]}
    assert statuses[second] == "missed"
    assert list(statuses.values()).count("booked") == 5
    assert course["course"]["remaining_sessions"] == 5, "the missed one is still owed"
    again = booked("course", "rebook", str(second))
    assert again.returncode == 5
    assert again.stderr.strip() == (
        f"error: appointment {second} was already rebooked as appointment {new['id']}"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["1"],
            5,
            "error: appointment 1 is booked; only a missed or cancelled appointment is rebooked",
        ),
        (["999"], 4, "error: appointment 999 does not exist"),
        (["2", "--not-before", "2020-01-01"], 2, "not_before: must not be in the past"),
        (["2", "--not-before", "soon"], 2, "--not-before: must be a date like 2030-01-31"),
        (["2", "--practitioner", "Dr. Nobody"], 2, "practitioner"),
    ],
)
def test_rebook_exit_codes(booked: Runner, args: list[str], code: int, message: str) -> None:
    assert booked("course", "missed", "2", env=AFTER_SECOND).returncode == 0
    before = booked("course", "show", "1", "--json").stdout
    res = booked("course", "rebook", *args)
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert booked("course", "show", "1", "--json").stdout == before


def test_rebook_that_cannot_fit_exits_6_naming_the_session_and_why(
    booked: Runner, tmp_path: Path
) -> None:
    import needleplan.scheduling

    example = Path(needleplan.scheduling.__file__).with_name("example_clinic.toml").read_text()
    closed = example.replace(
        "[[practitioners]]",
        '[[closures]]\nstart = 2030-10-08\nend = 2031-12-31\nreason = "rebuilding"\n\n'
        "[[practitioners]]",
        1,
    )
    (tmp_path / "closed.toml").write_text(closed)
    assert booked("course", "missed", "2", env=AFTER_SECOND).returncode == 0
    before = booked("course", "show", "1", "--json").stdout
    res = booked("course", "rebook", "2", "--clinic", str(tmp_path / "closed.toml"))
    assert res.returncode == 6, res.stderr
    line = res.stderr.strip()
    assert line.startswith("error: session 2: no free slot")
    assert "rebuilding" in line
    assert "nothing free within 180 days after the window" in line
    assert booked("course", "show", "1", "--json").stdout == before


def test_skip_bad_reports_a_huge_field_and_imports_the_rows_after_it(
    cli: Runner, tmp_path: Path
) -> None:
    """Issue 17, M7: a field over 10,000 characters is one bad row, not the end of the file."""
    src = tmp_path / "patients.csv"
    src.write_text(
        "given_name,family_name,birth_date\n"
        f"Anna,{'x' * 20_000},1970-01-02\n"
        "Bea,Bloom,1980-01-01\n"
        "Cara,,1980-01-01\n"
        "Dee,Dunn,1980-01-01\n"
    )
    res = cli("import", "patients", str(src), "--skip-bad")
    assert res.returncode == 0, res.stderr
    assert "imported 2 patients" in res.stdout
    assert "skipped line 2: family_name" in res.stdout
    assert "skipped line 4: family_name" in res.stdout
    assert "2 rows skipped" in res.stdout


def test_course_missed_and_session_record_keep_the_visit_timing_rules(booked: Runner) -> None:
    """No no-show before the start and no chart before the visit opens (the clinic's check-in
    window) or dated in the future; the clock is ``NEEDLEPLAN_NOW``. Refusals change nothing."""
    before = booked("course", "show", "1", "--json").stdout
    early = booked("course", "missed", "2", env={"NEEDLEPLAN_NOW": "2030-10-07T09:59+02:00"})
    assert early.returncode == 2
    assert early.stderr.startswith("error: start: appointment 2 cannot be marked a no-show")
    assert len(early.stderr.strip().splitlines()) == 1
    chart = ("session", "record", "1", "--area", "full_face", "--depth", "full_face=1.5",
             "--device", "Dermapen", "--passes", "3")  # fmt: skip
    too_soon = booked(*chart, env={"NEEDLEPLAN_NOW": "2030-09-01T12:00+02:00"})
    assert too_soon.returncode == 2
    assert "cannot be charted before" in too_soon.stderr
    future = booked(*chart, "--at", "2030-09-03T10:00+02:00",
                    env={"NEEDLEPLAN_NOW": "2030-09-02T12:00+02:00"})  # fmt: skip
    assert future.returncode == 2
    assert "performed_at: must not be in the future" in future.stderr
    assert booked("course", "show", "1", "--json").stdout == before
    assert booked("course", "missed", "2", env=AFTER_SECOND).returncode == 0
    assert booked(*chart, env={"NEEDLEPLAN_NOW": "2030-09-02T12:00+02:00"}).returncode == 0
    shown = json.loads(booked("course", "show", "1", "--json").stdout)
    assert [a["status"] for a in shown["appointments"][:2]] == ["performed", "missed"]


def test_a_malformed_clock_setting_is_refused_in_one_line(booked: Runner) -> None:
    res = booked("course", "missed", "2", env={"NEEDLEPLAN_NOW": "next tuesday"})
    assert res.returncode == 2
    assert "NEEDLEPLAN_NOW: must be an ISO 8601 date-time" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_session_record_needs_a_signed_treatment_consent(booked: Runner, tmp_path: Path) -> None:
    """The CLI charting path refuses without a current treatment consent (exit 5, one line
    saying why); ``consent withdraw``/``sign``/``list``/``download`` work through the CLI."""
    listed = json.loads(booked("consent", "list", "P000001", "--json").stdout)
    assert [(f["kind"], f["standing"]) for f in listed] == [("treatment", "current")]
    out = booked("consent", "download", "P000001", str(listed[0]["id"]), "--out", "form.pdf")
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256((tmp_path / "form.pdf").read_bytes()).hexdigest() == listed[0]["sha256"]
    gone = booked("consent", "withdraw", "P000001", str(listed[0]["id"]), "--reason", "by phone")
    assert gone.returncode == 0, gone.stderr
    chart = booked(
        "session", "record", "1", "--area", "full_face", "--depth", "full_face=1.5",
        "--device", "Dermapen", "--passes", "3", env={"NEEDLEPLAN_NOW": "2030-09-02T12:00+02:00"},
    )  # fmt: skip
    assert chart.returncode == 5, chart.stderr
    assert chart.stderr.startswith("error: patient 1 withdrew her treatment consent")
    assert len(chart.stderr.strip().splitlines()) == 1
    blank = booked("consent", "sign", "P000001", "--signature", "form.pdf")
    assert blank.returncode == 2
    assert "signature: must be a PNG image" in blank.stderr

"""``needleplan schedule`` through the real entry point: table, JSON, .ics, exit codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import icalendar

from needleplan.scheduling.recall import add_months
from tests.cli.conftest import Runner
from tests.strategies import REFERENCE


def _assessment(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "assessment.json"
    path.write_text(json.dumps({**REFERENCE, **changes}), encoding="utf-8")
    return path


def test_json_lists_sessions_recall_and_warnings_with_the_bundled_clinic(
    cli: Runner, tmp_path: Path
) -> None:
    res = cli("schedule", "--from", str(_assessment(tmp_path)), "--start", "2027-01-11", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    sessions = out["sessions"]
    assert len(sessions) == 5
    assert sessions[0] == {
        "number": 1,
        "start": "2027-01-11T10:00:00+01:00",
        "end": "2027-01-11T11:00:00+01:00",
        "practitioner": "Dr. Lena Vogel",
        "sequence": 0,
        "window": None,
    }
    assert sessions[3]["start"].endswith("+02:00")  # after the spring DST change
    last = date.fromisoformat(sessions[-1]["start"][:10])
    due = date.fromisoformat(out["maintenance_due"])
    assert add_months(last, 6) <= due <= add_months(last, 12)
    assert out["maintenance"]["reason"]
    assert out["warnings"] == []


def test_a_heavier_risk_profile_is_recalled_no_later(cli: Runner, tmp_path: Path) -> None:
    """Smoking, heavy sun and poor aftercare shorten her forecast, so the recall is no later."""
    ref = cli("schedule", "--from", str(_assessment(tmp_path)), "--start", "2027-01-11", "--json")
    risky_file = tmp_path / "risky.json"
    risky_file.write_text(
        json.dumps(
            {
                **REFERENCE,
                "smoking": "current",
                "sun_exposure": "high",
                "spf_habit": False,
                "aftercare": "poor",
            }
        ),
        encoding="utf-8",
    )
    risky = cli("schedule", "--from", str(risky_file), "--start", "2027-01-11", "--json")
    a, b = json.loads(ref.stdout), json.loads(risky.stdout)
    gap_a = date.fromisoformat(a["maintenance_due"]) - date.fromisoformat(
        a["sessions"][-1]["start"][:10]
    )
    gap_b = date.fromisoformat(b["maintenance_due"]) - date.fromisoformat(
        b["sessions"][-1]["start"][:10]
    )
    assert gap_b <= gap_a


def test_table_shows_weekday_time_practitioner_recall_and_disclaimer(
    cli: Runner, tmp_path: Path
) -> None:
    res = cli("schedule", "--from", str(_assessment(tmp_path)), "--start", "2027-01-11")
    assert res.returncode == 0, res.stderr
    assert "Monday" in res.stdout
    assert "10:00-11:00" in res.stdout
    assert "Dr. Lena Vogel" in res.stdout
    assert "maintenance due:" in res.stdout
    assert "decision support" in res.stdout


def test_ics_file_parses_and_a_second_export_keeps_the_uids(cli: Runner, tmp_path: Path) -> None:
    src = _assessment(tmp_path)
    first, second = tmp_path / "a.ics", tmp_path / "b.ics"
    for target in (first, second):
        res = cli("schedule", "--from", str(src), "--start", "2027-01-11", "--ics", str(target))
        assert res.returncode == 0, res.stderr
    cal_a = icalendar.Calendar.from_ical(first.read_bytes())
    cal_b = icalendar.Calendar.from_ical(second.read_bytes())
    uids_a = [str(e["UID"]) for e in cal_a.walk("VEVENT")]
    assert len(uids_a) == 5
    assert uids_a == [str(e["UID"]) for e in cal_b.walk("VEVENT")]
    assert len(cal_a.walk("VTODO")) == 1
    assert "diabetes" not in first.read_text(encoding="utf-8")


def test_named_practitioner_and_custom_clinic(cli: Runner, tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.toml"
    clinic.write_text(
        'name = "Small"\ntimezone = "America/New_York"\n'
        '[opening_hours]\ntuesday = ["08:00-12:00"]\nthursday = ["08:00-12:00"]\n'
        '[[practitioners]]\nname = "Kim"\n[[practitioners]]\nname = "Lee"\n',
        encoding="utf-8",
    )
    res = cli(
        "schedule",
        "--from",
        str(_assessment(tmp_path)),
        "--start",
        "2027-01-11",
        "--clinic",
        str(clinic),
        "--practitioner",
        "Lee",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert {s["practitioner"] for s in out["sessions"]} == {"Lee"}
    assert out["sessions"][0]["start"] == "2027-01-12T10:00:00-05:00"
    assert "session 1 starts on Tue 2027-01-12" in out["warnings"][0]


def test_bad_clinic_file_exits_2_naming_file_key_and_rule(cli: Runner, tmp_path: Path) -> None:
    clinic = tmp_path / "bad.toml"
    clinic.write_text(
        'name = "X"\ntimezone = "Europe/Nowhere"\n[opening_hours]\nmonday = ["09:00-17:00"]\n'
        '[[practitioners]]\nname = "A"\n',
        encoding="utf-8",
    )
    res = cli(
        "schedule",
        "--from",
        str(_assessment(tmp_path)),
        "--start",
        "2027-01-11",
        "--clinic",
        str(clinic),
    )
    assert res.returncode == 2
    assert str(clinic) in res.stderr
    assert "timezone" in res.stderr
    assert "IANA" in res.stderr
    assert "Traceback" not in res.stderr


def test_blocked_plan_exits_3(cli: Runner, tmp_path: Path) -> None:
    src = _assessment(tmp_path, contraindications=["pregnancy"])
    res = cli("schedule", "--from", str(src), "--start", "2027-01-11")
    assert res.returncode == 3
    assert "blocked" in res.stderr


def test_infeasible_course_exits_6_with_one_line_naming_the_session(
    cli: Runner, tmp_path: Path
) -> None:
    clinic = tmp_path / "closed.toml"
    clinic.write_text(
        'name = "Closing"\ntimezone = "Europe/Berlin"\nfirst_session_search_days = 0\n'
        '[opening_hours]\nmonday = ["09:00-17:00"]\n[[practitioners]]\nname = "A"\n'
        '[[closures]]\nstart = 2027-02-01\nend = 2027-04-30\nreason = "renovation"\n',
        encoding="utf-8",
    )
    res = cli(
        "schedule",
        "--from",
        str(_assessment(tmp_path)),
        "--start",
        "2027-01-11",
        "--clinic",
        str(clinic),
    )
    assert res.returncode == 6
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: session 2: no free slot")
    assert "clinic closure (renovation)" in lines[0]
    assert "nearest feasible: Mon 2027-05-03" in lines[0]


def test_bad_start_and_unknown_practitioner_exit_2(cli: Runner, tmp_path: Path) -> None:
    src = str(_assessment(tmp_path))
    res = cli("schedule", "--from", src, "--start", "11/01/2027")
    assert res.returncode == 2
    assert "--start" in res.stderr
    res = cli("schedule", "--from", src, "--start", "2027-01-11", "--practitioner", "Nobody")
    assert res.returncode == 2
    assert "practitioner" in res.stderr

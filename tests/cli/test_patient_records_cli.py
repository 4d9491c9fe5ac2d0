"""``needleplan patient add`` refusing a likely duplicate (exit 5 naming the record) unless
``--confirm-duplicate``, ``patient edit`` with consent history, ``patient merge``, and
``measure add`` refusing a measurement dated in the future."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from needleplan import services
from needleplan.storage import Database

from .test_records_cli import Runner, cli

__all__ = ["cli"]

JANE = ("--given-name", "Jane", "--family-name", "Doe", "--birth-date", "1976-04-02")


def _add(cli: Runner, *extra: str) -> int:
    res = cli("patient", "add", *JANE, "--json", *extra)
    assert res.returncode == 0, res.stderr
    return int(json.loads(res.stdout)["id"])


def test_add_refuses_a_likely_duplicate_with_exit_5_naming_the_record(cli: Runner) -> None:
    first = _add(cli, "--phone", "+49 30 1234567")
    again = cli("patient", "add", *JANE)
    assert again.returncode == 5
    assert f"patient {first} (record P000001)" in again.stderr
    assert "same name and date of birth" in again.stderr
    other = ("--given-name", "Ann", "--family-name", "X", "--birth-date", "1980-01-01")
    by_phone = cli("patient", "add", *other, "--phone", "+49 (30) 123-4567")
    assert by_phone.returncode == 5
    assert "same phone" in by_phone.stderr
    listed = json.loads(cli("patient", "list", "--json").stdout)
    assert len(listed) == 1
    db = Database.open(os.environ["NEEDLEPLAN_DATABASE_URL"])
    try:  # the list's audit event names the patients it showed (L3)
        lists, _ = services.search_audit(db, action="patient.list", patient_id=first)
        assert [e.detail for e in lists] == [f"cli results=1 patients={first}"]
    finally:
        db.dispose()


def test_confirm_duplicate_registers_and_audits_it(cli: Runner) -> None:
    first = _add(cli)
    second = _add(cli, "--confirm-duplicate")
    assert second != first
    db = Database.open(os.environ["NEEDLEPLAN_DATABASE_URL"])
    try:
        (event,) = services.audit_log(db, patient_id=second)
        assert f"duplicate_confirmed={first}" in event.detail
    finally:
        db.dispose()


def test_edit_changes_only_the_options_given_and_keeps_consent_history(cli: Runner) -> None:
    pid = _add(cli, "--email", "jane@example.org", "--consent-contact")
    res = cli(
        "patient",
        "edit",
        str(pid),
        "--phone",
        "+44 20 7000 0000",
        "--no-consent-contact",
        "--email",
        "",
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(cli("patient", "show", str(pid), "--json").stdout)
    assert shown["patient"]["phone"] == "+442070000000"
    assert shown["patient"]["email"] is None
    assert shown["patient"]["family_name"] == "Doe"
    assert [(c["consent"], c["granted"]) for c in shown["consents"]] == [
        ("contact", False),
        ("contact", True),
    ]
    text = cli("patient", "show", str(pid)).stdout
    assert "contact consent withdrawn by" in text


def test_edit_refuses_bad_input_and_no_options(cli: Runner) -> None:
    pid = _add(cli)
    bad = cli("patient", "edit", str(pid), "--email", "nope")
    assert bad.returncode == 2
    assert "email" in bad.stderr
    nothing = cli("patient", "edit", str(pid))
    assert nothing.returncode == 2
    missing = cli("patient", "edit", "P404", "--phone", "+44 20 7000 0000")
    assert missing.returncode == 4


def test_merge_moves_the_records_and_refuses_two_open_courses(cli: Runner, tmp_path: Path) -> None:
    keep = _add(cli, "--consent-treatment")
    dup = _add(cli, "--confirm-duplicate", "--phone", "+44 20 7946 0018")
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert (
        cli("measure", "add", str(dup), "--scale", "gais", "--value", "2", "--at", past).returncode
        == 0
    )
    res = cli("patient", "merge", str(keep), str(dup), "--yes")
    assert res.returncode == 0, res.stderr
    assert f"merged patient {dup} into {keep}" in res.stdout
    assert "1 measurements" in res.stdout
    shown = json.loads(cli("patient", "show", str(keep), "--json").stdout)
    assert len(shown["measurements"]) == 1
    assert shown["patient"]["phone"] == "+442079460018"
    assert cli("patient", "show", str(dup)).returncode == 4
    # Two open courses: refused with exit 5, nothing moves.
    other = _add(cli, "--confirm-duplicate", "--consent-treatment")
    today = datetime.now(UTC).date()
    age = today.year - 1976 - int((today.month, today.day) < (4, 2))
    assessment = {"age": age, "severity": "moderate", "areas": ["full_face"]}
    (tmp_path / "a.json").write_text(json.dumps(assessment))
    for pid in (keep, other):
        assert cli("patient", "assess", str(pid), "--from", "a.json").returncode == 0
        booked = cli(
            "course", "book", str(pid), "--start", "2030-09-02" if pid == keep else "2030-10-07"
        )
        assert booked.returncode == 0, booked.stderr
    refused = cli("patient", "merge", str(keep), str(other), "--yes")
    assert refused.returncode == 5
    assert "both records have an open course" in refused.stderr


def test_measure_add_refuses_the_future(cli: Runner) -> None:
    pid = _add(cli)
    ahead = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    res = cli("measure", "add", str(pid), "--scale", "gais", "--value", "2", "--at", ahead)
    assert res.returncode == 2
    assert "measured_at" in res.stderr
    assert "cannot be dated in the future" in res.stderr

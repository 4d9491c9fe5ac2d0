"""``needleplan webhook add | list | remove | log`` through the real entry point, delivering to a
loopback receiver that checks the signature."""

from __future__ import annotations

import json
from pathlib import Path

from needleplan import services
from needleplan.services.audit import audited
from needleplan.storage import Database
from tests.webhook_support import SECRET, Receiver, webhook_receiver

from .conftest import Runner

__all__ = ["webhook_receiver"]


def test_add_list_log_and_remove(cli: Runner, tmp_path: Path, webhook_receiver: Receiver) -> None:
    added = cli(
        "webhook", "add", webhook_receiver.url, "--event", "patient.created", "--secret", SECRET
    )
    assert added.returncode == 0, added.stderr
    assert "webhook 1:" in added.stdout
    assert f"secret: {SECRET}" in added.stdout
    listed = json.loads(cli("webhook", "list", "--json").stdout)
    assert listed[0]["url"] == webhook_receiver.url
    assert listed[0]["events"] == ["patient.created"]
    assert listed[0]["secret"] == "…" + SECRET[-4:]
    db = Database.open(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    try:
        with audited(db, None, "patient.create") as note:
            patient = services.register_patient(
                db,
                {
                    "given_name": "Ida",
                    "family_name": "Test",
                    "birth_date": "1970-02-03",
                    "consent_treatment": True,
                },
            )
            note.patient_id = patient.id
    finally:
        db.dispose()
    sent = cli("worker", "--once", "--now", "2030-08-20T10:00+02:00")
    assert sent.returncode == 0, sent.stderr
    (got,) = webhook_receiver.received
    assert got["signed"]
    assert got["body"]["patient_id"] == patient.id
    log = cli("webhook", "log", "1")
    assert "patient.created  sent  HTTP 200  attempts 1" in log.stdout
    assert json.loads(cli("webhook", "log", "1", "--json").stdout)[0]["status_code"] == 200
    removed = cli("webhook", "remove", "1")
    assert removed.returncode == 0
    assert cli("webhook", "list").stdout.strip() == "no webhook endpoints"
    assert "removed" in cli("webhook", "list", "--removed").stdout


def test_a_bad_url_or_event_exits_2_naming_the_field(cli: Runner) -> None:
    bad = cli("webhook", "add", "ftp://example.org/x", "--event", "patient.created")
    assert bad.returncode == 2
    assert "url" in bad.stderr
    assert "http:// or https://" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = cli("webhook", "add", "https://example.org/x", "--event", "patient.deleted")
    assert wrong.returncode == 2
    assert "events" in wrong.stderr
    unknown = cli("webhook", "log", "7")
    assert unknown.returncode != 0
    assert "webhook endpoint 7 not found" in unknown.stderr

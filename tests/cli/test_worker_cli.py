"""``needleplan worker --once --now``: the real entry point delivers what is due, over SMTP."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.scheduling import example_clinic
from needleplan.storage import Database
from tests.cli_support import Runner
from tests.messaging_support import MailSink, smtp_server

__all__ = ["smtp_server"]


def test_worker_once_at_a_given_time_sends_one_reminder(
    cli: Runner, tmp_path: Path, smtp_server: MailSink
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    db = Database.open(url)
    try:
        patient = services.register_patient(
            db,
            {
                "given_name": "Rita",
                "family_name": "Reminder",
                "birth_date": "1976-04-02",
                "email": "rita@example.org",
                "consent_treatment": True,
            },
        )
        services.record_assessment(db, patient.id, reference_assessment())
        planned = services.plan_and_book_course(db, patient.id, date(2030, 9, 2), example_clinic())
    finally:
        db.dispose()
    first = planned.booking.appointments[0]
    env = {
        "NEEDLEPLAN_DATABASE_URL": url,
        "NEEDLEPLAN_SMTP_URL": smtp_server.url,
        "NEEDLEPLAN_MAIL_FROM": "desk@clinic.example",
    }
    at = (first.start - timedelta(hours=47)).isoformat()
    result = cli("worker", "--once", "--now", at, env=env)
    assert result.returncode == 0, result.stderr
    assert "planned 1, sent 2" in result.stdout  # the confirmation and one reminder
    subjects = smtp_server.subjects()
    assert sum(s.startswith("Reminder") for s in subjects) == 1
    again = cli("worker", "--once", "--now", at, env=env)
    assert again.returncode == 0, again.stderr
    assert "planned 0, sent 0" in again.stdout
    assert len(smtp_server.messages) == 2


def test_worker_refuses_a_time_without_offset(cli: Runner) -> None:
    result = cli("worker", "--once", "--now", "2030-08-20T10:00")
    assert result.returncode != 0
    assert "--now" in result.stderr
    assert "UTC offset" in result.stderr


def test_worker_refuses_a_bad_smtp_url(cli: Runner) -> None:
    result = cli("worker", "--once", env={"NEEDLEPLAN_SMTP_URL": "http://mail.example"})
    assert result.returncode != 0
    assert "NEEDLEPLAN_SMTP_URL" in result.stderr


def test_serve_with_worker_runs_the_worker_loop_in_a_thread(
    tmp_path: Path, smtp_server: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --with-worker`` starts this loop beside the web app; a contact request queued in
    the database is acknowledged without any `worker` command, and stopping joins the thread."""
    from needleplan.cli.serve import start_message_worker
    from needleplan.domain.records import Lead

    monkeypatch.setenv("NEEDLEPLAN_SMTP_URL", smtp_server.url)
    db = Database.open(f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    arrived = threading.Event()
    original = smtp_server.handle_DATA

    async def note(server: object, session: object, envelope: object) -> str:
        answer = await original(server, session, envelope)
        arrived.set()
        return answer

    monkeypatch.setattr(smtp_server, "handle_DATA", note)
    try:
        services.add_lead(
            db,
            Lead("srv001", "Sam Serve", "sam@example.org", "", "", "", "yes", datetime.now(UTC)),
        )
        stop = start_message_worker(db)
        try:
            assert arrived.wait(timeout=60)
        finally:
            stop()
        assert [m["To"] for m in smtp_server.messages] == ["sam@example.org"]
        assert not any(t.name == "needleplan-message-worker" for t in threading.enumerate())
    finally:
        db.dispose()

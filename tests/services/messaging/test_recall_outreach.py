"""Recall outreach: on the due day, a nudge later, consent and one-click unsubscribe."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from needleplan import services
from needleplan.domain.messages import MessageKind, MessageStatus
from needleplan.domain.records import ContactChannel, RecallStatus
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.log import message_log, unsubscribe
from needleplan.services.messaging.worker import in_quiet_hours, quiet_hours_end, run_once
from tests.messaging_support import MailSink

DUE = date(2030, 3, 4)
DUE_MORNING = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


def cfg(sink: MailSink) -> MessagingConfig:
    return MessagingConfig(smtp_url=sink.url, public_url="https://clinic.example")


def test_recall_message_on_the_due_day_then_one_nudge_recorded_on_the_entry(
    clinic: Any, smtp_server: MailSink
) -> None:
    entry = services.add_recall(clinic.db, clinic.patient.id, DUE)
    the_day_before = DUE_MORNING - timedelta(days=1)
    assert (
        run_once(clinic.db, example_clinic(), now=the_day_before, config=cfg(smtp_server)).planned
        == 0
    )
    first = run_once(clinic.db, example_clinic(), now=DUE_MORNING, config=cfg(smtp_server))
    assert (first.planned, first.sent) == (1, 1)
    (mail,) = smtp_server.messages
    assert mail["Subject"].startswith("Time for your maintenance")
    link = mail["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("https://clinic.example/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert link in body.get_content()
    # Nothing more until the nudge is due (14 days by default), then exactly one nudge.
    assert (
        run_once(
            clinic.db,
            example_clinic(),
            now=DUE_MORNING + timedelta(days=13),
            config=cfg(smtp_server),
        ).sent
        == 0
    )
    nudge = run_once(
        clinic.db, example_clinic(), now=DUE_MORNING + timedelta(days=14), config=cfg(smtp_server)
    )
    assert nudge.sent == 1
    assert (
        run_once(
            clinic.db,
            example_clinic(),
            now=DUE_MORNING + timedelta(days=40),
            config=cfg(smtp_server),
        ).sent
        == 0
    )
    recorded = services.recall_entry(clinic.db, entry.id)
    assert [(a.channel, a.note) for a in recorded.attempts] == [
        (ContactChannel.EMAIL, f"{m.kind.value} message {m.id} sent")
        for m in sorted(
            (m for m in message_log(clinic.db, None, clinic.patient.id) if m.recall_id),
            key=lambda m: m.id,
        )
    ]
    kinds = sorted(m.kind for m in message_log(clinic.db, None, clinic.patient.id))
    assert kinds == [MessageKind.RECALL, MessageKind.RECALL_NUDGE]


def test_unsubscribe_link_opts_her_out_and_nothing_more_is_sent(
    clinic: Any, smtp_server: MailSink
) -> None:
    entry = services.add_recall(clinic.db, clinic.patient.id, DUE)
    run_once(clinic.db, example_clinic(), now=DUE_MORNING, config=cfg(smtp_server))
    secret = urlsplit(smtp_server.messages[0]["List-Unsubscribe"].strip().strip("<>")).path.rsplit(
        "/", 1
    )[1]
    assert unsubscribe(clinic.db, secret, now=DUE_MORNING) is True
    assert (
        unsubscribe(clinic.db, secret, now=DUE_MORNING) is False
    )  # a second click changes nothing
    assert services.recall_entry(clinic.db, entry.id).status is RecallStatus.OPTED_OUT
    # A later recall entry (next course) gets no message either; the log says why.
    services.add_recall(clinic.db, clinic.patient.id, DUE + timedelta(days=200))
    later = DUE_MORNING + timedelta(days=200)
    report = run_once(clinic.db, example_clinic(), now=later, config=cfg(smtp_server))
    assert report.sent == 0
    assert len(smtp_server.messages) == 1
    newest = message_log(clinic.db, None, clinic.patient.id)[0]
    assert newest.status is MessageStatus.SKIPPED
    assert newest.last_error.startswith("opted out of recall messages on 2030-03-04")
    audit = services.audit_log(clinic.db, patient_id=clinic.patient.id)
    assert "message.unsubscribe" in [e.action for e in audit]


def test_no_recall_message_without_contact_consent(clinic: Any, smtp_server: MailSink) -> None:
    quiet = services.register_patient(
        clinic.db,
        {
            "given_name": "Quinn",
            "family_name": "Quiet",
            "birth_date": "1970-01-01",
            "email": "quinn@example.org",
            "consent_contact": False,
        },
    )
    services.add_recall(clinic.db, quiet.id, DUE)
    report = run_once(clinic.db, example_clinic(), now=DUE_MORNING, config=cfg(smtp_server))
    assert (report.planned, report.sent, report.skipped) == (1, 0, 1)
    assert smtp_server.messages == []
    (logged,) = message_log(clinic.db, None, quiet.id)
    assert logged.last_error == "no contact consent: recall messages need her consent"


def test_quiet_hours_defer_outreach_to_the_morning(clinic: Any, smtp_server: MailSink) -> None:
    services.add_recall(clinic.db, clinic.patient.id, DUE)
    late = datetime(2030, 3, 4, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    berlin = example_clinic()
    assert in_quiet_hours(late, berlin)
    report = run_once(clinic.db, berlin, now=late, config=cfg(smtp_server))
    assert (report.planned, report.sent, report.deferred) == (1, 0, 1)
    (waiting,) = message_log(clinic.db, None, clinic.patient.id)
    assert waiting.due_at == quiet_hours_end(late, berlin) == datetime(2030, 3, 5, 7, 0, tzinfo=UTC)
    assert run_once(clinic.db, berlin, now=waiting.due_at, config=cfg(smtp_server)).sent == 1

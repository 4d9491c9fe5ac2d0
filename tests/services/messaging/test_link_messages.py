"""The intake and consent links by message: queued with the staff action's audit event in one
transaction, written in her language, the link issued by the worker when it sends (the stored
message holds none) and opening exactly her form; no message for a patient nobody can reach."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.domain.portal import LinkPurpose
from needleplan.exceptions import StateError
from needleplan.scheduling import example_clinic
from needleplan.services import link_messages
from needleplan.services.consent_links import open_consent_link
from needleplan.services.messaging import worker
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.portal_links import resolve_link
from tests.consent_support import SIGNING_DESK

CONFIG = MessagingConfig(
    smtp_url="smtp://127.0.0.1:18399",
    mail_from="desk@clinic.example",
    public_url="https://c.example",
)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[EmailMessage]:
    """What the worker hands to SMTP (captured; nothing leaves the process)."""
    box: list[EmailMessage] = []
    monkeypatch.setattr(worker, "send_email", lambda message, config: box.append(message))
    return box


def _outbox(db: Any, patient_id: int) -> list[Any]:
    with db.transaction() as uow:
        return list(uow.outbox.for_patient(patient_id))


def _text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_consent_link_goes_out_in_her_language_and_opens_her_form(
    clinic: Any, sent: list[EmailMessage]
) -> None:
    db, pid = clinic.db, clinic.patient.id
    services.update_patient(db, pid, {"language": "de"})
    link_messages.send_consent_link(db, SIGNING_DESK, pid, "photo")
    (queued,) = _outbox(db, pid)
    assert queued.kind is MessageKind.CONSENT_LINK
    assert queued.payload == {"consent_kind": "photo"}
    events = [e for e in services.audit_log(db, patient_id=pid) if e.action == "portal.link.send"]
    assert [e.detail.split(" user=")[0] for e in events] == ["consent kind=photo"]

    worker.run_once(db, example_clinic(), now=queued.created_at, config=CONFIG)
    (mail,) = sent
    assert str(mail["To"]) == "jane@example.org"
    assert "Foto-Einwilligung zum Unterschreiben" in str(mail["Subject"])
    text = _text(mail)
    assert text.startswith("Guten Tag Jane,") or "Jane" in text.splitlines()[0]
    assert "Dear" not in text
    match = re.search(r"https://c\.example/p/([A-Za-z0-9_-]{43})/consent", text)
    assert match, text
    (stored,) = _outbox(db, pid)
    assert match.group(1) not in (stored.body_text or "")  # only its digest is kept
    assert "[[consent-link]]" in (stored.body_text or "")
    actor = resolve_link(db, match.group(1), LinkPurpose.CONSENT)
    page = open_consent_link(db, actor)
    assert page.kind.value == "photo"
    assert page.patient.id == pid


def test_the_intake_link_goes_out_and_opens_her_questionnaire(
    clinic: Any, sent: list[EmailMessage]
) -> None:
    db, pid = clinic.db, clinic.patient.id
    link_messages.send_intake_link(db, SIGNING_DESK, pid)
    (queued,) = _outbox(db, pid)
    assert queued.kind is MessageKind.INTAKE_LINK
    worker.run_once(
        db, example_clinic(), now=queued.created_at + timedelta(minutes=1), config=CONFIG
    )
    (mail,) = sent
    assert "questionnaire" in str(mail["Subject"])
    match = re.search(r"https://c\.example/p/([A-Za-z0-9_-]{43})/intake", _text(mail))
    assert match
    actor = resolve_link(db, match.group(1), LinkPurpose.INTAKE)
    assert actor.patient_id == pid
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert f"/p/{match.group(1)}/intake" in str(html.get_content())


def test_nobody_to_reach_or_a_bad_kind_queues_nothing(clinic: Any) -> None:
    from needleplan.exceptions import InputError

    db, pid = clinic.db, clinic.patient.id
    services.update_patient(db, pid, {"email": ""})
    with pytest.raises(StateError, match="no e-mail address or phone number"):
        link_messages.send_intake_link(db, SIGNING_DESK, pid)
    with pytest.raises(StateError):
        link_messages.send_consent_link(db, SIGNING_DESK, pid, "treatment")
    services.update_patient(db, pid, {"email": "jane@example.org"})
    with pytest.raises(InputError, match="kind"):
        link_messages.send_consent_link(db, SIGNING_DESK, pid, "tattoo")
    assert _outbox(db, pid) == []
    assert not [e for e in services.audit_log(db, patient_id=pid) if e.action == "portal.link.send"]

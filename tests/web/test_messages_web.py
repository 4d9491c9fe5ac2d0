"""The message log on the patient page, resend, and the public one-click unsubscribe."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from needleplan import services
from needleplan.domain.messages import MessageStatus
from needleplan.domain.records import RecallStatus
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.log import message_log
from needleplan.services.messaging.worker import run_once
from tests.messaging_support import MailSink, smtp_server

from . import booking_support
from .booking_support import Clinic, signed_in
from .conftest import TestClient

backend = booking_support.backend
site = booking_support.site
web = booking_support.web
__all__ = ["smtp_server"]

DUE_MORNING = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def test_log_shows_sent_and_skipped_with_the_reason_and_resend_is_audited(
    web: TestClient, site: Clinic, smtp_server: MailSink
) -> None:
    mia = site.patient("Mia", "Mail", email="mia@example.org", consent_contact=True)
    quiet = site.patient("Quinn", "Quiet", email="quinn@example.org", consent_contact=False)
    for p in (mia, quiet):
        services.add_recall(site.db, p.id, date(2030, 3, 4))
    cfg = MessagingConfig(smtp_url=smtp_server.url)
    run_once(site.db, site.clinic, now=DUE_MORNING, config=cfg)
    token = signed_in(web, "desk")
    assert f'href="/app/patients/{mia.id}/messages"' in web.get(f"/app/patients/{mia.id}").text
    page = web.get(f"/app/patients/{quiet.id}/messages")
    assert page.status_code == 200
    assert 'data-status="skipped"' in page.text
    assert "no contact consent" in page.text
    sent_page = web.get(f"/app/patients/{mia.id}/messages").text
    assert 'data-status="sent"' in sent_page
    (first,) = message_log(site.db, None, mia.id)
    resend = web.post(
        f"/app/messages/{first.id}/resend", data={"csrf_token": token}, follow_redirects=False
    )
    assert resend.status_code == 303
    log = message_log(site.db, None, mia.id)
    assert [m.status for m in log] == [MessageStatus.QUEUED, MessageStatus.SENT]
    assert log[0].resent_from == first.id
    actions = [e.action for e in services.audit_log(site.db, patient_id=mia.id)]
    assert "message.resend" in actions
    assert "message.read" in actions
    run_once(site.db, site.clinic, now=DUE_MORNING, config=cfg)
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[0]["Message-ID"] != smtp_server.messages[1]["Message-ID"]


def test_resend_needs_a_signed_in_user_and_a_form_token(web: TestClient, site: Clinic) -> None:
    mia = site.patient("Mia", "Mail", email="mia@example.org")
    services.add_recall(site.db, mia.id, date(2030, 3, 4))
    run_once(site.db, site.clinic, now=DUE_MORNING, config=MessagingConfig())
    (skipped,) = message_log(site.db, None, mia.id)
    anonymous = web.post(f"/app/messages/{skipped.id}/resend", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    signed_in(web, "desk")
    forged = web.post(f"/app/messages/{skipped.id}/resend", follow_redirects=False)
    assert forged.status_code == 403
    assert len(message_log(site.db, None, mia.id)) == 1


def test_one_click_unsubscribe_from_the_mail(
    web: TestClient, site: Clinic, smtp_server: MailSink
) -> None:
    mia = site.patient("Mia", "Mail", email="mia@example.org", consent_contact=True)
    entry = services.add_recall(site.db, mia.id, date(2030, 3, 4))
    run_once(
        site.db, site.clinic, now=DUE_MORNING, config=MessagingConfig(smtp_url=smtp_server.url)
    )
    link = str(smtp_server.messages[0]["List-Unsubscribe"]).strip().strip("<>")
    path = urlsplit(link).path
    ask = web.get(path)
    assert ask.status_code == 200
    assert "Unsubscribe" in ask.text
    assert (
        services.recall_entry(site.db, entry.id).status is RecallStatus.OPEN
    )  # GET changes nothing
    done = web.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert services.recall_entry(site.db, entry.id).status is RecallStatus.OPTED_OUT
    unknown = web.get("/unsubscribe/not-a-real-token")
    assert unknown.status_code == 404
    assert "not known" in unknown.text
    assert "Traceback" not in unknown.text


def test_a_german_recall_links_to_a_german_unsubscribe_page(
    web: TestClient, site: Clinic, smtp_server: MailSink
) -> None:
    """The clinic writes in German: the recall, its due date and the unsubscribe page too."""
    german = site.clinic.model_copy(update={"default_language": "de"})
    mia = site.patient("Mia", "Mail", email="mia@example.org", consent_contact=True)
    entry = services.add_recall(site.db, mia.id, date(2030, 3, 4))
    run_once(site.db, german, now=DUE_MORNING, config=MessagingConfig(smtp_url=smtp_server.url))
    (mail,) = smtp_server.messages
    assert mail["Subject"].startswith("Zeit für Ihre Auffrischungsbehandlung bei")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Guten Tag Mia," in text
    assert "etwa ab dem 4. März 2030 nach" in text
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert link.endswith("?lang=de")
    parts = urlsplit(link)
    ask = web.get(f"{parts.path}?{parts.query}")
    assert ask.status_code == 200
    assert "Keine Erinnerungen an Auffrischungen mehr?" in ask.text
    assert f'action="{parts.path}?lang=de"' in ask.text
    done = web.post(f"{parts.path}?{parts.query}", data={"List-Unsubscribe": "One-Click"})
    assert "Sie sind abgemeldet" in done.text
    assert services.recall_entry(site.db, entry.id).status is RecallStatus.OPTED_OUT

"""End to end on loopback: a booked course -> the worker -> a real SMTP server receives the
confirmation with her portal link -> the link shows her plan. And the stored messages hold no
usable link: the links (portal, book, unsubscribe) are issued when the message is sent and only
their digests are kept."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.domain.portal import LinkPurpose
from needleplan.services import portal_links
from needleplan.services._secrets import secret_digest
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.log import message_log
from needleplan.services.messaging.worker import run_once
from tests.messaging_support import MailSink

from . import booking_support
from .booking_support import Clinic
from .conftest import TestClient
from .portal_support import book_nora, psite, pweb

backend = booking_support.backend
__all__ = ["psite", "pweb"]

#: This task's loopback ports.
PORTS = range(18300, 18400)
PUBLIC = "http://testserver"
#: A weekday morning in Berlin (outside the quiet hours), after her course.
DUE_MORNING = datetime(2031, 11, 3, 9, 0, tzinfo=UTC)


def _port() -> int:
    for port in reversed(PORTS):  # the browser tests take the low end of the range
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink(_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def _texts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content(), html.get_content()


def _tokens(text: str, pattern: str) -> list[str]:
    return re.findall(re.escape(PUBLIC) + pattern, text)


def test_confirmation_by_smtp_carries_her_portal_link_which_shows_her_plan(
    pweb: TestClient, psite: Clinic, mail: MailSink
) -> None:
    nora = book_nora(pweb, psite)
    config = MessagingConfig(smtp_url=mail.url, public_url=PUBLIC)
    report = run_once(psite.db, psite.clinic, config=config)
    assert report.sent == 1
    (received,) = mail.messages
    assert "is booked" in str(received["Subject"])
    text, html = _texts(received)
    (token,) = _tokens(text, r"/p/([A-Za-z0-9_-]{43})\b")
    assert f'href="{PUBLIC}/p/{token}"' in html
    page = pweb.get(urlsplit(f"{PUBLIC}/p/{token}").path)
    assert page.status_code == 200
    assert "Hello Nora" in page.text
    assert page.text.count('class="visit"') == 5
    # Stored: the placeholder, never the link; the link's digest names the message.
    (stored,) = message_log(psite.db, None, nora.patient_id)
    assert stored.kind is MessageKind.COURSE_BOOKED
    assert "[[portal-link]]" in (stored.body_text or "")
    assert token not in (stored.body_text or "") + (stored.body_html or "")
    links = portal_links.patient_links(psite.db, None, nora.patient_id)
    (issued,) = [li for li in links if li.message_id == stored.id]
    assert issued.purpose is LinkPurpose.PORTAL
    assert issued.uses == 1


def test_recall_message_links_are_issued_at_send_time_and_not_stored_in_the_body(
    pweb: TestClient, psite: Clinic, mail: MailSink
) -> None:
    nora = book_nora(pweb, psite)
    entry = services.add_recall(psite.db, nora.patient_id, date(2031, 11, 3))
    config = MessagingConfig(smtp_url=mail.url, public_url=PUBLIC)
    run_once(psite.db, psite.clinic, now=DUE_MORNING, config=config)
    (recall,) = [m for m in mail.messages if "maintenance" in str(m["Subject"])]
    text, html = _texts(recall)
    (unsubscribe,) = _tokens(text, r"/unsubscribe/([A-Za-z0-9_-]{43})\b")
    (book,) = _tokens(text, r"/p/([A-Za-z0-9_-]{43})/book\b")
    # her language travels with the link (the unsubscribe page speaks it)
    assert (
        str(recall["List-Unsubscribe"]).strip() == f"<{PUBLIC}/unsubscribe/{unsubscribe}?lang=en>"
    )
    assert f"{PUBLIC}/p/{book}/book" in html
    stored = next(
        m for m in message_log(psite.db, None, nora.patient_id) if m.kind is MessageKind.RECALL
    )
    body = (stored.body_text or "") + (stored.body_html or "")
    assert "[[unsubscribe-link]]" in body
    assert "[[book-link]]" in body
    for secret in (unsubscribe, book):
        assert secret not in body
        assert secret not in str(stored.payload)
    with psite.db.transaction() as uow:  # only the digests are kept
        by_digest = {
            p: uow.portal_links.by_digest(secret_digest(s))
            for p, s in ((LinkPurpose.UNSUBSCRIBE, unsubscribe), (LinkPurpose.BOOK, book))
        }
    for purpose, found in by_digest.items():
        assert found is not None
        assert found.purpose is purpose
        assert found.message_id == stored.id
    assert by_digest[LinkPurpose.BOOK] is not None
    assert by_digest[LinkPurpose.BOOK].recall_id == entry.id
    # The book link opens the booking page for her recall entry; the unsubscribe link works.
    page = pweb.get(f"/p/{book}/book")
    assert page.status_code == 200
    assert "3 November 2031" in page.text
    assert pweb.get(f"/p/{book}").status_code == 403  # single-purpose
    ask = pweb.get(f"/unsubscribe/{unsubscribe}")
    assert ask.status_code == 200
    done = pweb.post(f"/unsubscribe/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    assert "You are unsubscribed" in done.text
    assert ("message.unsubscribe", "patient-link") in [
        (e.action, e.username) for e in services.audit_log(psite.db, patient_id=nora.patient_id)
    ]
    unsubscribe_link = by_digest[LinkPurpose.UNSUBSCRIBE]
    assert unsubscribe_link is not None
    portal_links.revoke_link(psite.db, None, unsubscribe_link.id)
    assert pweb.get(f"/unsubscribe/{unsubscribe}").status_code == 404

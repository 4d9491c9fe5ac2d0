"""Online booking with double opt-in in headless Chromium, with a real SMTP server on loopback:
she picks a time on /book (in German), fills in her details, the worker sends the e-mail, she
opens the link from that e-mail, confirms, and the worker sends her visit confirmation. Staff
see the consultation flagged "booked online". Skips only where /usr/bin/chromium is absent.
Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from needleplan import services
from needleplan.domain.online_booking import OnlineBookingStatus
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import run_once
from needleplan.services.online_booking import booked_online
from needleplan.storage.tables import OnlineBookingRow, OutboxRow, PatientRow
from tests.messaging_support import MailSink

from . import booking_support
from .booking_support import Clinic
from .browser_support import BROWSER_MARKS, free_port, new_page, serving, shot
from .portal_support import psite, pweb

backend = booking_support.backend
__all__ = ["psite", "pweb"]

pytestmark = BROWSER_MARKS

#: This task's loopback ports (web server low, SMTP server high).
PORTS = range(18100, 18200)


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink(free_port(range(PORTS.stop - 1, PORTS.start - 1, -1)))
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def live(psite: Clinic) -> Iterator[str]:
    with serving(psite.app, PORTS) as base:
        yield base


def _plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_she_books_a_consultation_online_and_confirms_it_from_her_e_mail(
    live: str, browser: Any, psite: Clinic, mail: MailSink
) -> None:
    config = MessagingConfig(smtp_url=mail.url, public_url=live)
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{live}/book?lang=de")
    assert page.locator("h1").inner_text() == "Beratungstermin vereinbaren"
    first = page.locator('input[name="slot"]').first
    key = first.get_attribute("value")
    assert key is not None
    first.check()
    page.fill('input[name="given_name"]', "Maria")
    page.fill('input[name="family_name"]', "Muster")
    page.fill('input[name="birth_date"]', "1980-05-17")
    page.fill('input[name="email"]', "maria@example.org")
    page.fill('input[name="phone"]', "+49 30 1234567")
    page.check('input[name="consent_care"]')
    shot(page, "online-booking-form.png")
    page.locator("#book-submit").click()
    page.wait_for_selector('#booking-result[data-stage="held"]')
    assert "maria@example.org" in page.locator("#booking-result").inner_text()

    # the worker sends the double opt-in e-mail, in her language, to the real SMTP server
    report = run_once(psite.db, psite.clinic, config=config)
    assert report.sent == 1, report.summary()
    (opt_in,) = mail.messages
    assert opt_in["To"] == "maria@example.org"
    assert str(opt_in["Subject"]).startswith("Bitte bestätigen Sie Ihren Beratungstermin")
    text = _plain(opt_in)
    links = re.findall(re.escape(live) + r"/book/confirm/[A-Za-z0-9_-]+", text)
    assert len(links) == 1, text
    with psite.db.transaction() as uow:  # the stored message keeps the placeholder only
        (stored,) = uow.session.scalars(select(OutboxRow)).all()
    assert stored.body_text is not None
    assert "[[online-booking-link]]" in stored.body_text
    assert links[0] not in stored.body_text

    page.goto(links[0])
    page.wait_for_selector('#booking-result[data-stage="confirm"]')
    with psite.db.transaction() as uow:  # opening the link booked nothing
        assert uow.session.scalars(select(PatientRow)).all() == []
    shot(page, "online-booking-confirm.png")
    page.locator("#confirm-booking").click()
    page.wait_for_selector('#booking-result[data-stage="booked"]')
    assert "Ihr Beratungstermin ist gebucht" in page.locator("h1").inner_text()
    shot(page, "online-booking-booked.png")
    assert not errors, errors

    # the normal visit confirmation follows, in German, with her portal link
    # (a reminder may come too when the first free time is within the reminder hours)
    report = run_once(psite.db, psite.clinic, config=config)
    assert report.sent >= 1, report.summary()
    later = mail.messages[1:]
    assert all(m["To"] == "maria@example.org" for m in later)
    booked = [m for m in later if "gebucht" in str(m["Subject"])]
    assert len(booked) == 1, [m["Subject"] for m in later]
    assert f"{live}/p/" in _plain(booked[0])

    practitioner, start = key.split("@", 1)
    at = datetime.fromisoformat(start)
    appts = [
        a
        for a in services.appointments_between(psite.db, at, at + timedelta(minutes=1))
        if a.practitioner_id == int(practitioner)
    ]
    assert len(appts) == 1
    assert appts[0].kind.value == "consultation"
    assert booked_online(psite.db, [appts[0].id]) == {appts[0].id}
    patient = services.get_patient(psite.db, appts[0].patient_id)
    assert (patient.given_name, patient.email) == ("Maria", "maria@example.org")
    assert services.patient_language(psite.db, patient.id) == "de"
    with psite.db.transaction() as uow:
        (row,) = uow.session.scalars(select(OnlineBookingRow)).all()
    assert row.status == OnlineBookingStatus.CONFIRMED.value
    assert row.appointment_id == appts[0].id

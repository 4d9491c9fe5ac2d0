"""Patient messages in the clinic's language, with dates as that language writes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from needleplan.domain.messages import MessageKind
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.render import render_texts
from needleplan.services.messaging.worker import run_once
from tests.messaging_support import MORNING, MailSink

from .test_delivery import book, config_for

# Written out here (not taken from Babel) so the test checks the formatting, not itself.
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def test_a_reminder_in_german_with_a_german_date(clinic: Any, smtp_server: MailSink) -> None:
    german = example_clinic().model_copy(update={"default_language": "de"})
    planned = book(clinic)
    first = planned.booking.appointments[0]
    cfg = config_for(smtp_server)
    run_once(clinic.db, german, now=MORNING, config=cfg)  # the confirmation
    (confirmation,) = smtp_server.messages
    assert (
        confirmation["Subject"].strip()
        == "Ihre Microneedling-Serie bei Example Skin Clinic ist gebucht"
    )
    smtp_server.messages.clear()
    run_once(clinic.db, german, now=first.start - timedelta(hours=47), config=cfg)
    (mail,) = smtp_server.messages
    local = first.start.astimezone(german.tz)
    day = f"{WEEKDAYS[local.weekday()]}, {local.day}. {MONTHS[local.month - 1]}"
    # (a subject longer than a header line is folded after "Subject:"; unfolding leaves a space)
    assert mail["Subject"].strip() == f"Erinnerung: Ihr Termin bei Example Skin Clinic am {day}"
    body = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert body is not None
    assert html is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("Guten Tag Jane,\n\nwir erinnern Sie an Ihren Termin:")
    assert f"{day} {local.year}, {local:%H:%M} Uhr" in text
    assert "Bitte sagen Sie uns Bescheid, wenn Sie nicht kommen können." in text
    assert "Dear" not in text
    assert '<html lang="de">' in html.get_content()
    assert f"{day} {local.year}" in html.get_content()


def test_every_message_renders_in_every_shipped_language() -> None:
    """No template breaks in a language (a missing placeholder would raise, naming it)."""
    context = {
        "clinic": {"name": "Klinik", "location": "Berlin"},
        "patient": {"given_name": "Jane"},
        "name": "Jane",
        "visits": [
            {"when": "W1", "day": "D1", "practitioner": "Dr A"},
            {"when": "W2", "day": "D2", "practitioner": ""},
        ],
        "due": "DUE",
        "unsubscribe_url": "https://x/unsubscribe/t?lang=de",
        "portal_url": "https://x/p/t",
        "book_url": "https://x/p/t/book",
        "survey_url": "https://x/p/t/survey",
        "session_day": "DAY",
        "nudge": True,
        "has_ics": True,
        "confirm_url": "https://x/book/confirm/t",
        "until": "UNTIL",
        "intake_url": "https://x/p/t/intake",
        "consent_url": "https://x/p/t/consent",
        "consent_kind": "photo",
    }
    for kind in MessageKind:
        if kind is MessageKind.WEBHOOK:  # a JSON event for an integration, no text
            continue
        english = render_texts(kind, {**context, "lang": "en"})
        german = render_texts(kind, {**context, "lang": "de"})
        assert all(part.strip() for part in german[:3]), kind
        assert german[0] != english[0], kind  # the subject is translated


def test_her_own_language_wins_over_the_clinics(clinic: Any, smtp_server: MailSink) -> None:
    """An English-speaking clinic writes to a patient who reads German in German."""
    from needleplan import services

    services.update_patient(clinic.db, clinic.patient.id, {"language": "de"})
    assert services.patient_language(clinic.db, clinic.patient.id) == "de"
    book(clinic)
    run_once(clinic.db, example_clinic(), now=MORNING, config=config_for(smtp_server))
    (mail,) = smtp_server.messages
    assert mail["Subject"].strip() == "Ihre Microneedling-Serie bei Example Skin Clinic ist gebucht"
    # back to the clinic's default
    services.update_patient(clinic.db, clinic.patient.id, {"language": ""})
    assert services.patient_language(clinic.db, clinic.patient.id) is None

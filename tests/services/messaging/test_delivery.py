"""Messages end to end on loopback: enqueue with the cause, the worker sends over real SMTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.messages import MessageKind, MessageStatus
from needleplan.exceptions import ConflictError
from needleplan.scheduling import example_clinic, session_uid
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.log import message_log
from needleplan.services.messaging.worker import run_once
from tests.messaging_support import MORNING, MailSink, free_port


def config_for(sink: MailSink | None = None, **extra: Any) -> MessagingConfig:
    return MessagingConfig(
        smtp_url=sink.url if sink is not None else None,
        mail_from="desk@clinic.example",
        **extra,
    )


def _ageless() -> dict[str, Any]:
    """The reference assessment without its age: the patient's comes from her date of birth."""
    data = reference_assessment().model_dump(mode="json")
    del data["age"]
    return data


def book(clinic: Any) -> services.PlannedCourse:
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    return services.plan_and_book_course(
        clinic.db, clinic.patient.id, date(2030, 9, 2), example_clinic()
    )


def test_booking_sends_a_confirmation_with_a_valid_ics(clinic: Any, smtp_server: MailSink) -> None:
    planned = book(clinic)
    report = run_once(clinic.db, example_clinic(), now=MORNING, config=config_for(smtp_server))
    assert report.sent == 1
    (mail,) = smtp_server.messages
    assert mail["To"] == "jane@example.org"
    assert "Example Skin Clinic" in mail["From"]
    assert "is booked" in mail["Subject"]
    assert mail.get("List-Unsubscribe") is None  # a care message, not outreach
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "Dear Jane" in text.get_content()
    assert "Example Skin Clinic" in html.get_content()
    (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(planned.booking.appointments)
    schedule = services.course_schedule(clinic.db, planned.booking.course.id, example_clinic())
    assert sorted(str(e["UID"]) for e in events) == sorted(
        session_uid(schedule.course_id, s.number) for s in schedule.sessions
    )
    assert [e.decoded("DTSTART") for e in sorted(events, key=lambda e: e.decoded("DTSTART"))] == [
        a.start for a in planned.booking.appointments
    ]
    (logged,) = message_log(clinic.db, None, clinic.patient.id)
    assert logged.status is MessageStatus.SENT
    assert mail["Message-ID"] == logged.message_id
    # A second pass has nothing to send.
    assert (
        run_once(clinic.db, example_clinic(), now=MORNING, config=config_for(smtp_server)).sent == 0
    )


def test_reminder_two_days_before_a_visit_is_sent_exactly_once(
    clinic: Any, smtp_server: MailSink
) -> None:
    planned = book(clinic)
    first = planned.booking.appointments[0]
    cfg = config_for(smtp_server)
    run_once(clinic.db, example_clinic(), now=MORNING, config=cfg)  # the confirmation
    smtp_server.messages.clear()
    two_days_before = first.start - timedelta(hours=47)
    report = run_once(clinic.db, example_clinic(), now=two_days_before, config=cfg)
    assert report.planned == 1
    assert [m["Subject"].startswith("Reminder") for m in smtp_server.messages] == [True]
    again = run_once(
        clinic.db, example_clinic(), now=two_days_before + timedelta(hours=1), config=cfg
    )
    assert again.planned == 0
    assert again.sent == 0
    assert len(smtp_server.messages) == 1
    # Three days before is outside the default 48 h: nothing is planned for the second visit.
    kinds = [m.kind for m in message_log(clinic.db, None, clinic.patient.id)]
    assert kinds.count(MessageKind.REMINDER) == 1


def test_unreachable_smtp_delays_the_message_then_it_is_sent(clinic: Any) -> None:
    book(clinic)  # the booking itself never talks to the mail server
    port = free_port()
    sink = MailSink(port)
    cfg = config_for(sink)
    down = run_once(clinic.db, example_clinic(), now=MORNING, config=cfg)
    assert down.retried == 1
    assert down.sent == 0
    (queued,) = message_log(clinic.db, None, clinic.patient.id)
    assert queued.status is MessageStatus.QUEUED
    assert queued.attempts == 1
    assert "unreachable" in queued.last_error
    assert queued.due_at == MORNING + timedelta(seconds=cfg.retry_base_s)
    # Not due again before the backoff has passed.
    assert (
        run_once(clinic.db, example_clinic(), now=MORNING + timedelta(seconds=30), config=cfg).sent
        == 0
    )
    sink.start()
    try:
        later = run_once(
            clinic.db, example_clinic(), now=MORNING + timedelta(seconds=61), config=cfg
        )
    finally:
        sink.stop()
    assert later.sent == 1
    (mail,) = sink.messages
    (sent,) = message_log(clinic.db, None, clinic.patient.id)
    assert sent.status is MessageStatus.SENT
    assert mail["Message-ID"] == sent.message_id  # the same message as the first attempt's


def test_gives_up_after_the_retries_with_the_reason(clinic: Any) -> None:
    book(clinic)
    cfg = MessagingConfig(smtp_url=f"smtp://127.0.0.1:{free_port()}", max_attempts=3)
    at = MORNING
    outcomes = []
    for _ in range(3):
        r = run_once(clinic.db, example_clinic(), now=at, config=cfg)
        outcomes.append((r.retried, r.failed))
        at += timedelta(hours=1)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    (failed,) = message_log(clinic.db, None, clinic.patient.id)
    assert failed.status is MessageStatus.FAILED
    assert failed.attempts == 3
    assert "unreachable" in failed.last_error


def test_change_and_cancellation_notices(clinic: Any, smtp_server: MailSink) -> None:
    planned = book(clinic)
    cfg = config_for(smtp_server)
    run_once(clinic.db, example_clinic(), now=MORNING, config=cfg)
    last = planned.booking.appointments[-1]
    moved_to = last.start + timedelta(days=1)
    services.move_appointment(
        clinic.db,
        last.id,
        {
            "start": moved_to,
            "end": moved_to + (last.end - last.start),
            "practitioner_id": last.practitioner_id,
        },
    )
    services.cancel_appointment(clinic.db, planned.booking.appointments[-2].id, reason="ill")
    run_once(clinic.db, example_clinic(), now=MORNING, config=cfg)
    subjects = smtp_server.subjects()
    assert subjects[1].startswith("New dates")
    assert subjects[2].endswith("is cancelled")
    change = smtp_server.messages[1]
    (ics,) = [p for p in change.iter_attachments() if p.get_content_type() == "text/calendar"]
    events = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
    assert moved_to in [e.decoded("DTSTART") for e in events]


def test_sms_through_the_json_gateway_and_the_twilio_shape(clinic: Any, sms_gateway: Any) -> None:
    texting = services.register_patient(
        clinic.db,
        {
            "given_name": "Tia",
            "family_name": "Text",
            "birth_date": "1980-01-01",
            "phone": "+49 30 1234567",
            "consent_treatment": True,
        },
    )
    services.record_assessment(clinic.db, texting.id, _ageless())
    services.plan_and_book_course(clinic.db, texting.id, date(2030, 9, 2), example_clinic())
    cfg = MessagingConfig(sms_url=sms_gateway.url, sms_from="Clinic")
    assert run_once(clinic.db, example_clinic(), now=MORNING, config=cfg).sent == 1
    (req,) = sms_gateway.requests
    assert req["body"]["to"] == "+49301234567"
    assert "course is booked" in req["body"]["text"]
    assert req["auth"].startswith("Basic ")
    assert req["key"] == req["body"]["id"]
    move = services.get_appointment(
        clinic.db, services.course_file(clinic.db, 1).appointments[0].id
    )
    services.cancel_appointment(clinic.db, move.id)
    twilio = MessagingConfig(sms_url=sms_gateway.url, sms_format="twilio", sms_from="+4930999999")
    assert run_once(clinic.db, example_clinic(), now=MORNING, config=twilio).sent == 1
    form = sms_gateway.requests[1]
    assert form["type"] == "application/x-www-form-urlencoded"
    assert form["body"]["To"] == "+49301234567"
    assert "cancelled" in form["body"]["Body"]


def test_patient_without_contact_details_is_skipped_with_the_reason(clinic: Any) -> None:
    silent = services.register_patient(
        clinic.db,
        {
            "given_name": "No",
            "family_name": "Contact",
            "birth_date": "1980-01-01",
            "consent_treatment": True,
        },
    )
    services.record_assessment(clinic.db, silent.id, _ageless())
    services.plan_and_book_course(clinic.db, silent.id, date(2030, 9, 2), example_clinic())
    report = run_once(clinic.db, example_clinic(), now=MORNING, config=MessagingConfig())
    assert report.skipped == 1
    (logged,) = message_log(clinic.db, None, silent.id)
    assert logged.status is MessageStatus.SKIPPED
    assert logged.last_error == "no e-mail address or phone number on file"


def test_a_rolled_back_booking_leaves_no_message(clinic: Any, protocol: Any) -> None:
    slot = {
        "start": datetime(2030, 9, 2, 9, tzinfo=UTC),
        "end": datetime(2030, 9, 2, 10, tzinfo=UTC),
        "practitioner_id": clinic.alice.id,
    }
    services.book_course(clinic.db, clinic.patient.id, protocol, [slot])
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "Ann",
            "family_name": "Other",
            "birth_date": "1975-01-01",
            "email": "ann@example.org",
            "consent_treatment": True,
        },
    )
    with pytest.raises(ConflictError):
        services.book_course(clinic.db, other.id, protocol, [slot])
    assert message_log(clinic.db, None, other.id) == []
    assert len(message_log(clinic.db, None, clinic.patient.id)) == 1


def test_a_worker_that_dies_mid_send_loses_nothing(clinic: Any, smtp_server: MailSink) -> None:
    """A claimed message whose worker never finished is sent once its lease has expired."""
    book(clinic)
    cfg = config_for(smtp_server)
    with clinic.db.transaction() as uow:  # the dead worker's claim
        claimed = uow.outbox.claim(
            MORNING, "dead-worker", MORNING + timedelta(seconds=cfg.lease_s), 10
        )
    assert len(claimed) == 1
    during = run_once(clinic.db, example_clinic(), now=MORNING + timedelta(seconds=10), config=cfg)
    assert during.sent == 0  # leased: another worker leaves it alone
    after = run_once(
        clinic.db, example_clinic(), now=MORNING + timedelta(seconds=cfg.lease_s + 1), config=cfg
    )
    assert after.sent == 1
    assert len(smtp_server.messages) == 1


def test_contact_request_is_acknowledged(clinic: Any, smtp_server: MailSink) -> None:
    from needleplan.domain.records import Lead

    services.add_lead(
        clinic.db,
        Lead("abc123", "Vera Visitor", "vera@example.org", "", "call me", "", "yes", MORNING),
    )
    assert (
        run_once(clinic.db, example_clinic(), now=MORNING, config=config_for(smtp_server)).sent == 1
    )
    (mail,) = smtp_server.messages
    assert mail["To"] == "vera@example.org"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Dear Vera Visitor" in body.get_content()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEEDLEPLAN_SMTP_URL", "http://mail.example"),
        ("NEEDLEPLAN_MAIL_FROM", "not an address"),
        ("NEEDLEPLAN_SMS_URL", "ftp://sms.example"),
        ("NEEDLEPLAN_SMS_FORMAT", "carrier-pigeon"),
        ("NEEDLEPLAN_PUBLIC_URL", "clinic.example"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(variable: str, value: str) -> None:
    from needleplan.exceptions import InputError

    with pytest.raises(InputError) as caught:
        MessagingConfig.from_env({variable: value})
    assert variable in str(caught.value)


def test_smtp_password_is_hidden_in_errors() -> None:
    from needleplan.exceptions import InputError

    with pytest.raises(InputError) as caught:
        MessagingConfig.from_env({"NEEDLEPLAN_SMTP_URL": "smtpx://me:hunter2@mail.example"})
    assert "hunter2" not in str(caught.value)

"""The public booking page with double opt-in, through HTTP: every route and every refusal.

She picks a free consultation time, gives her details and consent; the time is held (claimed
like a staff booking) and an e-mail with a confirmation link is queued. Only the confirmation
through that link books: a patient (or the one with her e-mail and birth date) and a
consultation flagged "booked online". Bad fields, a time not offered, a time taken meanwhile, a
tampered, used or expired link each get a plain page, and nothing is stored that should not be.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.domain.online_booking import OnlineBookingStatus
from needleplan.exceptions import ConflictError
from needleplan.services import online_booking as online
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.services.messaging.worker import run_once
from needleplan.storage.tables import OnlineBookingRow, OutboxRow, PatientRow, SlotClaimRow
from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from . import booking_support
from .booking_support import Clinic, make_clinic, signed_in
from .conftest import TEST_SECRET, TestClient, csrf_from
from .portal_support import psite, pweb

backend = booking_support.backend
__all__ = ["psite", "pweb"]

SLOT = re.compile(r'name="slot" value="([^"]+)"')
HER = {
    "given_name": "Maria",
    "family_name": "Muster",
    "birth_date": "1980-05-17",
    "email": "maria@example.org",
    "phone": "+49 30 1234567",
    "consent_care": "yes",
}


def _open(client: TestClient, path: str = "/book") -> tuple[str, list[str]]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text), SLOT.findall(page.text)


def _post(client: TestClient, **fields: Any) -> Any:
    csrf, slots = _open(client)
    body = {"csrf_token": csrf, "slot": slots[0], **HER, **fields}
    return client.post("/book", data={k: v for k, v in body.items() if v is not None})


def _count(site: Clinic, table: Any) -> int:
    with site.db.transaction() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def _link(site: Clinic, booking_id: int) -> str:
    """A confirmation link for the booking, made as the worker makes it when it sends."""
    token = new_secret(32)
    with site.db.transaction() as uow:
        uow.online_bookings.add_link(secret_digest(token), booking_id, datetime.now(UTC), None)
    return token


def _held(site: Clinic) -> Any:
    with site.db.transaction() as uow:
        row = uow.session.scalars(select(OnlineBookingRow).order_by(OnlineBookingRow.id.desc()))
        return uow.online_bookings.get(row.first().id)  # type: ignore[union-attr]


def _problem_fields(html: str) -> set[str]:
    return set(re.findall(r'data-field="([^"]+)"', html))


def test_the_page_lists_free_consultation_times_from_tomorrow_in_her_language(
    pweb: TestClient, psite: Clinic
) -> None:
    _, slots = _open(pweb)
    assert slots, "the clinic has free times in the next three weeks"
    tomorrow = datetime.now(psite.clinic.tz).date() + timedelta(days=1)
    starts = [datetime.fromisoformat(s.split("@", 1)[1]) for s in slots]
    assert min(s.astimezone(psite.clinic.tz).date() for s in starts) >= tomorrow
    assert max(starts).date() <= tomorrow + timedelta(days=psite.clinic.online_booking.days_ahead)
    german = pweb.get("/book?lang=de")
    assert "Beratungstermin vereinbaren" in german.text
    assert "Geburtsdatum" in german.text
    estimate = pweb.get("/estimate")
    assert 'href="/book" id="book-consultation"' in estimate.text


def test_a_good_request_holds_the_time_and_queues_the_confirmation_e_mail(
    pweb: TestClient, psite: Clinic
) -> None:
    csrf, slots = _open(pweb)
    response = pweb.post("/book", data={"csrf_token": csrf, "slot": slots[0], **HER})
    assert response.status_code == 200, response.text
    assert 'data-stage="held"' in response.text
    assert "maria@example.org" in response.text
    booking = _held(psite)
    assert booking.status is OnlineBookingStatus.HELD
    assert booking.phone == "+49301234567"  # E.164
    assert not booking.consent_marketing
    assert booking.hold_until - booking.created_at == timedelta(minutes=30)
    assert _count(psite, PatientRow) == 0  # nobody is a patient before she confirms
    with psite.db.transaction() as uow:
        (message,) = uow.session.scalars(select(OutboxRow)).all()
        claims = uow.session.scalars(
            select(SlotClaimRow).where(SlotClaimRow.hold_id == booking.id)
        ).all()
    assert message.kind == MessageKind.ONLINE_BOOKING.value
    assert message.payload == {"booking_id": booking.id, "language": "en"}
    assert claims, "the hold claims its slots"
    # the time is no longer offered, and staff cannot book it
    assert slots[0] not in _open(pweb)[1]
    with pytest.raises(ConflictError, match="held for an online booking"):
        services.book_appointment(
            psite.db,
            psite.patient().id,
            (booking.start, booking.end, booking.practitioner_id),
            kind="review",
        )


def test_without_the_care_consent_nothing_is_stored(pweb: TestClient, psite: Clinic) -> None:
    response = _post(pweb, consent_care=None, consent_marketing="yes")
    assert response.status_code == 422
    assert _problem_fields(response.text) == {"consent_care"}
    assert "We have not stored anything" in response.text
    assert _count(psite, OnlineBookingRow) == 0
    assert _count(psite, OutboxRow) == 0
    assert _count(psite, SlotClaimRow) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_date", "1980-13-40"),
        ("birth_date", "17.05.1980"),
        ("birth_date", (datetime.now(UTC).date() - timedelta(days=365 * 10)).isoformat()),
        ("birth_date", "1800-01-01"),
        ("email", "maria-at-example"),
        ("phone", "030 1234567"),
        ("phone", "+49 12"),
        ("given_name", ""),
        ("given_name", "<script>alert(1)</script>"),
        ("family_name", "x" * 150),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_stored(
    pweb: TestClient, psite: Clinic, field: str, value: str
) -> None:
    response = _post(pweb, **{field: value})
    assert response.status_code == 422, response.text
    assert _problem_fields(response.text) == {field}
    assert "<script>alert" not in response.text  # her input is escaped when shown again
    assert _count(psite, OnlineBookingRow) == 0
    assert _count(psite, OutboxRow) == 0


@pytest.mark.parametrize(
    "slot",
    [
        "",
        "garbage",
        "1@2020-01-06T10:00:00+01:00",  # past
        "1@2031-03-03T10:00:00",  # no offset
        "999@{tomorrow}",  # no such practitioner
        "{first}x",
    ],
)
def test_a_time_the_page_does_not_offer_is_refused(
    pweb: TestClient, psite: Clinic, slot: str
) -> None:
    csrf, slots = _open(pweb)
    first = slots[0]
    tomorrow = first.split("@", 1)[1]
    wanted = slot.format(first=first, tomorrow=tomorrow)
    response = pweb.post("/book", data={"csrf_token": csrf, **HER, "slot": wanted})
    assert response.status_code == 422
    assert _problem_fields(response.text) == {"slot"}
    assert _count(psite, OnlineBookingRow) == 0


def test_a_time_taken_by_another_request_is_refused_and_a_race_is_decided_by_the_claims(
    pweb: TestClient, psite: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf, slots = _open(pweb)
    assert pweb.post("/book", data={"csrf_token": csrf, **HER, "slot": slots[0]}).status_code == 200
    other = {**HER, "email": "other@example.org", "slot": slots[0]}
    again = pweb.post("/book", data={"csrf_token": csrf, **other})
    assert again.status_code == 422  # not offered any more
    assert _problem_fields(again.text) == {"slot"}
    # Both pages showed the time: the second click loses the race at the database.
    offered = online.offered_slots(psite.db, psite.clinic)
    stale = [*offered]
    booking = _held(psite)
    from needleplan.services.clinic_calendar_slots import FreeSlot

    stale.insert(
        0,
        FreeSlot(booking.start, booking.end, "Alice Practitioner", booking.practitioner_id, "x"),
    )
    monkeypatch.setattr(online, "offered_slots", lambda *a, **k: stale)
    raced = pweb.post("/book", data={"csrf_token": csrf, **other, "slot": stale[0].key})
    assert raced.status_code == 409
    assert 'id="slot-taken"' in raced.text
    assert _count(psite, OnlineBookingRow) == 1


def test_the_form_needs_the_csrf_token(pweb: TestClient, psite: Clinic) -> None:
    _, slots = _open(pweb)
    response = pweb.post("/book", data={**HER, "slot": slots[0]})
    assert response.status_code == 403
    assert _count(psite, OnlineBookingRow) == 0


def test_requests_are_rate_limited_like_the_contact_form(
    user_store: InMemoryUserStore, db: Any
) -> None:
    site = make_clinic(user_store, db)
    site.app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET, api_burst=2),  # type: ignore[call-arg]
        user_store=user_store,
        database=db,
    )
    site.app.state.clinic = site.clinic
    with TestClient(site.app, base_url="http://testserver") as client:
        codes = [_post(client, given_name="").status_code for _ in range(4)]
    assert codes[:2] == [422, 422]
    assert 429 in codes[2:]


def test_the_link_shows_the_time_and_only_the_button_books_it(
    pweb: TestClient, psite: Clinic
) -> None:
    assert _post(pweb, consent_marketing="yes").status_code == 200
    booking = _held(psite)
    token = _link(psite, booking.id)
    page = pweb.get(f"/book/confirm/{token}")
    assert page.status_code == 200
    assert 'data-stage="confirm"' in page.text
    assert page.headers["cache-control"] == "no-store, private"
    assert _count(psite, PatientRow) == 0  # opening the link books nothing
    done = pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200, done.text
    assert 'data-stage="booked"' in done.text
    confirmed = _held(psite)
    assert confirmed.status is OnlineBookingStatus.CONFIRMED
    patient = services.get_patient(psite.db, confirmed.patient_id or 0)
    assert (patient.given_name, patient.family_name) == ("Maria", "Muster")
    assert (patient.email, patient.phone) == ("maria@example.org", "+49301234567")
    assert patient.consent_contact  # she ticked the optional recall consent
    assert not patient.consent_treatment  # that is the practitioner's, at the consultation
    appt = services.get_appointment(psite.db, confirmed.appointment_id or 0)
    assert appt.kind.value == "consultation"
    assert (appt.start, appt.practitioner_id) == (booking.start, booking.practitioner_id)
    assert appt.note == "booked online"
    with psite.db.transaction() as uow:
        kinds = [r.kind for r in uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id))]
        holds = uow.session.scalars(
            select(SlotClaimRow).where(SlotClaimRow.hold_id.is_not(None))
        ).all()
    assert kinds == [MessageKind.ONLINE_BOOKING.value, MessageKind.VISIT_BOOKED.value]
    assert holds == []  # the visit claims the time now
    events = services.audit_log(psite.db, patient_id=patient.id)
    confirm = [e for e in events if e.action == "online_booking.confirm"]
    assert len(confirm) == 1
    assert confirm[0].username == online.ONLINE_ACTOR_NAME
    # a second click: it is booked already, nothing twice
    twice = pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf_from(page.text)})
    assert twice.status_code == 409
    assert 'data-stage="confirmed"' in twice.text
    assert _count(psite, PatientRow) == 1


def test_a_returning_patient_with_the_same_e_mail_and_birth_date_is_not_registered_twice(
    pweb: TestClient, psite: Clinic
) -> None:
    known = psite.patient("Maria", "Muster", email="maria@example.org", birth_date="1980-05-17")
    assert _post(pweb).status_code == 200
    booking = _held(psite)
    token = _link(psite, booking.id)
    csrf = csrf_from(pweb.get(f"/book/confirm/{token}").text)
    assert pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf}).status_code == 200
    assert _held(psite).patient_id == known.id
    assert _count(psite, PatientRow) == 1


@pytest.mark.parametrize("token", ["short", "A" * 43, "%3Cscript%3E" * 4, "x" * 150])
def test_a_tampered_or_unknown_link_gets_a_plain_page(
    pweb: TestClient, psite: Clinic, token: str
) -> None:
    page = pweb.get(f"/book/confirm/{token}")
    assert page.status_code in (404, 422)
    if page.status_code == 404:
        assert 'data-stage="unknown"' in page.text
    csrf = csrf_from(pweb.get("/book").text)
    posted = pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf})
    assert posted.status_code in (404, 422)
    assert _count(psite, PatientRow) == 0


def test_a_link_with_one_character_changed_is_unknown(pweb: TestClient, psite: Clinic) -> None:
    assert _post(pweb).status_code == 200
    token = _link(psite, _held(psite).id)
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    page = pweb.get(f"/book/confirm/{changed}")
    assert page.status_code == 404
    assert 'data-stage="unknown"' in page.text


def test_the_worker_releases_an_expired_hold_and_a_late_confirmation_books_nothing(
    pweb: TestClient, psite: Clinic
) -> None:
    assert _post(pweb).status_code == 200
    booking = _held(psite)
    token = _link(psite, booking.id)
    early = run_once(psite.db, psite.clinic, now=booking.hold_until - timedelta(minutes=1))
    assert early.released == 0
    late = run_once(psite.db, psite.clinic, now=booking.hold_until + timedelta(seconds=1))
    assert late.released == 1
    assert "holds released 1" in late.summary()
    expired = _held(psite)
    assert expired.status is OnlineBookingStatus.EXPIRED
    assert (expired.given_name, expired.email, expired.phone) == ("", "", "")  # not kept
    assert _count(psite, SlotClaimRow) == 0  # the time is free again
    key = f"{booking.practitioner_id}@{booking.start.astimezone(psite.clinic.tz).isoformat()}"
    assert key in _open(pweb)[1]
    page = pweb.get(f"/book/confirm/{token}")
    assert page.status_code == 410
    assert 'data-stage="expired"' in page.text
    csrf = csrf_from(pweb.get("/book").text)
    posted = pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf})
    assert posted.status_code == 410
    assert _count(psite, PatientRow) == 0
    events = services.audit_log(psite.db)
    assert any(e.action == "online_booking.release" for e in events)


def test_a_confirmation_after_the_hold_ran_out_releases_it_on_the_spot(
    pweb: TestClient, psite: Clinic
) -> None:
    assert _post(pweb).status_code == 200
    booking = _held(psite)
    token = _link(psite, booking.id)
    with pytest.raises(online.OnlineBookingRefusedError) as refused:
        online.confirm_booking(
            psite.db, psite.clinic, token, now=booking.hold_until + timedelta(minutes=5)
        )
    assert refused.value.reason == "expired"
    assert _held(psite).status is OnlineBookingStatus.EXPIRED
    assert _count(psite, SlotClaimRow) == 0
    assert _count(psite, PatientRow) == 0


def test_staff_see_the_visit_flagged_booked_online(pweb: TestClient, psite: Clinic) -> None:
    assert _post(pweb).status_code == 200
    booking = _held(psite)
    token = _link(psite, booking.id)
    csrf = csrf_from(pweb.get(f"/book/confirm/{token}").text)
    assert pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf}).status_code == 200
    done = _held(psite)
    signed_in(pweb, "desk")
    day = booking.start.astimezone(psite.clinic.tz).date().isoformat()
    calendar = pweb.get(f"/app/calendar?view=day&date={day}")
    card = re.search(
        rf'<article[^>]*data-appointment="{done.appointment_id}".*?</article>', calendar.text, re.S
    )
    assert card is not None
    assert "booked online" in card.group(0)
    patient = pweb.get(f"/app/patients/{done.patient_id}")
    row = re.search(rf'<tr data-appointment="{done.appointment_id}">.*?</tr>', patient.text, re.S)
    assert row is not None
    assert "booked online" in row.group(0)


def test_when_the_clinic_does_not_book_online_the_page_says_so_and_stores_nothing(
    user_store: InMemoryUserStore, db: Any
) -> None:
    site = make_clinic(user_store, db, online_booking={"enabled": False}, phone="+49 30 5550100")
    with TestClient(site.app, base_url="http://testserver") as client:
        page = client.get("/book")
        assert page.status_code == 200
        assert 'id="booking-closed"' in page.text
        assert SLOT.findall(page.text) == []
        csrf = csrf_from(client.get("/estimate").text)
        response = client.post("/book", data={"csrf_token": csrf, **HER, "slot": "1@x"})
        assert response.status_code == 409
        estimate = client.get("/estimate")
        assert 'href="#contact" id="book-consultation"' in estimate.text
    assert _count(site, OnlineBookingRow) == 0


def test_her_erasure_and_anonymisation_reach_what_she_typed_on_the_booking_page(
    pweb: TestClient, psite: Clinic
) -> None:
    from needleplan.services import data_rights

    assert _post(pweb).status_code == 200
    token = _link(psite, _held(psite).id)
    csrf = csrf_from(pweb.get(f"/book/confirm/{token}").text)
    assert pweb.post(f"/book/confirm/{token}", data={"csrf_token": csrf}).status_code == 200
    patient_id = _held(psite).patient_id or 0
    data_rights.erase_on_request(psite.db, patient_id, actor=None)
    erased = _held(psite)
    assert (erased.email, erased.phone, erased.given_name) == ("", "", "Maria")
    with psite.db.transaction() as uow:
        uow.retention.anonymise(patient_id, datetime.now(UTC), "test")
    anonymised = _held(psite)
    assert (anonymised.given_name, anonymised.family_name) == ("", "")
    assert (anonymised.birth_date.month, anonymised.birth_date.day) == (1, 1)
    assert anonymised.appointment_id is not None  # the visit stays flagged "booked online"


def test_an_expired_hold_keeps_no_name_in_the_e_mail_that_was_sent(
    pweb: TestClient, psite: Clinic
) -> None:
    from needleplan.services.messaging.config import MessagingConfig
    from tests.messaging_support import MailSink

    from .browser_support import free_port
    from .test_online_booking_browser import PORTS

    assert _post(pweb).status_code == 200
    booking = _held(psite)
    sink = MailSink(free_port(PORTS[::-1]))
    sink.start()
    try:
        config = MessagingConfig(smtp_url=sink.url, public_url="http://testserver")
        assert run_once(psite.db, psite.clinic, config=config).sent == 1
    finally:
        sink.stop()
    (mail,) = sink.messages
    assert "Maria" in str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    with psite.db.transaction() as uow:
        (before,) = uow.session.scalars(select(OutboxRow)).all()
        assert before.body_text is not None
        assert "Maria" in before.body_text
    run_once(psite.db, psite.clinic, now=booking.hold_until, config=config)
    with psite.db.transaction() as uow:
        (after,) = uow.session.scalars(select(OutboxRow)).all()
        assert (after.body_text, after.recipient, after.status) == (None, None, "sent")


def test_today_flags_a_visit_booked_online(user_store: InMemoryUserStore, db: Any) -> None:
    """Open every day, so today has consultation times whatever the day the suite runs."""
    week = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    site = make_clinic(user_store, db, opening_hours={d: ["09:00-18:00"] for d in week})
    yesterday = datetime.now(UTC) - timedelta(days=1)
    today = datetime.now(site.clinic.tz).date()
    (slot, *_) = [
        s
        for s in online.offered_slots(site.db, site.clinic, now=yesterday)
        if s.start.astimezone(site.clinic.tz).date() == today
    ]
    held = online.request_booking(
        site.db,
        site.clinic,
        slot=slot.key,
        **{k: v for k, v in HER.items() if k != "consent_care"},
        consent_care=True,
        consent_marketing=False,
        language="en",
        now=yesterday,
    )
    token = _link(site, held.booking.id)
    done = online.confirm_booking(site.db, site.clinic, token, now=yesterday + timedelta(minutes=1))
    with TestClient(site.app, base_url="http://testserver") as client:
        signed_in(client, "desk")
        page = client.get("/app/")
    card = re.search(
        rf'<article[^>]*data-appointment="{done.appointment_id}".*?</article>', page.text, re.S
    )
    assert card is not None, "today's list shows the visit"
    assert "booked online" in card.group(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("slot", "1@" + "9" * 500), ("given_name", "A" * 5000), ("email", "a" * 500 + "@x.org")],
)
def test_over_long_input_is_refused_never_a_server_error(
    pweb: TestClient, psite: Clinic, field: str, value: str
) -> None:
    response = _post(pweb, **{field: value})
    assert response.status_code == 422
    assert _count(psite, OnlineBookingRow) == 0

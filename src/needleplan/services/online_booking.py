"""Online booking with double opt-in: offer, hold, confirm, release (docs/online-booking.md).

=======================  ====================================================================
use-case                 what it stores (one transaction each, audited as ``online-booking``)
=======================  ====================================================================
offered_slots            nothing: the clinic's free consultation times from tomorrow on, for
                         ``online_booking.days_ahead`` days (visit length from the calendar)
request_booking          her request, its slot claims (``hold_id``) and the confirmation
                         e-mail in the outbox; audited ``online_booking.hold``
open_confirmation        nothing: the held request her link names, or a refusal
confirm_booking          the patient (the one patient with her e-mail address and date of
                         birth, else a new record), the consultation appointment in the held
                         slot (flagged "booked online"), the usual visit confirmation;
                         audited ``online_booking.confirm`` with her patient id
release_expired_holds    (the worker, every pass) holds past ``hold_until``: claims deleted,
                         request ``expired``, her name and contact details blanked
=======================  ====================================================================

The hold claims its slot in ``slot_claims`` like a booked visit, so a staff booking, another
online booking or the course scheduler cannot take it (the primary key decides every race).
Nothing is booked before she opens the link in her e-mail and confirms on the page (a GET of the
link changes nothing, so a mail scanner that follows links confirms nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from needleplan.domain.messages import MessageKind
from needleplan.domain.online_booking import (
    OnlineBooking,
    OnlineBookingStatus,
    check_booking_form,
)
from needleplan.domain.records import AppointmentKind, PatientDraft, SlotRequest
from needleplan.exceptions import InputError, PermissionDeniedError, StateError
from needleplan.scheduling import ClinicConfig
from needleplan.services._clock import aware, utc_now
from needleplan.services._secrets import secret_digest
from needleplan.services.audit import audited
from needleplan.services.booking import book_appointment_in
from needleplan.services.clinic_calendar_slots import FreeSlot, find_free_slots
from needleplan.storage import Database

#: The audit trail's name for the public booking page acting (no account signs in there).
ONLINE_ACTOR_NAME = "online-booking"
#: The note on an appointment booked on the public page.
ONLINE_NOTE = "booked online"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class OnlineBookingRefusedError(PermissionDeniedError):
    """Her confirmation link may not confirm: ``reason`` is ``unknown`` (tampered or never
    issued), ``expired`` (the hold ran out; nothing was booked) or ``confirmed`` (done already;
    ``booking`` says when)."""

    def __init__(self, reason: str, booking: OnlineBooking | None = None) -> None:
        super().__init__(f"the confirmation link is {reason}")
        self.reason = reason
        self.booking = booking


def _refuse_closed(clinic: ClinicConfig) -> None:
    if not clinic.online_booking.enabled:
        raise StateError("the clinic does not take bookings online; please call the clinic")


def offered_slots(
    db: Database, clinic: ClinicConfig, *, now: datetime | None = None, limit: int = 60
) -> list[FreeSlot]:
    """The consultation times the public page offers: free in the calendar in force (around
    every visit and every held online booking), from the clinic's tomorrow on, for
    ``online_booking.days_ahead`` days, at most three per practitioner and day."""
    _refuse_closed(clinic)
    clock = aware(now, "now")
    tomorrow = clock.astimezone(clinic.tz).date() + timedelta(days=1)
    return find_free_slots(
        db,
        clinic,
        AppointmentKind.CONSULTATION,
        not_before=tomorrow,
        limit=limit,
        per_day=3,
        days=clinic.online_booking.days_ahead,
        now=clock,
    )


def parse_slot_key(value: str) -> tuple[int, datetime]:
    """``<practitioner id>@<start ISO with offset>`` (what the page sends), or InputError
    naming ``slot``."""
    text = str(value).strip()
    who, _, when = text.partition("@")
    try:
        practitioner_id = int(who)
        start = datetime.fromisoformat(when)
    except ValueError:
        raise InputError.one("slot", text[:80], "pick one of the times shown") from None
    if start.tzinfo is None or practitioner_id < 1:
        raise InputError.one("slot", text[:80], "pick one of the times shown")
    return practitioner_id, start


@dataclass(frozen=True)
class HeldBooking:
    booking: OnlineBooking
    practitioner: str


def request_booking(
    db: Database,
    clinic: ClinicConfig,
    *,
    slot: str,
    given_name: str,
    family_name: str,
    birth_date: str,
    email: str,
    phone: str,
    consent_care: bool,
    consent_marketing: bool,
    language: str,
    now: datetime | None = None,
) -> HeldBooking:
    """Hold ``slot`` for her and queue the confirmation e-mail, or refuse with nothing stored.

    Raises :class:`InputError` for a bad field (every one named, consent first) or a slot the
    page does not offer (taken, past, outside hours, beyond ``days_ahead``), and
    :class:`ConflictError` when another booking took it between the page and her click.
    """
    _refuse_closed(clinic)
    clock = aware(now, "now")
    practitioner_id, start = parse_slot_key(slot)
    form = check_booking_form(
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        email=email,
        phone=phone,
        consent_care=consent_care,
        consent_marketing=consent_marketing,
        today=clock.astimezone(clinic.tz).date(),
    )
    chosen = next(
        (
            s
            for s in offered_slots(db, clinic, now=clock, limit=100)
            if s.practitioner_id == practitioner_id and s.start == start
        ),
        None,
    )
    if chosen is None:
        raise InputError.one(
            "slot", slot[:80], "this time is not free (any more); pick one of the times shown"
        )
    lang = language if language in clinic.languages else clinic.default_language
    until = clock + timedelta(minutes=clinic.online_booking.hold_minutes)
    request = SlotRequest(start=chosen.start, end=chosen.end, practitioner_id=practitioner_id)
    with audited(db, None, "online_booking.hold", username=ONLINE_ACTOR_NAME) as note:
        with db.transaction() as uow:
            booking = uow.online_bookings.hold(form, request, lang, clock, until)
            uow.outbox.add(
                MessageKind.ONLINE_BOOKING,
                clock,
                payload={"booking_id": booking.id, "language": lang},
            )
        note.detail = f"online booking {booking.id} held until {until.isoformat()}"
    return HeldBooking(booking, chosen.practitioner)


def _by_token(db: Database, token: str) -> OnlineBooking:
    if not isinstance(token, str) or not 20 <= len(token) <= 100 or not set(token) <= _TOKEN_CHARS:
        raise OnlineBookingRefusedError("unknown")
    with db.transaction() as uow:
        booking = uow.online_bookings.by_digest(secret_digest(token))
    if booking is None:
        raise OnlineBookingRefusedError("unknown")
    return booking


def _refusal(booking: OnlineBooking, at: datetime) -> OnlineBookingRefusedError | None:
    if booking.status is OnlineBookingStatus.CONFIRMED:
        return OnlineBookingRefusedError("confirmed", booking)
    if booking.status is OnlineBookingStatus.EXPIRED or at >= booking.hold_until:
        return OnlineBookingRefusedError("expired", booking)
    return None


def open_confirmation(db: Database, token: str, *, now: datetime | None = None) -> OnlineBooking:
    """The held request ``token`` confirms, or :class:`OnlineBookingRefusedError`. Reads only."""
    booking = _by_token(db, token)
    refused = _refusal(booking, aware(now, "now"))
    if refused is not None:
        raise refused
    return booking


def confirm_booking(
    db: Database, clinic: ClinicConfig, token: str, *, now: datetime | None = None
) -> OnlineBooking:
    """Book the held consultation for her: patient, appointment and confirmation message, all
    in one transaction with the audit row; or :class:`OnlineBookingRefusedError` and nothing
    booked (a hold past its time is released on the spot)."""
    clock = aware(now, "now")
    found = _by_token(db, token)
    if found.status is OnlineBookingStatus.HELD and clock >= found.hold_until:
        release_expired_holds(db, clock)
    with audited(db, None, "online_booking.confirm", username=ONLINE_ACTOR_NAME) as note:
        with db.transaction() as uow:
            booking = uow.online_bookings.get(found.id, lock=True)
            refused = _refusal(booking, clock)
            if refused is not None:
                raise refused
            patient_id = uow.online_bookings.matching_patient(booking.email, booking.birth_date)
            matched = patient_id is not None
            if patient_id is None:
                draft = PatientDraft(
                    given_name=booking.given_name,
                    family_name=booking.family_name,
                    birth_date=booking.birth_date,
                    email=booking.email,
                    phone=booking.phone,
                    consent_contact=booking.consent_marketing,
                )
                patient_id = uow.patients.add(draft, clock).id
                if booking.language != clinic.default_language:
                    uow.patients.set_language(patient_id, booking.language, clock)
            uow.online_bookings.release_claims(booking.id)
            appt = book_appointment_in(
                uow,
                patient_id,
                SlotRequest(
                    start=booking.start, end=booking.end, practitioner_id=booking.practitioner_id
                ),
                kind=AppointmentKind.CONSULTATION,
                note=ONLINE_NOTE,
                at=clock,
            )
            done = uow.online_bookings.confirm(booking.id, patient_id, appt.id, clock)
        note.patient_id = patient_id
        note.detail = (
            f"online booking {booking.id} appointment {appt.id} "
            f"{'matched existing patient' if matched else 'new patient'}"
        )
    return done


def release_expired_holds(db: Database, now: datetime | None = None) -> list[OnlineBooking]:
    """Release every hold that ran out by ``now``: its slot is free again, the request is
    ``expired`` and keeps no name or contact details. Audited ``online_booking.release``."""
    clock = aware(now, "now") if now is not None else utc_now()
    with db.transaction() as uow:
        if not uow.online_bookings.has_expired(clock):
            return []
    with audited(db, None, "online_booking.release", username=ONLINE_ACTOR_NAME) as note:
        with db.transaction() as uow:
            released = uow.online_bookings.expire_due(clock)
        note.detail = "online bookings " + ",".join(str(b.id) for b in released)
    return released


def booked_online(db: Database, appointment_ids: list[int]) -> set[int]:
    """Which of the appointments were booked on the public page (staff views flag them)."""
    if not appointment_ids:
        return set()
    with db.transaction() as uow:
        return uow.online_bookings.booked_online(appointment_ids)


__all__ = [
    "ONLINE_ACTOR_NAME",
    "ONLINE_NOTE",
    "HeldBooking",
    "OnlineBookingRefusedError",
    "booked_online",
    "confirm_booking",
    "offered_slots",
    "open_confirmation",
    "parse_slot_key",
    "release_expired_holds",
    "request_booking",
]

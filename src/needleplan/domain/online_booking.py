"""Online booking as values: her request, its states, and the checks of the public form.

A prospective patient picks a free consultation slot on the public booking page and gives her
name, date of birth, e-mail address, phone number and consent. The slot is *held* for her
(claimed like a booked visit, so nobody else can take it) until she confirms through the link
sent to her e-mail address (double opt-in) or the hold runs out. Only a confirmed request
becomes a patient record and an appointment (docs/online-booking.md).

States: ``held`` -> ``confirmed`` (she clicked in time) or ``expired`` (the hold ran out and
the worker released the slot). Nothing else changes a request.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from needleplan.domain.contact import normalise_email, normalise_phone
from needleplan.domain.language import N_
from needleplan.exceptions import FieldProblem, InputError

NAME_MAX = 100
#: The oldest and youngest person the page books (years on the day she books).
AGE_MIN, AGE_MAX = 18, 110


class OnlineBookingStatus(StrEnum):
    HELD = "held"  # the slot is held until ``hold_until``; waiting for her confirmation
    CONFIRMED = "confirmed"  # she confirmed in time: patient and appointment exist
    EXPIRED = "expired"  # the hold ran out; the slot was released, nothing was booked


@dataclass(frozen=True)
class OnlineBookingForm:
    """The public form, checked: what a held request stores."""

    given_name: str
    family_name: str
    birth_date: date
    email: str
    phone: str
    consent_marketing: bool


@dataclass(frozen=True)
class OnlineBooking:
    """One stored request (held, confirmed or expired)."""

    id: int
    status: OnlineBookingStatus
    created_at: datetime
    hold_until: datetime
    practitioner_id: int
    start: datetime
    end: datetime
    given_name: str
    family_name: str
    birth_date: date
    email: str
    phone: str
    language: str
    consent_marketing: bool
    patient_id: int | None = None
    appointment_id: int | None = None
    confirmed_at: datetime | None = None
    released_at: datetime | None = None


def _name(field: str, value: str, problems: list[FieldProblem]) -> str:
    clean = " ".join(value.split())
    if not clean or len(clean) > NAME_MAX or any(not (c.isprintable()) for c in clean):
        problems.append(FieldProblem(field, value[:120], N_("1-100 letters")))
    elif any(c in clean for c in '<>{}[]\\/@;="') or not any(c.isalpha() for c in clean):
        problems.append(FieldProblem(field, value[:120], N_("a name, without symbols")))
    return clean


def check_booking_form(
    *,
    given_name: str,
    family_name: str,
    birth_date: str,
    email: str,
    phone: str,
    consent_care: bool,
    consent_marketing: bool,
    today: date,
) -> OnlineBookingForm:
    """The public form, or :class:`InputError` naming every bad field (rules marked for
    translation: the page shows them in her language). Nothing is stored without
    ``consent_care``: the clinic needs it to contact her about the visit she books."""
    problems: list[FieldProblem] = []
    if not consent_care:
        problems.append(
            FieldProblem(
                "consent_care",
                False,
                N_("tick the consent box so the clinic may store your details for this visit"),
            )
        )
    given = _name("given_name", given_name, problems)
    family = _name("family_name", family_name, problems)
    born: date | None = None
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        problems.append(FieldProblem("birth_date", birth_date[:40], N_("a date like 1975-04-30")))
    if born is not None:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if not AGE_MIN <= age <= AGE_MAX:
            problems.append(
                FieldProblem(
                    "birth_date",
                    birth_date[:40],
                    N_("online booking is for adults: a date of birth 18-110 years ago"),
                )
            )
    address = ""
    with contextlib.suppress(ValueError):
        address = normalise_email(email) if email.strip() else ""
    if not address:
        problems.append(
            FieldProblem("email", email[:200], N_("an e-mail address like name@example.org"))
        )
    number = ""
    try:
        number = normalise_phone(phone)
    except ValueError:
        problems.append(
            FieldProblem(
                "phone",
                phone[:60],
                N_("a phone number with its country code, e.g. +49 30 1234567"),
            )
        )
    if problems:
        raise InputError(problems, source="online booking")
    assert born is not None
    return OnlineBookingForm(given, family, born, address, number, consent_marketing)


__all__ = [
    "AGE_MAX",
    "AGE_MIN",
    "OnlineBooking",
    "OnlineBookingForm",
    "OnlineBookingStatus",
    "check_booking_form",
]

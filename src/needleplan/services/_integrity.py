"""Booking integrity rules every front end shares: no start in the past on the clinic's wall
clock, treatment consent on record before a course, an assessment age that agrees with the date of birth, no measurement dated in the future
(checked against a given clock). Each refusal names the field, the value and the rule in
words a receptionist understands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo

from needleplan.domain.records import Patient, PatientDraft, SlotRequest
from needleplan.exceptions import FieldProblem, InputError


def _wall(value: datetime, tz: tzinfo | None) -> str:
    local = value.astimezone(tz) if tz is not None else value
    return f"{local:%Y-%m-%d %H:%M}"


def refuse_past_start(field: str, start: datetime, now: datetime, tz: tzinfo | None = None) -> None:
    """An :class:`InputError` when ``start`` is before ``now`` (shown on the clinic's clock)."""
    if start < now:
        raise InputError.one(
            field,
            _wall(start, tz),
            f"a session cannot start in the past (it is now {_wall(now, tz)} at the clinic)",
        )


def refuse_past_slots(
    slots: Sequence[SlotRequest], now: datetime, tz: tzinfo | None = None, field: str = "slots"
) -> None:
    problems = [
        FieldProblem(
            f"{field}[{i}].start" if len(slots) > 1 or field == "slots" else field,
            _wall(s.start, tz),
            f"a session cannot start in the past (it is now {_wall(now, tz)} at the clinic)",
        )
        for i, s in enumerate(slots)
        if s.start < now
    ]
    if problems:
        raise InputError(problems)


def refuse_past_day(field: str, day: date, today: date) -> None:
    if day < today:
        raise InputError.one(
            field,
            day.isoformat(),
            f"a course cannot start on a day that has passed (today is {today.isoformat()})",
        )


def refuse_without_treatment_consent(patient: Patient | PatientDraft) -> None:
    """A course needs the patient's consent to treatment on record."""
    if not patient.consent_treatment:
        raise InputError.one(
            "consent_treatment",
            "no",
            f"a course can only be booked once the patient has agreed to treatment, and "
            f"{patient.given_name} {patient.family_name} has no consent on record: tick "
            "'consent to treatment' on the patient's record (or when registering), then book",
        )


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def refuse_age_mismatch(age: int, birth_date: date, day: date) -> None:
    """The assessment's age must be the patient's age on the assessment day."""
    expected = age_on(birth_date, day)
    if age != expected:
        raise InputError.one(
            "age",
            age,
            f"does not agree with the date of birth {birth_date.isoformat()}: "
            f"the patient is {expected} on {day.isoformat()}",
        )


def refuse_future_measurement(measured_at: datetime, now: datetime) -> None:
    if measured_at > now:
        raise InputError.one(
            "measured_at",
            f"{measured_at.astimezone(now.tzinfo):%Y-%m-%d %H:%M}",
            "a measurement cannot be dated in the future "
            f"(it is now {now:%Y-%m-%d %H:%M} {now.tzname() or 'UTC'})",
        )

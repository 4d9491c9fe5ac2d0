"""Booking integrity: no start in the past on the clinic's clock, treatment consent on record before a
course, an assessment age that agrees with the date of birth; every refusal names the field, the
value and the rule and stores nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.exceptions import InputError
from needleplan.scheduling import example_clinic
from needleplan.services.moves import preview_move

CLINIC = example_clinic()
NOW = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


def _slot(start: datetime, who: int) -> tuple[datetime, datetime, int]:
    return (start, start + timedelta(minutes=45), who)


def test_a_course_starting_in_the_past_is_refused_and_nothing_is_stored(
    clinic: Any, protocol: Any
) -> None:
    past = [_slot(NOW - timedelta(hours=1), clinic.alice.id)]
    with pytest.raises(InputError) as err:
        services.book_course(clinic.db, clinic.patient.id, protocol, past, now=NOW)
    problem = err.value.problems[0]
    assert problem.field == "slots[0].start"
    assert problem.value == "2030-03-04 11:00"
    assert "cannot start in the past" in problem.rule
    assert "None" not in str(err.value)
    assert services.patient_file(clinic.db, clinic.patient.id).courses == []
    later = [_slot(NOW + timedelta(hours=1), clinic.alice.id)]
    booked = services.book_course(clinic.db, clinic.patient.id, protocol, later, now=NOW)
    assert len(booked.appointments) == 1


def test_a_single_visit_in_the_past_is_refused(clinic: Any) -> None:
    with pytest.raises(InputError, match="cannot start in the past") as err:
        services.book_appointment(
            clinic.db,
            clinic.patient.id,
            _slot(NOW - timedelta(minutes=5), clinic.bob.id),
            kind="review",
            now=NOW,
        )
    assert err.value.problems[0].field == "start"
    assert services.patient_file(clinic.db, clinic.patient.id).appointments == []


def test_a_move_into_the_past_is_refused(clinic: Any, protocol: Any) -> None:
    booked = services.book_course(
        clinic.db, clinic.patient.id, protocol, [_slot(NOW + timedelta(days=2), clinic.alice.id)]
    )
    appt = booked.appointments[0]
    with pytest.raises(InputError, match="cannot start in the past") as err:
        preview_move(clinic.db, CLINIC, appt.id, NOW - timedelta(days=1), clinic.alice.id, now=NOW)
    assert err.value.problems[0].field == "new_start"


def test_consultation_refuses_a_past_start_day_and_a_wrong_age(db: Any) -> None:
    today = NOW.astimezone(CLINIC.tz).date()
    nora = {
        "given_name": "Nora",
        "family_name": "Newcomer",
        "birth_date": "1980-05-06",  # 49 on 2030-03-04
        "consent_treatment": True,
    }
    wrong_age = reference_assessment().model_dump(mode="json") | {"age": 50}
    with pytest.raises(InputError) as err:
        services.book_consultation(
            db, CLINIC, today - timedelta(days=1), new_patient=nora, assessment=wrong_age, now=NOW
        )
    assert err.value.problems[0].field == "start"
    with pytest.raises(InputError) as err:
        services.book_consultation(
            db, CLINIC, date(2030, 4, 1), new_patient=nora, assessment=wrong_age, now=NOW
        )
    problem = err.value.problems[0]
    assert (problem.field, problem.value) == ("age", 50)
    assert "1980-05-06" in problem.rule
    assert "49" in problem.rule
    assert services.list_patients(db) == []
    done = services.book_consultation(
        db,
        CLINIC,
        date(2030, 4, 1),
        new_patient=nora,
        assessment=wrong_age | {"age": 49},
        now=NOW,
    )
    assert done.booking.appointments[0].start > NOW


def test_a_course_needs_treatment_consent_on_record_on_every_booking_path(
    clinic: Any, protocol: Any
) -> None:
    """Without consent to treatment no course is booked (course, planned course, consultation for
    a stored or a new patient); the refusal names the field, the patient and what to do, and
    nothing is stored. Recording the consent lets the same booking through."""
    ann = services.register_patient(
        clinic.db, {"given_name": "Ann", "family_name": "Lee", "birth_date": "1980-05-06"}
    )
    services.record_assessment(
        clinic.db, ann.id, reference_assessment().model_copy(update={"age": 49}), assessed_at=NOW
    )
    later = [_slot(NOW + timedelta(days=1), clinic.alice.id)]
    attempts = [
        lambda: services.book_course(clinic.db, ann.id, protocol, later, now=NOW),
        lambda: services.plan_and_book_course(clinic.db, ann.id, date(2030, 4, 1), CLINIC, now=NOW),
        lambda: services.book_consultation(
            clinic.db, CLINIC, date(2030, 4, 1), patient_id=ann.id, now=NOW
        ),
    ]
    for attempt in attempts:
        with pytest.raises(InputError) as err:
            attempt()
        (problem,) = err.value.problems
        assert (problem.field, problem.value) == ("consent_treatment", "no")
        assert "Ann Lee has no consent on record" in problem.rule
        assert "agreed to treatment" in problem.rule
        assert "None" not in str(err.value)
    newcomer = {"given_name": "Nia", "family_name": "New", "birth_date": "1980-05-06"}
    with pytest.raises(InputError, match="Nia New has no consent on record"):
        services.book_consultation(
            clinic.db,
            CLINIC,
            date(2030, 4, 1),
            new_patient=newcomer,
            assessment=reference_assessment().model_dump(mode="json") | {"age": 49},
            now=NOW,
        )
    assert [p.given_name for p in services.list_patients(clinic.db)].count("Nia") == 0
    assert services.patient_file(clinic.db, ann.id).courses == []
    services.update_patient(clinic.db, ann.id, {"consent_treatment": True})
    assert services.book_course(clinic.db, ann.id, protocol, later, now=NOW).appointments

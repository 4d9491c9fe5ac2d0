"""Booking from the consultation: new patient + assessment + course in ONE transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.exceptions import ConflictError, InputError
from needleplan.scheduling import example_clinic
from needleplan.storage.tables import AppointmentRow, AssessmentRow, CourseRow, PatientRow

CLINIC = example_clinic()


def _born_aged(years: int) -> str:
    """A birth date making her ``years`` old today (the reference assessment says 50)."""
    return date(date.today().year - years, 1, 1).isoformat()


NORA = {
    "given_name": "Nora",
    "family_name": "Newcomer",
    "birth_date": _born_aged(50),
    "consent_treatment": True,
}


def _counts(db: Any) -> dict[str, int]:
    with db.transaction() as uow:
        return {
            row.__tablename__: uow.session.execute(
                select(func.count()).select_from(row)
            ).scalar_one()
            for row in (PatientRow, AssessmentRow, CourseRow, AppointmentRow)
        }


def _lose_the_race(db: Any, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Each of the first ``times`` datings is followed by another booking of its first slot."""
    rival = services.register_patient(
        db,
        {
            "consent_treatment": True,
            "given_name": "Rita",
            "family_name": "Rival",
            "birth_date": "1970-01-01",
        },
    )
    real = services.booking.schedule_course
    taken: list[int] = []

    def schedule_then_someone_books(*args: Any, **kwargs: Any) -> Any:
        schedule = real(*args, **kwargs)
        if len(taken) < times:
            first = schedule.sessions[0]
            ids = services.sync_practitioners(db, CLINIC)
            appt = services.book_appointment(
                db, rival.id, (first.start, first.end, ids[first.practitioner]), kind="review"
            )
            taken.append(appt.id)
        return schedule

    monkeypatch.setattr(services.booking, "schedule_course", schedule_then_someone_books)
    return taken


def test_losing_every_race_stores_no_patient_no_assessment_no_course(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _lose_the_race(db, monkeypatch, times=3)
    before = _counts(db)
    with pytest.raises(ConflictError) as err:
        services.book_consultation(
            db, CLINIC, date(2030, 9, 2), new_patient=NORA, assessment=reference_assessment()
        )
    text = str(err.value)
    assert text.startswith("nothing was booked (no patient, no assessment, no course stored)")
    assert "3 times in a row" in text
    assert "choose another start date or practitioner" in text
    assert len(taken) == 3
    after = _counts(db)
    assert after == before | {"appointments": before["appointments"] + 3}  # only the rivals'
    assert [p.family_name for p in services.list_patients(db)] == ["Rival"]


def test_losing_one_race_redates_and_stores_everything_once(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _lose_the_race(db, monkeypatch, times=1)
    done = services.book_consultation(
        db, CLINIC, date(2030, 9, 2), new_patient=NORA, assessment=reference_assessment()
    )
    assert done.registered
    assert done.assessed
    assert len(taken) == 1
    names = [p.family_name for p in services.list_patients(db)]
    assert sorted(names) == ["Newcomer", "Rival"], "the lost attempt left no patient behind"
    assert len(services.assessment_history(db, done.patient.id)) == 1
    (rival,) = services.patient_file(db, services.list_patients(db, "rival")[0].id).appointments
    first = done.booking.appointments[0]
    assert (first.start, first.practitioner_id) != (rival.start, rival.practitioner_id)
    assert done.booking.course.assessment_id == done.assessment.id


def test_an_existing_patient_books_from_her_stored_assessment(clinic: Any) -> None:
    record = services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    done = services.book_consultation(
        clinic.db, CLINIC, date(2030, 9, 2), patient_id=clinic.patient.id
    )
    assert not done.registered
    assert not done.assessed
    assert done.assessment.id == record.id
    assert len(done.booking.appointments) == done.booking.course.planned_sessions


def test_exactly_one_of_patient_and_new_patient(db: Any) -> None:
    with pytest.raises(InputError, match="exactly one"):
        services.book_consultation(db, CLINIC, date(2030, 9, 2), assessment=reference_assessment())
    with pytest.raises(InputError, match="a new patient needs an assessment"):
        services.book_consultation(db, CLINIC, date(2030, 9, 2), new_patient=NORA)
    with pytest.raises(InputError, match="given_name"):
        services.book_consultation(
            db,
            CLINIC,
            date(2030, 9, 2),
            new_patient=NORA | {"given_name": ""},
            assessment=reference_assessment(),
        )
    assert services.list_patients(db) == []

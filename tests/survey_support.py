"""A patient with one performed session (assessment, course, signed consent) for the survey
tests, and the times around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from needleplan import services

#: When her session was performed (a weekday morning in Berlin, years ahead of the clock).
PERFORMED = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)
#: Six weeks and a day later, 10:00 in Berlin: the survey is due.
SURVEY_DAY = PERFORMED + timedelta(weeks=6, days=1)


def performed_session(db: Any, patient_id: int, practitioner_id: int) -> tuple[int, int]:
    """Book a one-session course for her and perform it at :data:`PERFORMED`; returns
    ``(course id, performed session id)``."""
    from tests.conftest import make_protocol_value
    from tests.consent_support import sign_treatment

    patient = services.get_patient(db, patient_id)
    record = services.record_assessment(
        db,
        patient_id,
        {
            "age": patient.age_on((PERFORMED - timedelta(days=7)).date()),
            "severity": "moderate",
            "areas": ["full_face"],
        },
        assessed_at=PERFORMED - timedelta(days=7),
    )
    booking = services.book_course(
        db,
        patient_id,
        make_protocol_value(1),
        [(PERFORMED, PERFORMED + timedelta(minutes=45), practitioner_id)],
        assessment_id=record.id,
    )
    first = booking.appointments[0]
    sign_treatment(db, patient_id)
    session = services.record_session(
        db,
        {
            "performed_at": first.start.isoformat(),
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.5},
            "passes": 2,
            "practitioner_id": practitioner_id,
        },
        appointment_id=first.id,
    )
    return booking.course.id, session.id

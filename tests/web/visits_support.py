"""Visits at times relative to the real clock, for the visit pages and the appointment API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from needleplan import services
from needleplan.domain.records import Appointment
from tests.conftest import make_protocol_value
from tests.consent_support import sign_treatment

from .patients_fixtures import ClinicApp

CHART: dict[str, Any] = {
    "areas": ["full_face", "neck"],
    "device": "Dermapen 4",
    "needle_depth_mm": {"full_face": 1.0, "neck": 0.5},
    "passes": 3,
    "product": "HA serum",
    "lot": "LOT-77",
    "adverse_events": [{"kind": "erythema", "severity": "mild"}],
}


def quarter_hour(offset: timedelta) -> datetime:
    """Now plus ``offset``, on the 15-minute grid (the slot claims' grid)."""
    now = datetime.now(UTC) + offset
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


def until_tomorrow_at(hour: int) -> timedelta:
    """The offset from now to tomorrow at ``hour``:00 UTC (inside the calendar's opening hours,
    whatever the time of day the test runs)."""
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return tomorrow - now


@dataclass
class Booked:
    patient_id: int
    course_id: int
    appointments: list[Appointment]


def book_visits(
    app: ClinicApp, *offsets: timedelta, given: str = "Vera", consent: bool = True
) -> Booked:
    """A new patient with a course of one session per offset from now (45 minutes each), who
    signed her treatment consent (unless ``consent=False``: then her sessions cannot be
    charted)."""
    patient = services.register_patient(
        app.db,
        {
            "given_name": given,
            "family_name": "Visit",
            "birth_date": "1970-02-03",
            "consent_treatment": True,
        },
        confirm_duplicate=True,  # one made-up patient per booking, the same on purpose
    )
    if consent:
        sign_treatment(app.db, patient.id)
    starts = [quarter_hour(o) for o in offsets]
    booking = services.book_course(
        app.db,
        patient.id,
        make_protocol_value(len(starts)),
        [(s, s + timedelta(minutes=45), app.practitioner_id) for s in starts],
        now=min([*starts, datetime.now(UTC)]),  # booked back when its first session was ahead
    )
    return Booked(patient.id, booking.course.id, list(booking.appointments))

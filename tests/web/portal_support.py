"""Set-up for the patient-portal tests: the booking tests' clinic with a phone number, a patient
booked through the staff booking (so she has an assessment, a course and a handout), and her
links."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import Appointment, AppointmentStatus
from needleplan.services import portal_links
from needleplan.web.auth import InMemoryUserStore

from .booking_support import Clinic, book_json, make_clinic, new_patient_body, signed_in
from .conftest import TestClient

PHONE = "+49 30 555 0100"


@dataclass
class Booked:
    patient_id: int
    course_id: int
    appointments: list[Appointment]


@pytest.fixture
def psite(user_store: InMemoryUserStore, db: Any) -> Clinic:
    return make_clinic(user_store, db, phone=PHONE)


@pytest.fixture
def pweb(psite: Clinic) -> Iterator[TestClient]:
    with TestClient(psite.app, base_url="http://testserver") as c:
        yield c


def book_nora(client: TestClient, site: Clinic, **patient: Any) -> Booked:
    """Nora Newcomer, booked by a practitioner with the reference assessment (five sessions from
    Monday 3 March 2031, years ahead of the clock)."""
    token = signed_in(client, "prac")
    response = book_json(client, token, new_patient_body())
    assert response.status_code == 201, response.text
    data = response.json()
    # The booking form takes names and birth date; her contact details are added on her record
    # before the worker renders the confirmation.
    contact = {"email": "nora@example.org", "consent_contact": True} | patient
    services.update_patient(site.db, data["patient"]["id"], contact)
    client.cookies.clear()  # she is not signed in
    appts = services.appointments_between(
        site.db,
        datetime(2031, 1, 1, tzinfo=UTC),
        datetime(2032, 1, 1, tzinfo=UTC),
        statuses=(AppointmentStatus.BOOKED,),
    )
    mine = sorted(
        (a for a in appts if a.patient_id == data["patient"]["id"]), key=lambda a: a.start
    )
    return Booked(data["patient"]["id"], data["course_id"], mine)


def link(site: Clinic, patient_id: int, purpose: str = "portal", **kwargs: Any) -> tuple[str, int]:
    token, made = portal_links.issue_link(site.db, None, patient_id, purpose, **kwargs)
    return token, made.id


def soon_visit(site: Clinic, patient_id: int, hours: float = 3) -> Appointment:
    """A visit a few hours from now (inside the 24-hour notice period)."""
    now = datetime.now(UTC) + timedelta(hours=hours)
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return services.book_appointment(
        site.db,
        patient_id,
        (start, start + timedelta(minutes=30), site.practitioners["Bob Practitioner"]),
        kind="review",
    )

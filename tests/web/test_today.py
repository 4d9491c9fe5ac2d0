""" "Today": each role's home page is its day (appointments with their state, recalls due today,
new contact requests, charts missing, next free slots, conflicts for admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentKind

from . import booking_support
from .booking_support import ZONE, Clinic, signed_in
from .conftest import TestClient

backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _today_noon() -> datetime:
    today = datetime.now(ZONE).date()
    return datetime(today.year, today.month, today.day, 12, 0, tzinfo=ZONE)


@pytest.fixture
def day(site: Clinic) -> dict[str, int]:
    noon = _today_noon()
    earlier = noon - timedelta(days=2)
    alice = site.practitioners["Alice Practitioner"]
    today_patient = site.patient("Tina", "Today", phone="+49 30 555 1234")
    appt = services.book_appointment(
        site.db,
        today_patient.id,
        (noon, noon + timedelta(hours=1), alice),
        kind=AppointmentKind.REVIEW,
        now=earlier,
    )
    uncharted = site.patient("Una", "Uncharted")
    yesterday = noon - timedelta(days=1)
    past = services.book_appointment(
        site.db,
        uncharted.id,
        (yesterday, yesterday + timedelta(hours=1), alice),
        kind=AppointmentKind.TREATMENT,
        now=earlier,
    )
    recalled = site.patient("Rita", "Recall")
    services.add_recall(site.db, recalled.id, noon.date())
    return {"appt": appt.id, "past": past.id, "today": today_patient.id, "recall": recalled.id}


@pytest.mark.parametrize("role", ["admin", "prac", "desk"])
def test_each_role_sees_its_day(
    web: TestClient, site: Clinic, day: dict[str, int], role: str
) -> None:
    signed_in(web, role)
    page = web.get("/app/").text
    assert 'id="today"' in page
    assert "Appointments (1)" in page
    assert f'data-appointment="{day["appt"]}"' in page
    assert f'href="/app/patients/{day["today"]}"' in page
    assert 'href="tel:+49305551234"' in page
    assert "Recalls due today (1)" in page
    assert "Rita Recall" in page
    assert "New contact requests (0)" in page
    assert 'id="today-free"' in page
    charts = 'id="today-chart-missing"' in page
    assert charts == (role in ("admin", "prac"))
    if charts:
        assert "Una Uncharted" in page
    assert ('id="today-conflicts"' in page) == (role == "admin")
    events = services.audit_log(site.db, patient_id=day["today"])
    assert any(e.action == "calendar.read" and "today" in e.detail for e in events)


def test_a_checked_in_visit_shows_its_state(
    web: TestClient, site: Clinic, day: dict[str, int]
) -> None:
    with site.db.transaction() as uow:
        uow.visits.check_in(day["appt"], datetime.now(UTC))
    signed_in(web, "desk")
    page = web.get("/app/").text
    assert "checked in" in page

"""The calendar's time grid, find a slot -> book, the waitlist offered a freed slot (HTTP, per
role)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentKind

from . import booking_support
from .booking_support import MONDAY, Clinic, local, signed_in
from .conftest import TestClient, csrf_from

backend = booking_support.backend
site = booking_support.site
web = booking_support.web

ROLES = ("admin", "prac", "desk")


def _visit(site: Clinic, who: str = "Alice Practitioner", hour: int = 10, **extra: object) -> int:
    patient = site.patient("Gina", "Grid", phone="+49 30 1234567", email="gina@example.org")
    start = local(MONDAY, hour)
    appt = services.book_appointment(
        site.db,
        patient.id,
        (start, start + timedelta(minutes=90), site.practitioners[who]),
        kind=AppointmentKind.REVIEW,
    )
    return appt.id


@pytest.mark.parametrize("role", ROLES)
def test_day_view_is_a_grid_with_a_column_per_practitioner(
    web: TestClient, site: Clinic, role: str
) -> None:
    appt = _visit(site)
    signed_in(web, role)
    page = web.get("/app/calendar", params={"view": "day", "date": MONDAY.isoformat()}).text
    assert page.count('class="tg-practitioner"') == 2
    assert "Alice Practitioner</h3>" in page
    assert "Bob Practitioner</h3>" in page
    block = re.search(rf'<article class="([^"]+)" data-appointment="{appt}"', page)
    assert block
    # 09:00-18:00 on 15-minute rows after the header row: 10:00 is row 6, 90 minutes span 6 rows,
    # in the first practitioner's column (after the time axis).
    assert block.group(1) == "cal-appt cal-booked kind-review gr-6 gs-6 gc-2"
    patient = services.list_patients(site.db)[0]
    assert f'href="/app/patients/{patient.id}"' in page
    assert 'href="tel:+49301234567"' in page
    assert 'href="mailto:gina@example.org"' in page


def test_week_of_one_practitioner_draws_closures_and_days_off(
    web: TestClient, site: Clinic
) -> None:
    site.app.state.clinic = booking_support.clinic_config(
        closures=[{"start": (MONDAY + timedelta(days=2)).isoformat(), "reason": "staff training"}],
        practitioners=[
            {"name": "Alice Practitioner", "hours": {"monday": ["09:00-12:00", "13:00-18:00"]}},
            {"name": "Bob Practitioner"},
        ],
    )
    signed_in(web, "desk")
    alice = site.practitioners["Alice Practitioner"]
    page = web.get(
        "/app/calendar",
        params={"view": "week", "date": MONDAY.isoformat(), "practitioner": alice},
    ).text
    assert page.count('class="cal-day tg-section"') == 7
    offs = re.findall(r'class="tg-off ([^"]+?)( tg-off-day)?" title="([^"]+)"', page)
    reasons = [r for _, _, r in offs]
    assert "break" in reasons  # Monday 12:00-13:00
    assert "clinic closure (staff training)" in reasons
    assert "Alice Practitioner does not work on Tuesdays" in reasons
    assert "clinic closed on Saturdays" in reasons
    assert ("gr-14 gs-4 gc-2", "", "break") in offs  # Monday 12:00-13:00


def test_find_a_slot_then_one_click_books_a_consultation(web: TestClient, site: Clinic) -> None:
    patient = site.patient("Carla", "Consult")
    signed_in(web, "desk")
    page = web.get(
        "/app/calendar/find",
        params={"kind": "consultation", "not_before": MONDAY.isoformat(), "patient": patient.id},
    )
    assert page.status_code == 200
    keys = re.findall(r'name="slot" value="([^"]+)"', page.text)
    assert len(keys) == 12
    assert "Mon 03 Mar, 09:00–09:30" in page.text
    response = web.post(
        "/app/calendar/book",
        data={
            "patient_id": patient.id,
            "kind": "consultation",
            "slot": keys[0],
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "view=day" in response.headers["location"]
    (appt,) = services.appointments_between(
        site.db, local(MONDAY, 0), local(MONDAY + timedelta(days=1), 0)
    )
    assert appt.kind is AppointmentKind.CONSULTATION
    assert appt.patient_id == patient.id
    again = web.post(
        "/app/calendar/book",
        data={
            "patient_id": patient.id,
            "kind": "consultation",
            "slot": keys[0],
            "csrf_token": csrf_from(page.text),
        },
    )
    assert again.status_code == 409
    assert "taken meanwhile" in again.text


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        ({"kind": "spa"}, 422, "kind"),
        ({"slot": "nonsense"}, 422, "slot"),
        ({"slot": "1@2020-01-06T10:00:00+01:00"}, 422, "past"),
        ({"patient_id": "999999"}, 404, "999999"),
    ],
)
def test_booking_a_slot_refuses_bad_input(
    web: TestClient, site: Clinic, data: dict[str, str], status: int, text: str
) -> None:
    patient = site.patient()
    token = signed_in(web, "desk")
    key = f"{site.practitioners['Alice Practitioner']}@{local(MONDAY, 10).isoformat()}"
    body = {"patient_id": str(patient.id), "kind": "review", "slot": key, "csrf_token": token}
    response = web.post("/app/calendar/book", data=body | data)
    assert response.status_code == status, response.text
    assert text in response.text
    assert services.appointments_between(site.db, local(MONDAY, 0), local(MONDAY, 23)) == []


def test_find_and_waitlist_need_a_sign_in(web: TestClient) -> None:
    for url in ("/app/calendar/find", "/app/waitlist"):
        response = web.get(url, follow_redirects=False)
        assert response.status_code in (303, 401), url


@pytest.mark.parametrize("role", ROLES)
def test_a_cancelled_slot_is_offered_to_the_waitlist(
    web: TestClient, site: Clinic, role: str
) -> None:
    appt = _visit(site)
    waiting = site.patient("Wendy", "Waiting")
    token = signed_in(web, role)
    added = web.post(
        "/app/waitlist",
        data={
            "patient_id": waiting.id,
            "kind": "review",
            "practitioner": "any",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    listing = web.get("/app/waitlist").text
    assert "Wendy Waiting" in listing
    cancelled = web.post(
        f"/app/appointments/{appt}/cancel",
        data={
            "reason": "ill",
            "next": f"/app/calendar?view=day&date={MONDAY}",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    offer = web.get(cancelled.headers["location"])
    assert 'id="freed-offer"' in offer.text
    assert "Wendy Waiting" in offer.text
    slot = re.search(r'name="slot" value="([^"]+)"', offer.text)
    assert slot
    booked = web.post(
        "/app/calendar/book",
        data={
            "patient_id": waiting.id,
            "kind": "review",
            "slot": slot.group(1),
            "csrf_token": csrf_from(offer.text),
        },
        follow_redirects=False,
    )
    assert booked.status_code == 303
    assert "Wendy Waiting" not in web.get("/app/waitlist").text
    (new,) = [
        a
        for a in services.appointments_between(site.db, local(MONDAY, 0), local(MONDAY, 23))
        if a.status.value == "booked"
    ]
    assert new.patient_id == waiting.id
    assert new.start == local(MONDAY, 10)


def test_waitlist_refuses_bad_input_and_removes(web: TestClient, site: Clinic) -> None:
    patient = site.patient()
    token = signed_in(web, "desk")
    bad = web.post(
        "/app/waitlist",
        data={"patient_id": patient.id, "kind": "spa", "csrf_token": token},
    )
    assert bad.status_code == 422
    assert "kind" in bad.text
    web.post(
        "/app/waitlist",
        data={"patient_id": patient.id, "kind": "session", "csrf_token": token},
    )
    entry = re.search(r'data-entry="(\d+)"', web.get("/app/waitlist").text)
    assert entry
    removed = web.post(
        f"/app/waitlist/{entry.group(1)}/remove", data={"csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "Nobody is waiting" in web.get("/app/waitlist").text


def test_move_form_offers_free_slots_and_the_preview_names_a_practitioner_change(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    response = booking_support.book_json(web, token, booking_support.new_patient_body())
    assert response.status_code == 201, response.text
    data = response.json()
    second = data["sessions"][1]["appointment_id"]
    form = web.get(f"/app/appointments/{second}/move")
    assert 'id="move-free-slots"' in form.text
    offered = re.findall(r'class="slot" data-slot="(\d+)@([^"]+)"', form.text)
    assert len(offered) == 8
    appt = services.get_appointment(site.db, second)
    assert all(
        (int(pid), start) != (appt.practitioner_id, appt.start.isoformat())
        for pid, start in offered
    )
    bob = site.practitioners["Bob Practitioner"]
    day = appt.start.astimezone(booking_support.ZONE).date()
    preview = web.post(
        f"/app/appointments/{second}/move",
        data={
            "day": day.isoformat(),
            "time": appt.start.astimezone(booking_support.ZONE).strftime("%H:%M"),
            "practitioner_id": bob,
            "csrf_token": csrf_from(form.text),
        },
    )
    assert preview.status_code == 200, preview.text
    assert "Alice Practitioner → <strong>Bob Practitioner</strong>" in preview.text
    assert '<td class="move-change"><strong>practitioner</strong></td>' in preview.text


def test_cancelling_from_the_visit_page_offers_the_slot_too(web: TestClient, site: Clinic) -> None:
    appt = _visit(site)
    waiting = site.patient("Vicky", "Visitpage")
    token = signed_in(web, "desk")
    web.post(
        "/app/waitlist",
        data={"patient_id": waiting.id, "kind": "review", "csrf_token": token},
    )
    cancelled = web.post(
        f"/app/visits/{appt}/cancel",
        data={
            "reason": "ill",
            "next": f"/app/calendar?view=day&date={MONDAY}",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert "freed=" in cancelled.headers["location"]
    assert "Vicky Visitpage" in web.get(cancelled.headers["location"]).text

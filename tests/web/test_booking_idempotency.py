"""A double click or a replayed booking form or request books once (idempotency keys), and the
booking routes refuse a start in the past in the receptionist's words."""

from __future__ import annotations

import re
from datetime import date, timedelta

from needleplan import services

from . import booking_support
from .booking_support import MONDAY, Clinic, book_json, new_patient_body, signed_in
from .conftest import REFERENCE, TestClient, csrf_from

backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _hidden_key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found is not None, "the booking form carries an idempotency key"
    return found.group(1)


def test_a_replayed_booking_form_books_once(web: TestClient, site: Clinic) -> None:
    jane = site.patient()
    services.record_assessment(site.db, jane.id, REFERENCE)
    signed_in(web, "desk")
    form = web.get("/app/booking", params={"patient_id": jane.id})
    key = _hidden_key(form.text)
    data = {
        "patient_id": jane.id,
        "start": MONDAY.isoformat(),
        "practitioner_id": "any",
        "csrf_token": csrf_from(form.text),
        "idempotency_key": key,
    }
    first = web.post("/app/booking", data=data)
    assert first.status_code == 201, first.text
    again = web.post("/app/booking", data=data)  # the double click
    assert again.status_code == 201
    assert "Booked: course for Jane Doe" in again.text
    courses = services.patient_file(site.db, jane.id).courses
    assert len(courses) == 1
    # a fresh form has a fresh key; a second course is refused for its own reason
    assert _hidden_key(web.get("/app/booking", params={"patient_id": jane.id}).text) != key


def test_a_replayed_api_call_with_the_same_idempotency_key_books_once(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    body = new_patient_body()
    first = book_json(web, token, body, **{"Idempotency-Key": "booking-0001-abc"})
    assert first.status_code == 201, first.text
    again = book_json(web, token, body, **{"Idempotency-Key": "booking-0001-abc"})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(services.list_patients(site.db)) == 1
    assert len(services.patient_file(site.db, first.json()["patient"]["id"]).courses) == 1
    bad = book_json(web, token, body, **{"Idempotency-Key": "no spaces allowed"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_failed_request_frees_its_key_for_the_corrected_one(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    key = {"Idempotency-Key": "booking-0002-abc"}
    past = (date.today() - timedelta(days=3)).isoformat()
    refused = book_json(web, token, new_patient_body(start=past), **key)
    assert refused.status_code == 422
    problem = refused.json()["errors"][0]
    assert problem["field"] == "start"
    assert problem["value"] == past
    assert "day that has passed" in problem["rule"]
    assert services.list_patients(site.db) == []
    booked = book_json(web, token, new_patient_body(), **key)
    assert booked.status_code == 201, booked.text

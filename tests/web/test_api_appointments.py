"""``POST /api/v1/appointments``: a single visit booked by an integration, with the web's rules
(opening hours and free time in the clinic calendar, no start in the past, the database's slot
claims), audited, and an ``Idempotency-Key`` that books once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services

from .booking_support import ZONE, clinic_config
from .patients_fixtures import ClinicApp, audit_actions, bearer, clinic_app, web

__all__ = ["clinic_app", "web"]


def _next_monday(hour: int) -> datetime:
    today = date.today()
    monday = today + timedelta(days=7 - today.weekday() + 7)  # a Monday 1-2 weeks ahead
    return datetime(monday.year, monday.month, monday.day, hour, 0, tzinfo=ZONE)


@pytest.fixture
def alice(clinic_app: ClinicApp) -> int:
    """The clinic calendar in force: Monday-Friday 09:00-18:00, Alice and Bob (Berlin)."""
    config = clinic_config()
    clinic_app.app.state.clinic = config
    return services.sync_practitioners(clinic_app.db, config)["Alice Practitioner"]


def _visit(clinic_app: ClinicApp, alice: int, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "patient_id": clinic_app.patient_id,
        "kind": "review",
        "start": start.isoformat(),
        "practitioner_id": alice,
    } | extra


def test_a_visit_is_booked_once_per_idempotency_key_and_audited(
    web: TestClient, clinic_app: ClinicApp, alice: int
) -> None:
    desk = bearer(clinic_app, "desk") | {"Idempotency-Key": "crm-visit-0001"}
    body = _visit(clinic_app, alice, _next_monday(10), minutes=30, note="check the neck")
    first = web.post("/api/v1/appointments", json=body, headers=desk)
    assert first.status_code == 201, first.text
    booked = first.json()
    assert (booked["kind"], booked["status"], booked["patient_id"]) == (
        "review",
        "booked",
        clinic_app.patient_id,
    )
    assert datetime.fromisoformat(booked["end"]) - datetime.fromisoformat(
        booked["start"]
    ) == timedelta(minutes=30)
    assert "note" not in booked  # notes are clinical; the desk token does not see them
    again = web.post("/api/v1/appointments", json=body, headers=desk)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == booked["id"]
    reviews = [
        a
        for a in services.patient_file(clinic_app.db, clinic_app.patient_id).appointments
        if a.kind.value == "review"
    ]
    assert [a.id for a in reviews] == [booked["id"]]
    assert ("desk", "appointment.book", clinic_app.patient_id) in audit_actions(
        clinic_app.db, clinic_app.patient_id
    )


def test_a_taken_time_or_closed_hours_answer_409_and_a_past_start_422(
    web: TestClient, clinic_app: ClinicApp, alice: int
) -> None:
    prac = bearer(clinic_app, "prac")
    start = _next_monday(11)
    first = web.post("/api/v1/appointments", json=_visit(clinic_app, alice, start), headers=prac)
    assert first.status_code == 201, first.text
    taken = web.post(
        "/api/v1/appointments",
        json=_visit(clinic_app, alice, start + timedelta(minutes=15), kind="maintenance"),
        headers=prac,
    )
    assert taken.status_code == 409, taken.text
    sunday = web.post(
        "/api/v1/appointments",
        json=_visit(clinic_app, alice, start - timedelta(days=1)),
        headers=prac,
    )
    assert sunday.status_code == 409, sunday.text
    past = web.post(
        "/api/v1/appointments",
        json=_visit(clinic_app, alice, datetime(2020, 3, 2, 10, 0, tzinfo=ZONE)),
        headers=prac,
    )
    assert past.status_code == 422, past.text
    (error,) = past.json()["errors"]
    assert error["field"] == "start"
    assert "cannot start in the past" in error["rule"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "treatment"}, "course_id"),
        ({"kind": "surgery"}, "kind"),
        ({"practitioner_id": 999}, "practitioner_id"),
        ({"start": "2031-03-03T10:00"}, "start"),
        ({"colour": "red"}, "colour"),
        ({"minutes": 10_000}, "minutes"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    web: TestClient, clinic_app: ClinicApp, alice: int, change: dict[str, Any], field: str
) -> None:
    prac = bearer(clinic_app, "prac")
    body = _visit(clinic_app, alice, _next_monday(12)) | change
    answer = web.post("/api/v1/appointments", json=body, headers=prac)
    assert answer.status_code == 422, answer.text
    assert field in {e["field"].split(".")[-1] for e in answer.json()["errors"]}


def test_without_a_token_nothing_is_booked(
    web: TestClient, clinic_app: ClinicApp, alice: int
) -> None:
    answer = web.post("/api/v1/appointments", json=_visit(clinic_app, alice, _next_monday(13)))
    assert answer.status_code == 401
    assert all(
        a.kind.value != "review"
        for a in services.patient_file(clinic_app.db, clinic_app.patient_id).appointments
    )


def test_the_route_is_in_the_openapi(web: TestClient) -> None:
    post = web.get("/api/v1/openapi.json").json()["paths"]["/api/v1/appointments"]["post"]
    assert {"201", "409", "422"} <= set(post["responses"])
    assert "Idempotency-Key" in {p["name"] for p in post.get("parameters", [])}

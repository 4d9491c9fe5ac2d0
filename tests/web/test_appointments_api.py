"""The appointment REST API: run the visit with a bearer token, the pages' roles, the visit's
wall-clock rules (422 before the start), one error shape, and every change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services

from .patients_fixtures import ClinicApp, audit_actions, bearer, clinic_app, web
from .visits_support import CHART, book_visits

__all__ = ["clinic_app", "web"]

HOUR = timedelta(hours=1)


def _errors(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"errors"}
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def test_check_in_then_chart_each_session_completes_the_course_and_opens_the_recall(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, -2 * HOUR, timedelta(minutes=10))
    first, second = booked.appointments
    desk, prac = bearer(clinic_app, "desk"), bearer(clinic_app, "prac")
    arrived = web.post(f"/api/v1/appointments/{second.id}/check-in", headers=desk)
    assert arrived.status_code == 200, arrived.text
    assert (arrived.json()["status"], arrived.json()["status_label"]) == ("arrived", "checked in")
    assert "note" not in arrived.json()  # notes are clinical
    charted = web.post(f"/api/v1/appointments/{first.id}/session", headers=prac, json=CHART)
    assert charted.status_code == 201, charted.text
    assert charted.headers["location"] == f"/api/v1/courses/{booked.course_id}"
    assert charted.json()["course"] == {
        "id": booked.course_id,
        "status": "active",
        "remaining_sessions": 1,
    }
    assert charted.json()["session"]["practitioner_id"] == clinic_app.practitioner_id
    last = web.post(f"/api/v1/appointments/{second.id}/session", headers=prac, json=CHART)
    assert last.status_code == 201, last.text
    assert last.json()["course"]["status"] == "completed"
    course = web.get(f"/api/v1/courses/{booked.course_id}", headers=prac).json()
    assert [e["remaining_after"] for e in course["ledger"]] == [2, 1, 0]
    assert [a["status"] for a in course["appointments"]] == ["performed", "performed"]
    assert [s["lot"] for s in course["sessions"]] == ["LOT-77", "LOT-77"]
    front = web.get(f"/api/v1/courses/{booked.course_id}", headers=desk).json()
    assert "sessions" not in front
    assert [r.patient_id for r in services.recall_list(clinic_app.db)].count(booked.patient_id) == 1
    actions = audit_actions(clinic_app.db, booked.patient_id)
    assert ("desk", "appointment.check_in", booked.patient_id) in actions
    assert actions.count(("prac", "session.record", booked.patient_id)) == 2
    assert ("desk", "course.read", booked.patient_id) in actions


def test_the_chart_is_refused_with_422_before_the_visit_opens_and_nothing_changes(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, timedelta(days=2))
    appt = booked.appointments[0]
    prac = bearer(clinic_app, "prac")
    response = web.post(f"/api/v1/appointments/{appt.id}/session", headers=prac, json=CHART)
    assert response.status_code == 422
    (error,) = _errors(response)
    assert error["field"] == "start"
    assert "cannot be charted before" in error["rule"]
    early = web.post(f"/api/v1/appointments/{appt.id}/check-in", headers=prac)
    assert early.status_code == 422
    assert services.get_appointment(clinic_app.db, appt.id).status.value == "booked"
    assert services.course_file(clinic_app.db, booked.course_id).course.remaining_sessions == 1


def test_a_bad_chart_names_the_field(web: TestClient, clinic_app: ClinicApp) -> None:
    appt = book_visits(clinic_app, -HOUR).appointments[0]
    prac = bearer(clinic_app, "prac")
    bad = {**CHART, "needle_depth_mm": {"full_face": 1.0}}
    response = web.post(f"/api/v1/appointments/{appt.id}/session", headers=prac, json=bad)
    assert response.status_code == 422
    assert any("needle_depth_mm" in (e["field"] + e["rule"]) for e in _errors(response))
    future = {**CHART, "performed_at": (datetime.now(UTC) + HOUR).isoformat()}
    response = web.post(f"/api/v1/appointments/{appt.id}/session", headers=prac, json=future)
    assert response.status_code == 422
    assert _errors(response)[0]["field"] == "performed_at"


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_only_practitioners_chart(web: TestClient, clinic_app: ClinicApp, who: str) -> None:
    appt = book_visits(clinic_app, -HOUR).appointments[0]
    response = web.post(
        f"/api/v1/appointments/{appt.id}/session", headers=bearer(clinic_app, who), json=CHART
    )
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["desk", "admin", "prac"])
def test_every_role_checks_in_cancels_and_records_a_no_show(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    booked = book_visits(clinic_app, -2 * HOUR, timedelta(minutes=5), timedelta(days=3))
    past, soon, later = booked.appointments
    token = bearer(clinic_app, who)
    assert web.post(f"/api/v1/appointments/{soon.id}/check-in", headers=token).status_code == 200
    gone = web.post(f"/api/v1/appointments/{past.id}/no-show", headers=token)
    assert (gone.status_code, gone.json()["status_label"]) == (200, "no-show")
    ok = web.post(
        f"/api/v1/appointments/{later.id}/cancel", headers=token, json={"reason": "holiday"}
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["cancel_reason"], ok.json()["cancelled_late"]) == ("holiday", False)
    actions = {a for a in audit_actions(clinic_app.db, booked.patient_id) if a[0] == who}
    assert {a[1] for a in actions} >= {
        "appointment.check_in",
        "appointment.missed",
        "appointment.cancel",
    }


def test_no_show_before_the_start_and_cancel_without_reason_are_refused(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    appt = book_visits(clinic_app, timedelta(hours=5)).appointments[0]
    desk = bearer(clinic_app, "desk")
    early = web.post(f"/api/v1/appointments/{appt.id}/no-show", headers=desk)
    assert early.status_code == 422
    assert "before it has started" in _errors(early)[0]["rule"]
    for body in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        refused = web.post(f"/api/v1/appointments/{appt.id}/cancel", headers=desk, json=body)
        assert refused.status_code == 422, body
    late = web.post(f"/api/v1/appointments/{appt.id}/cancel", headers=desk, json={"reason": "ill"})
    assert late.json()["cancelled_late"] is True
    again = web.post(f"/api/v1/appointments/{appt.id}/cancel", headers=desk, json={"reason": "x"})
    assert again.status_code == 409
    assert "cannot change from cancelled to cancelled" in _errors(again)[0]["rule"]


def test_list_appointments_of_clinic_days(web: TestClient, clinic_app: ClinicApp) -> None:
    booked = book_visits(clinic_app, timedelta(days=1), timedelta(days=40))
    desk = bearer(clinic_app, "desk")
    day = booked.appointments[0].start.astimezone(UTC).date()
    params = {
        "from": (day - timedelta(days=1)).isoformat(),
        "to": (day + timedelta(days=1)).isoformat(),
    }
    listed = web.get("/api/v1/appointments", headers=desk, params=params)
    assert listed.status_code == 200, listed.text
    ids = [a["id"] for a in listed.json()["appointments"]]
    assert booked.appointments[0].id in ids
    assert booked.appointments[1].id not in ids
    mine = web.get(
        "/api/v1/appointments",
        headers=desk,
        params={**params, "practitioner": clinic_app.practitioner_id},
    )
    assert booked.appointments[0].id in [a["id"] for a in mine.json()["appointments"]]
    events, _ = services.search_audit(clinic_app.db, patient_id=booked.patient_id)
    assert any(e.action == "calendar.read" and e.username == "desk" for e in events)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2031-01-10", "to": "2031-01-09"}, "to"),
        ({"from": "2031-01-01", "to": "2031-06-01"}, "to"),
        ({"from": "not-a-date"}, "from"),
        ({"practitioner": 99999}, "practitioner"),
    ],
)
def test_list_refuses_bad_filters_naming_them(
    web: TestClient, clinic_app: ClinicApp, params: dict[str, Any], field: str
) -> None:
    response = web.get("/api/v1/appointments", headers=bearer(clinic_app, "desk"), params=params)
    assert response.status_code == 422
    assert field in _errors(response)[0]["field"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/appointments"),
        ("POST", "/api/v1/appointments/1/check-in"),
        ("POST", "/api/v1/appointments/1/no-show"),
        ("POST", "/api/v1/appointments/1/cancel"),
        ("POST", "/api/v1/appointments/1/session"),
        ("GET", "/api/v1/courses/1"),
        ("GET", "/api/v1/lots/LOT-1/sessions"),
    ],
)
def test_every_route_needs_a_token(web: TestClient, method: str, path: str) -> None:
    assert web.request(method, path).status_code == 401


def test_unknown_ids_are_404(web: TestClient, clinic_app: ClinicApp) -> None:
    desk = bearer(clinic_app, "desk")
    assert web.post("/api/v1/appointments/98765/check-in", headers=desk).status_code == 404
    assert web.get("/api/v1/courses/98765", headers=desk).status_code == 404


def test_the_routes_are_in_the_openapi(web: TestClient) -> None:
    paths = web.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/appointments",
        "/api/v1/appointments/{appointment_id}/check-in",
        "/api/v1/appointments/{appointment_id}/session",
        "/api/v1/appointments/{appointment_id}/cancel",
        "/api/v1/appointments/{appointment_id}/no-show",
        "/api/v1/courses/{course_id}",
        "/api/v1/lots/{lot}/sessions",
    } <= set(paths)
    assert "201" in paths["/api/v1/appointments/{appointment_id}/session"]["post"]["responses"]


def test_lot_sessions_for_a_batch_recall(web: TestClient, clinic_app: ClinicApp) -> None:
    appt = book_visits(clinic_app, -HOUR, given="Lotte").appointments[0]
    prac = bearer(clinic_app, "prac")
    web.post(f"/api/v1/appointments/{appt.id}/session", headers=prac, json=CHART)
    found = web.get("/api/v1/lots/lot-77/sessions", headers=prac)
    assert found.status_code == 200, found.text
    (row,) = found.json()["sessions"]
    assert row["patient"]["id"] == appt.patient_id
    assert row["patient"]["name"] == "Lotte Visit"
    assert row["session"]["lot"] == "LOT-77"
    assert web.get("/api/v1/lots/NOPE/sessions", headers=prac).json()["sessions"] == []
    assert (
        web.get("/api/v1/lots/LOT-77/sessions", headers=bearer(clinic_app, "desk")).status_code
        == 403
    )
    assert ("prac", "lot.read", None) in audit_actions(clinic_app.db, appt.patient_id)

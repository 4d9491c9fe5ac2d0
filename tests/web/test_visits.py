"""The visit pages: buttons on the calendar and the patient page, check in, the chart form (bad
input named, refused before the start), no-show, cancel with a reason, chart missing; roles,
CSRF and the audit trail."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.domain.records import AppointmentStatus

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, clinic_app, sign_in, web
from .visits_support import book_visits, until_tomorrow_at

__all__ = ["clinic_app", "web"]

HOUR = timedelta(hours=1)


def _form(csrf: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf,
        "areas": ["full_face", "neck"],
        "depth_full_face": "1.0",
        "depth_neck": "0,5",
        "device": "Dermapen 4",
        "passes": "3",
        "product": "HA serum",
        "lot": "LOT-9",
        "ae_kind_0": "erythema",
        "ae_severity_0": "moderate",
        "notes": "topical lidocaine 20 min",
    }
    data.update(extra)
    return data


def _day(web: TestClient, when: Any) -> str:
    day = when.astimezone(UTC).date().isoformat()
    response = web.get("/app/calendar", params={"view": "day", "date": day})
    assert response.status_code == 200
    return response.text


def test_calendar_and_patient_page_show_the_visit_buttons_by_role(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    appt = book_visits(clinic_app, until_tomorrow_at(11)).appointments[0]
    sign_in(web, "prac")
    page = _day(web, appt.start)
    for action in ("check-in", "no-show"):
        assert f'action="/app/visits/{appt.id}/{action}"' in page
    assert f'href="/app/visits/{appt.id}/chart"' in page
    assert f'href="/app/visits/{appt.id}/cancel?next=' in page
    patient = web.get(f"/app/patients/{appt.patient_id}").text
    assert f'action="/app/visits/{appt.id}/check-in"' in patient
    assert f'href="/app/visits/{appt.id}/chart"' in patient
    web.post("/logout", data={"csrf_token": csrf_from(patient)})
    sign_in(web, "desk")
    page = _day(web, appt.start)
    assert f'action="/app/visits/{appt.id}/check-in"' in page
    assert f"/app/visits/{appt.id}/chart" not in page  # the front desk does not chart


def test_check_in_chart_and_the_ledger_on_the_patient_page(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, timedelta(minutes=15), timedelta(days=30))
    appt = booked.appointments[0]
    sign_in(web, "desk")
    csrf = csrf_from(web.get("/app/").text)
    here = f"/app/patients/{appt.patient_id}"
    done = web.post(
        f"/app/visits/{appt.id}/check-in",
        data={"csrf_token": csrf, "next": here},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{here}?done=checkin"
    assert "checked in" in web.get(done.headers["location"]).text
    assert web.get(f"/app/visits/{appt.id}/chart").status_code == 403  # desk does not chart
    web.post("/logout", data={"csrf_token": csrf})
    sign_in(web, "prac")
    form = web.get(f"/app/visits/{appt.id}/chart")
    assert form.status_code == 200
    assert "needle depth" in form.text
    assert "> mm</label>" in form.text
    saved = web.post(
        f"/app/visits/{appt.id}/chart", data=_form(csrf_from(form.text)), follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{here}?done=charted#course"
    page = web.get(saved.headers["location"]).text
    assert 'id="charted"' in page
    assert "full_face 1.0 mm, neck 0.5 mm" in page
    assert 'HA serum · lot <a href="/app/lots?lot=LOT-9" class="lot">LOT-9</a>' in page
    course = services.course_file(clinic_app.db, booked.course_id)
    assert course.course.remaining_sessions == 1
    (session,) = course.sessions
    assert session.adverse_events[0].severity == "moderate"
    assert session.notes == "topical lidocaine 20 min"
    actions = audit_actions(clinic_app.db, appt.patient_id)
    assert ("desk", "appointment.check_in", appt.patient_id) in actions
    assert ("prac", "session.record", appt.patient_id) in actions


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"depth_neck": ""}, "needle_depth_mm.neck"),
        ({"depth_neck": "deep"}, "needle_depth_mm.neck"),
        ({"depth_neck": "4"}, "needle_depth_mm"),
        ({"passes": ""}, "passes"),
        ({"passes": "99"}, "passes"),
        ({"device": ""}, "device"),
        ({"areas": []}, "areas"),
        ({"areas": ["full_face", "elbow"]}, "areas"),
        ({"lot": "L1", "product": ""}, "lot"),
        ({"ae_severity_0": "fatal"}, "severity"),
        ({"performed_at": "yesterday"}, "performed_at"),
        ({"practitioner_id": "99999"}, "practitioner"),
    ],
)
def test_the_chart_form_refuses_bad_input_naming_the_field_and_keeps_the_values(
    web: TestClient, clinic_app: ClinicApp, change: dict[str, Any], field: str
) -> None:
    appt = book_visits(clinic_app, -HOUR).appointments[0]
    sign_in(web, "prac")
    csrf = csrf_from(web.get(f"/app/visits/{appt.id}/chart").text)
    response = web.post(f"/app/visits/{appt.id}/chart", data=_form(csrf, **change))
    assert response.status_code == 422, response.text
    assert field in response.text
    assert 'id="form-problems"' in response.text
    assert 'value="Dermapen 4"' in response.text or change.get("device") == ""
    assert services.get_appointment(clinic_app.db, appt.id).status is AppointmentStatus.BOOKED


def test_the_chart_is_refused_before_the_start_with_the_rule(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    appt = book_visits(clinic_app, timedelta(days=2)).appointments[0]
    sign_in(web, "prac")
    form = web.get(f"/app/visits/{appt.id}/chart").text
    assert 'id="chart-too-early"' in form
    response = web.post(f"/app/visits/{appt.id}/chart", data=_form(csrf_from(form)))
    assert response.status_code == 422
    assert "cannot be charted before" in response.text
    assert services.get_appointment(clinic_app.db, appt.id).status is AppointmentStatus.BOOKED


def test_visit_posts_need_the_csrf_token(web: TestClient, clinic_app: ClinicApp) -> None:
    appt = book_visits(clinic_app, -HOUR).appointments[0]
    sign_in(web, "prac")
    for action in ("check-in", "no-show", "cancel", "chart"):
        response = web.post(f"/app/visits/{appt.id}/{action}", data={"reason": "x"})
        assert response.status_code == 403, action
    assert services.get_appointment(clinic_app.db, appt.id).status is AppointmentStatus.BOOKED


def test_visit_pages_need_a_sign_in(web: TestClient) -> None:
    for path in ("/app/visits/1/chart", "/app/visits/1/cancel", "/app/visits/chart-missing"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_cancel_asks_for_a_reason_and_says_when_it_is_late(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, timedelta(hours=3), timedelta(days=5))
    soon, later = booked.appointments
    sign_in(web, "desk")
    page = web.get(f"/app/visits/{soon.id}/cancel").text
    assert 'id="cancel-late"' in page
    assert 'id="cancel-in-time"' in web.get(f"/app/visits/{later.id}/cancel").text
    csrf = csrf_from(page)
    refused = web.post(f"/app/visits/{soon.id}/cancel", data={"csrf_token": csrf, "reason": " "})
    assert refused.status_code == 422
    assert "reason" in refused.text
    done = web.post(
        f"/app/visits/{soon.id}/cancel",
        data={"csrf_token": csrf, "reason": "patient ill", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/app/?done=cancel-late"  # no open redirect
    stored = services.get_appointment(clinic_app.db, soon.id)
    assert (stored.status, stored.cancel_reason, stored.cancelled_late) == (
        AppointmentStatus.CANCELLED,
        "patient ill",
        True,
    )
    patient = web.get(f"/app/patients/{soon.patient_id}").text
    assert "late: patient ill" in patient
    assert f'href="/app/appointments/{soon.id}/rebook"' in patient  # the session is owed
    rebook = web.get(f"/app/appointments/{soon.id}/rebook")
    assert rebook.status_code == 200
    assert "<h1>Rebook a cancelled session</h1>" in rebook.text
    assert "leave it cancelled for now" in rebook.text


def test_no_show_only_after_the_start(web: TestClient, clinic_app: ClinicApp) -> None:
    booked = book_visits(clinic_app, -HOUR, timedelta(hours=4))
    past, future = booked.appointments
    sign_in(web, "desk")
    csrf = csrf_from(web.get("/app/").text)
    early = web.post(f"/app/visits/{future.id}/no-show", data={"csrf_token": csrf})
    assert early.status_code == 422
    assert "before it has started" in early.text
    done = web.post(
        f"/app/visits/{past.id}/no-show", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.headers["location"].endswith("done=noshow")
    assert services.get_appointment(clinic_app.db, past.id).status is AppointmentStatus.MISSED
    assert "no-show" in web.get(f"/app/patients/{past.patient_id}").text


def test_chart_missing_lists_past_visits_for_the_practitioner(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, -3 * HOUR, timedelta(days=3))
    past = booked.appointments[0]
    sign_in(web, "prac")
    assert 'id="chart-missing-tile"' in web.get("/app/").text
    page = web.get("/app/visits/chart-missing").text
    assert f'data-appointment="{past.id}"' in page
    assert f'data-appointment="{booked.appointments[1].id}"' not in page
    assert f'href="/app/visits/{past.id}/chart"' in page
    csrf = csrf_from(web.get(f"/app/visits/{past.id}/chart").text)
    web.post(f"/app/visits/{past.id}/chart", data=_form(csrf))
    assert f'data-appointment="{past.id}"' not in web.get("/app/visits/chart-missing").text
    assert web.get("/app/visits/chart-missing?practitioner=x").status_code == 422


def test_the_front_desk_has_no_chart_missing_list(web: TestClient) -> None:
    sign_in(web, "desk")
    assert 'id="chart-missing-tile"' not in web.get("/app/").text
    assert web.get("/app/visits/chart-missing").status_code == 403


def test_a_chart_twice_is_refused_as_a_state_change(web: TestClient, clinic_app: ClinicApp) -> None:
    appt = book_visits(clinic_app, -HOUR).appointments[0]
    sign_in(web, "prac")
    csrf = csrf_from(web.get(f"/app/visits/{appt.id}/chart").text)
    assert web.post(f"/app/visits/{appt.id}/chart", data=_form(csrf)).status_code == 200
    again = web.post(f"/app/visits/{appt.id}/chart", data=_form(csrf))
    assert again.status_code == 409
    assert "cannot change from performed to performed" in again.text


def test_the_lot_search_lists_every_patient_and_session_with_that_lot(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    one = book_visits(clinic_app, -3 * HOUR, given="Ada").appointments[0]
    two = book_visits(clinic_app, -2 * HOUR, given="Bea").appointments[0]
    sign_in(web, "prac")
    for appt, lot in ((one, "LOT-9"), (two, "lot-9")):
        csrf = csrf_from(web.get(f"/app/visits/{appt.id}/chart").text)
        web.post(f"/app/visits/{appt.id}/chart", data=_form(csrf, lot=lot))
    assert 'id="lot-search-tile"' in web.get("/app/").text
    page = web.get("/app/lots", params={"lot": "Lot-9"}).text
    assert 'id="lot-count">2 sessions' in page
    assert "Ada Visit" in page
    assert "Bea Visit" in page
    assert 'id="lot-none"' in web.get("/app/lots", params={"lot": "OTHER"}).text
    events, _ = services.search_audit(clinic_app.db, action="lot.read")
    assert [e.username for e in events] == ["prac", "prac"]  # newest (OTHER) first
    assert events[1].detail == f"lot sessions=2 patients={one.patient_id},{two.patient_id}"


def test_the_lot_search_is_for_practitioners(web: TestClient) -> None:
    sign_in(web, "desk")
    assert 'id="lot-search-tile"' not in web.get("/app/").text
    assert web.get("/app/lots", params={"lot": "LOT-9"}).status_code == 403

"""Staff patient pages over a real SQLite clinic: list/search/paging, registration, the patient
page per role, recording a measurement, audit of every read and change, no patient data in logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.web import Settings, create_app
from needleplan.web.routes.patients import PAGE_SIZE, forecast_request

from .conftest import TEST_SECRET, csrf_from
from .patients_fixtures import ClinicApp, audit_actions, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]

PATIENT_PATHS = ["/app/patients", "/app/patients/new", "/app/patients/1"]


@pytest.mark.parametrize("path", PATIENT_PATHS)
def test_signed_out_visitors_are_sent_to_login(web: TestClient, path: str) -> None:
    response = web.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/app/patients")


def test_measurement_post_signed_out_redirects_to_login(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    response = web.post(
        f"/app/patients/{clinic_app.patient_id}/measurements", data={}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("who", ["admin", "prac", "desk"])
def test_every_role_lists_patients_and_the_list_read_is_audited_without_a_patient(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    page = sign_in(web, who).get("/app/patients")
    assert page.status_code == 200
    assert "Doe, Jane" in page.text
    assert (who, "patient.list", None) in audit_actions(clinic_app.db)
    # the rows shown are on the event (L3): her audit trail finds the list that showed her
    hers, _ = services.search_audit(clinic_app.db, patient_id=clinic_app.patient_id)
    [listed] = [e for e in hers if e.action == "patient.list"]
    assert listed.detail.endswith(f"patients={clinic_app.patient_id}")
    assert listed.username == who


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("doe", True),
        ("jane doe", True),
        ("1976-04-02", True),
        ("02.04.1976", True),
        ("1980-01-01", False),
        ("smith", False),
    ],
)
def test_search_finds_by_name_words_and_date_of_birth(
    web: TestClient, query: str, found: bool
) -> None:
    page = sign_in(web, "desk").get("/app/patients", params={"q": query})
    assert page.status_code == 200
    assert ("Doe, Jane" in page.text) is found


def test_search_by_id_and_the_search_words_never_reach_the_audit(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    page = sign_in(web, "desk").get("/app/patients", params={"q": str(clinic_app.patient_id)})
    assert "Doe, Jane" in page.text
    web.get("/app/patients", params={"q": "Doe"})
    details = [e.detail for e in services.audit_log(clinic_app.db, limit=50)]
    assert details
    assert not any("Doe" in d or "doe" in d for d in details)


def test_list_pages_through_many_patients(web: TestClient, clinic_app: ClinicApp) -> None:
    for i in range(PAGE_SIZE + 3):
        services.register_patient(
            clinic_app.db,
            {"given_name": f"P{i:02d}", "family_name": "Zed", "birth_date": "1980-01-01"},
        )
    sign_in(web, "desk")
    first = web.get("/app/patients", params={"q": "zed"})
    assert f"{PAGE_SIZE + 3} patients" in first.text
    assert "page 1 of 2" in first.text
    assert len(re.findall(r"Zed, P\d\d", first.text)) == PAGE_SIZE
    second = web.get("/app/patients", params={"q": "zed", "page": 2})
    assert len(re.findall(r"Zed, P\d\d", second.text)) == 3
    assert 'rel="prev"' in second.text


def test_practitioner_sees_the_whole_clinical_record(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Jane Doe",
        "jane@example.org",
        "SECRET-CLINICAL-NOTE",
        "Assessment history",
        "Performed sessions",
        "Remaining-session ledger",
        'id="patient-chart"',
        "/static/patient.js",
        "Record a measurement",
        "gais",
    ):
        assert expected in text, expected
    assert ("prac", "patient.read", clinic_app.patient_id) in audit_actions(clinic_app.db)


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_front_desk_and_admin_see_contacts_and_course_but_no_clinical_notes(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    page = sign_in(web, who).get(f"/app/patients/{clinic_app.patient_id}")
    assert page.status_code == 200
    assert "+442079460001" in page.text  # E.164
    assert "consent to treatment: <strong>yes" in page.text
    assert 'id="course-remaining"' in page.text
    for hidden in (
        "SECRET-CLINICAL-NOTE",
        "Assessment history",
        "Measurements",
        "patient-chart",
        "Record a measurement",
    ):
        assert hidden not in page.text, hidden
    assert (who, "patient.read", clinic_app.patient_id) in audit_actions(clinic_app.db)


def test_unknown_patient_is_404(web: TestClient) -> None:
    assert sign_in(web, "prac").get("/app/patients/999999").status_code == 404


def test_chart_request_uses_her_own_schedule(clinic_app: ClinicApp) -> None:
    record = services.patient_file(clinic_app.db, clinic_app.patient_id)
    course = record.courses[0]
    days = sorted(a.start for a in record.appointments)
    chart = forecast_request(course, days, {"age": 50})
    assert chart["body"]["sessions"] == 2
    assert chart["body"]["interval_days"] == 30
    assert chart["session_days"] == [0.0, 30.0]


def test_chart_request_is_accepted_by_the_forecast_api(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}")
    match = re.search(r"data-request='([^']+)'", page.text)
    assert match
    import html
    import json

    body = json.loads(html.unescape(match.group(1)))
    assert body["assessment"]["smoking"] == "current"
    response = web.post("/api/v1/forecast", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["curve"]["median"]


def test_front_desk_registers_a_patient_and_it_is_audited(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    form = sign_in(web, "desk").get("/app/patients/new")
    assert form.status_code == 200
    assert 'name="notes"' not in form.text  # no clinical notes field for front desk
    response = web.post(
        "/app/patients/new",
        data={
            "csrf_token": csrf_from(form.text),
            "given_name": "Mary",
            "family_name": "Major",
            "birth_date": "1970-02-03",
            "phone": "+44 1234 567890",
            "consent_contact": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    patient = services.get_patient(clinic_app.db, new_id)
    assert (patient.family_name, patient.consent_contact, patient.consent_treatment) == (
        "Major",
        True,
        False,
    )
    assert ("desk", "patient.create", new_id) in audit_actions(clinic_app.db)


def test_registration_needs_csrf(web: TestClient) -> None:
    sign_in(web, "desk")
    response = web.post(
        "/app/patients/new",
        data={"given_name": "A", "family_name": "B", "birth_date": "1970-01-01"},
    )
    assert response.status_code == 403


def test_registration_problems_name_the_field_and_keep_the_form(web: TestClient) -> None:
    form = sign_in(web, "desk").get("/app/patients/new")
    response = web.post(
        "/app/patients/new",
        data={
            "csrf_token": csrf_from(form.text),
            "given_name": "Mary",
            "family_name": "Major",
            "birth_date": "2999-01-01",
        },
    )
    assert response.status_code == 422
    assert "birth_date" in response.text
    assert 'value="Major"' in response.text


def test_front_desk_may_not_write_clinical_notes(web: TestClient, clinic_app: ClinicApp) -> None:
    form = sign_in(web, "desk").get("/app/patients/new")
    response = web.post(
        "/app/patients/new",
        data={
            "csrf_token": csrf_from(form.text),
            "given_name": "Mary",
            "family_name": "Major",
            "birth_date": "1970-02-03",
            "notes": "a note",
        },
    )
    assert response.status_code == 422
    assert "only a practitioner" in response.text
    assert services.search_patients(clinic_app.db, "major")[1] == 0


def test_practitioner_records_a_measurement_from_the_patient_page(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}")
    response = web.post(
        f"/app/patients/{clinic_app.patient_id}/measurements",
        data={
            "csrf_token": csrf_from(page.text),
            "scale": "satisfaction",
            "value": "8",
            "measured_at": "2026-03-01T10:00",
            "area": "full_face",
            "course_id": str(clinic_app.course_id),
            "note": "happy",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    found = services.measurements_for(clinic_app.db, clinic_app.patient_id)
    new = [m for m in found if m.scale.value == "satisfaction"]
    assert [(m.value, m.course_id) for m in new] == [(8, clinic_app.course_id)]
    assert ("prac", "measurement.create", clinic_app.patient_id) in audit_actions(clinic_app.db)
    shown = web.get(response.headers["location"])
    assert "satisfaction" in shown.text
    assert "Saved." in shown.text


def test_a_measurement_off_its_scale_is_refused_with_the_rule(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}")
    response = web.post(
        f"/app/patients/{clinic_app.patient_id}/measurements",
        data={
            "csrf_token": csrf_from(page.text),
            "scale": "gais",
            "value": "9",
            "measured_at": "2026-03-01T10:00",
        },
    )
    assert response.status_code == 422
    assert "between 1 and 5" in response.text
    assert len(services.measurements_for(clinic_app.db, clinic_app.patient_id)) == 1


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_only_a_practitioner_records_measurements(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    page = sign_in(web, who).get("/app/patients")
    response = web.post(
        f"/app/patients/{clinic_app.patient_id}/measurements",
        data={
            "csrf_token": csrf_from(page.text),
            "scale": "gais",
            "value": "2",
            "measured_at": "2026-03-01T10:00",
        },
    )
    assert response.status_code == 403
    assert len(services.measurements_for(clinic_app.db, clinic_app.patient_id)) == 1


def test_measurement_needs_csrf(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    response = web.post(
        f"/app/patients/{clinic_app.patient_id}/measurements",
        data={"scale": "gais", "value": "2", "measured_at": "2026-03-01T10:00"},
    )
    assert response.status_code == 403


def test_no_patient_data_reaches_the_logs(
    web: TestClient, clinic_app: ClinicApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in(web, "prac")
    web.get("/app/patients", params={"q": "Doe"})
    web.get(f"/app/patients/{clinic_app.patient_id}")
    web.get("/app/patients/999999")
    server_side = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("httpx")
    )
    for secret in ("Doe", "jane@example.org", "SECRET-CLINICAL-NOTE", "7946"):
        assert secret not in server_side


def test_patient_pages_without_a_database_answer_503() -> None:
    from needleplan.web.auth import InMemoryUserStore, Role

    users = InMemoryUserStore()
    users.add_user("prac", "practitioner-password-1", Role.PRACTITIONER)
    app = create_app(Settings(environment="test", secret_key=TEST_SECRET), user_store=users)
    with TestClient(app) as client:
        sign_in(client, "prac")
        assert client.get("/app/patients").status_code == 503


@pytest.mark.parametrize(
    ("who", "shown", "hidden"),
    [
        ("desk", ["/app/patients"], ["/app/admin/audit", "/app/consult"]),
        ("prac", ["/app/patients", "/app/consult"], ["/app/admin/audit"]),
        ("admin", ["/app/patients", "/app/admin/audit"], ["/app/consult"]),
    ],
)
def test_staff_home_links_to_the_pages_each_role_may_open(
    web: TestClient, who: str, shown: list[str], hidden: list[str]
) -> None:
    home = sign_in(web, who).get("/app/")
    for link in shown:
        assert f'href="{link}"' in home.text, link
    for link in hidden:
        assert f'href="{link}"' not in home.text, link


def _far_clinic(clinic_app: ClinicApp, timezone: str) -> None:
    """The clinic calendar (ClinicDep) in a zone far from UTC."""
    from needleplan.scheduling import parse_clinic

    clinic_app.app.state.clinic = parse_clinic(
        {
            "name": "Far Clinic",
            "timezone": timezone,
            "opening_hours": {"monday": ["09:00-18:00"]},
            "practitioners": [{"name": "Alice Practitioner"}],
        },
        source="test clinic",
    )


def test_patient_page_shows_every_time_on_the_clinic_clock_across_a_dst_change(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """Sydney: 09:00 UTC on 6 Jan is 20:00 AEDT (+11); 00:00 UTC on 14 Apr is 10:00 AEST (+10)."""
    from datetime import UTC, datetime

    _far_clinic(clinic_app, "Australia/Sydney")
    services.book_appointment(
        clinic_app.db,
        clinic_app.patient_id,
        (
            datetime(2031, 4, 14, 0, tzinfo=UTC),
            datetime(2031, 4, 14, 1, tzinfo=UTC),
            clinic_app.practitioner_id,
        ),
        kind="review",
    )
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}").text
    assert "clinic time: Australia/Sydney (AEDT/AEST)" in page
    assert page.count("Australia/Sydney") == 1, "the zone is named once"
    assert "2031-01-06 20:00" in page  # the performed session, its appointment and measurement
    assert "2031-02-05 20:00" in page
    assert "2031-04-14 10:00" in page  # after the change: same wall clock, other offset
    assert "2031-01-06 09:00" not in page
    assert "2031-04-14 00:00" not in page
    assert "(UTC)" not in page
    assert "2030-12-30 20:00" in page  # the assessment, a week before


def test_a_measurement_time_is_read_on_the_clinic_clock(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    from datetime import UTC, datetime

    _far_clinic(clinic_app, "America/Los_Angeles")
    page = sign_in(web, "prac").get(f"/app/patients/{clinic_app.patient_id}")
    assert "clinic time: America/Los_Angeles (PST)" in page.text  # her times are all in winter

    def post(when: str) -> Any:
        return web.post(
            f"/app/patients/{clinic_app.patient_id}/measurements",
            data={
                "csrf_token": csrf_from(page.text),
                "scale": "satisfaction",
                "value": "7",
                "measured_at": when,
            },
            follow_redirects=False,
        )

    assert post("2026-03-09T09:30").status_code == 303  # PDT, UTC-7
    (saved,) = [
        m
        for m in services.measurements_for(clinic_app.db, clinic_app.patient_id)
        if m.scale.value == "satisfaction"
    ]
    assert saved.measured_at == datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
    skipped = post("2026-03-08T02:30")  # the clocks jump from 02:00 to 03:00 that night
    assert skipped.status_code == 422
    assert "measured_at" in skipped.text
    assert "does not exist in America/Los_Angeles" in skipped.text
    assert len(services.measurements_for(clinic_app.db, clinic_app.patient_id)) == 2


def test_a_missed_course_session_offers_rebook_on_the_patient_page(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    course = services.course_file(clinic_app.db, clinic_app.course_id)
    second = next(a for a in course.appointments if a.status.value == "booked")
    services.mark_missed(clinic_app.db, second.id)
    page = sign_in(web, "desk").get(f"/app/patients/{clinic_app.patient_id}").text
    assert f'href="/app/appointments/{second.id}/rebook"' in page

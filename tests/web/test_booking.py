"""Booking a whole course from the consultation, the front-desk booking form and the .ics file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import recurring_ical_events
from icalendar import Calendar

from needleplan import services
from needleplan.domain.records import AppointmentStatus, RecallStatus

from . import booking_support
from .booking_support import MONDAY, Clinic, book_json, local, new_patient_body, signed_in
from .conftest import REFERENCE, TestClient, csrf_from

# Fixtures shared with the other booking tests (a database-backed app and its client).
backend = booking_support.backend
site = booking_support.site
web = booking_support.web


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_practitioner_books_a_whole_course_for_a_new_patient(web: TestClient, site: Clinic) -> None:
    """Registers her, records the assessment, books every session of the plan, dated in order."""
    token = signed_in(web, "prac")
    response = book_json(web, token, new_patient_body())
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["patient"]["name"] == "Nora Newcomer"
    assert len(data["sessions"]) == 5  # the reference patient's plan
    assert data["sessions"][0]["start"].startswith(MONDAY.isoformat() + "T10:00")
    assert data["ics_url"] == f"/app/courses/{data['course_id']}/course.ics"
    starts = [s["start"] for s in data["sessions"]]
    assert starts == sorted(starts)
    patient = services.get_patient(site.db, data["patient"]["id"])
    assert [a.id for a in services.assessment_history(site.db, patient.id)]
    course = services.course_file(site.db, data["course_id"])
    assert course.course.assessment_id is not None
    assert [a.status for a in course.appointments] == [AppointmentStatus.BOOKED] * 5
    events = services.audit_log(site.db, patient_id=patient.id)
    assert {e.action for e in events} >= {"patient.create", "assessment.record", "course.book"}
    assert all("Nora" not in e.detail for e in events)


def test_booking_an_existing_patient_found_by_name_search(web: TestClient, site: Clinic) -> None:
    site.patient("Jane", "Doe")
    site.patient("John", "Smith")
    token = signed_in(web, "prac")
    found = web.get("/app/booking/patients", params={"q": "jane do"}).json()["patients"]
    assert [p["name"] for p in found] == ["Jane Doe"]
    assert web.get("/app/booking/patients", params={"q": "j"}).json() == {"patients": []}
    body = {"patient_id": found[0]["id"], "assessment": REFERENCE, "start": MONDAY.isoformat()}
    response = book_json(web, token, body)
    assert response.status_code == 201, response.text
    assert response.json()["patient"]["id"] == found[0]["id"]


def test_booking_options_list_the_clinic_practitioners(web: TestClient, site: Clinic) -> None:
    signed_in(web, "desk")
    data = web.get("/app/booking/options").json()
    assert [p["name"] for p in data["practitioners"]] == ["Alice Practitioner", "Bob Practitioner"]
    assert data["timezone"] == "Europe/Berlin"
    assert data["can_assess"] is False


def test_a_chosen_practitioner_treats_every_session(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    bob = site.practitioners["Bob Practitioner"]
    data = book_json(web, token, new_patient_body(practitioner_id=str(bob))).json()
    assert {s["practitioner"] for s in data["sessions"]} == {"Bob Practitioner"}


def test_infeasible_series_names_the_session_offers_the_alternative_and_books_nothing(
    user_store: object, db: object
) -> None:
    """Bob is away during session 2's whole window: 409, nothing stored, then the alternative."""
    from .booking_support import make_clinic

    closed = {
        "start": (MONDAY + timedelta(days=20)).isoformat(),
        "end": (MONDAY + timedelta(days=60)).isoformat(),
        "reason": "leave",
    }
    site = make_clinic(
        user_store,  # type: ignore[arg-type]
        db,  # type: ignore[arg-type]
        practitioners=[
            {"name": "Alice Practitioner"},
            {"name": "Bob Practitioner", "days_off": [closed]},
        ],
    )
    with TestClient(site.app, base_url="http://testserver") as web:
        token = signed_in(web, "prac")
        bob = site.practitioners["Bob Practitioner"]
        before = services.list_patients(site.db)
        response = book_json(web, token, new_patient_body(practitioner_id=str(bob)))
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["scheduling"]["session_number"] == 2
        assert "leave" in body["scheduling"]["reason"]
        assert body["scheduling"]["alternative"]["overrun_days"] > 0
        assert body["message"].startswith("nothing was booked")
        assert services.list_patients(site.db) == before  # not even the patient
        again = book_json(
            web, token, new_patient_body(practitioner_id=str(bob), allow_overrun=True)
        )
        assert again.status_code == 201, again.text
        second = again.json()["sessions"][1]["start"]
        assert second >= (MONDAY + timedelta(days=61)).isoformat()


def test_whole_series_avoids_existing_bookings(web: TestClient, site: Clinic) -> None:
    """Alice is booked at 10:00 on the requested Monday: session 1 goes around it."""
    other = site.patient("Olga", "Other")
    alice = site.practitioners["Alice Practitioner"]
    bob = site.practitioners["Bob Practitioner"]
    services.book_appointment(
        site.db, other.id, (local(MONDAY, 9), local(MONDAY, 12), alice), kind="review"
    )
    token = signed_in(web, "prac")
    data = book_json(web, token, new_patient_body(practitioner_id=str(alice))).json()
    first = data["sessions"][0]["start"]
    assert first.startswith(MONDAY.isoformat())
    assert not first.startswith(MONDAY.isoformat() + "T10:00")
    assert bob  # Bob stays free: not asked for


def test_blocked_plan_books_nothing(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    body = new_patient_body(assessment=REFERENCE | {"contraindications": ["pregnancy"]})
    response = book_json(web, token, body)
    assert response.status_code == 409
    assert "blocked" in response.json()["message"]
    assert services.list_patients(site.db) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "next monday"}, "start"),
        ({"practitioner_id": "999"}, "practitioner_id"),
        ({"assessment": REFERENCE | {"age": 12}}, "age"),
        (
            {"new_patient": {"given_name": "", "family_name": "X", "birth_date": "1980-01-01"}},
            "given_name",
        ),
    ],
)
def test_bad_booking_input_is_422_naming_the_field(
    web: TestClient, site: Clinic, change: dict[str, object], field: str
) -> None:
    token = signed_in(web, "prac")
    response = book_json(web, token, new_patient_body(**change))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_booking_needs_the_csrf_header(web: TestClient, site: Clinic) -> None:
    signed_in(web, "prac")
    response = web.post("/app/booking/course", json=new_patient_body())
    assert response.status_code == 403
    assert services.list_patients(site.db) == []


def test_front_desk_may_not_record_an_assessment(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "desk")
    response = book_json(web, token, new_patient_body())
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "assessment"


def test_front_desk_books_from_the_stored_assessment(web: TestClient, site: Clinic) -> None:
    """The plain form: search, choose, book; the patient's open recall closes (she booked)."""
    jane = site.patient("Jane", "Doe")
    services.record_assessment(site.db, jane.id, REFERENCE)
    recall = services.add_recall(site.db, jane.id, MONDAY)
    signed_in(web, "desk")
    page = web.get("/app/booking", params={"q": "doe"})
    assert f"/app/booking?patient_id={jane.id}" in page.text
    form = web.get("/app/booking", params={"patient_id": jane.id})
    assert 'id="booking-form"' in form.text
    response = web.post(
        "/app/booking",
        data={
            "patient_id": jane.id,
            "start": MONDAY.isoformat(),
            "practitioner_id": "any",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert response.status_code == 201, response.text
    assert "Booked: course for Jane Doe" in response.text
    assert response.text.count("<li>") >= 5
    closed = services.recall_list(site.db, statuses=(RecallStatus.BOOKED,))
    assert [r.id for r in closed] == [recall.id]


def test_front_desk_form_without_an_assessment_says_so(web: TestClient, site: Clinic) -> None:
    jane = site.patient()
    signed_in(web, "desk")
    page = web.get("/app/booking", params={"patient_id": jane.id})
    assert "No assessment is stored" in page.text
    response = web.post(
        "/app/booking",
        data={
            "patient_id": jane.id,
            "start": MONDAY.isoformat(),
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 409
    assert "has no assessment yet" in response.text


def test_course_ics_has_every_session_with_stable_uids(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = book_json(web, token, new_patient_body()).json()
    first = web.get(data["ics_url"])
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(first.content)
    events = recurring_ical_events.of(cal).between(MONDAY, MONDAY + timedelta(days=365))
    assert len(events) == 5
    assert sorted(e["DTSTART"].dt.isoformat() for e in events) == [
        s["start"] for s in data["sessions"]
    ]
    assert "Nora" not in first.text
    assert "Newcomer" not in first.text
    again = Calendar.from_ical(web.get(data["ics_url"]).content)
    uids = lambda c: sorted(str(e["UID"]) for e in c.walk("VEVENT"))  # noqa: E731
    assert uids(cal) == uids(again)


def test_ics_of_a_course_without_sessions_is_409(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = book_json(web, token, new_patient_body()).json()
    services.change_course_status(site.db, data["course_id"], "cancelled")
    assert web.get(data["ics_url"]).status_code == 409
    assert web.get("/app/courses/9999/course.ics").status_code == 404


def test_booking_pages_need_a_sign_in(web: TestClient) -> None:
    for path in ("/app/booking", "/app/booking/options", "/app/courses/1/course.ics"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_consultation_page_has_the_booking_panel(web: TestClient) -> None:
    signed_in(web, "prac")
    page = web.get("/app/consult").text
    assert 'id="booking-panel"' in page
    assert "/static/booking.js" in page


def test_without_a_database_booking_says_so(client: TestClient) -> None:
    """A server started without clinic records shows no booking panel and answers 503."""
    signed_in(client, "prac")
    assert 'id="booking-panel"' not in client.get("/app/consult").text
    response = client.get("/app/booking/options")
    assert response.status_code == 503
    assert "runs without clinic records" in response.text


def _visit_form(web: TestClient, patient_id: int) -> str:
    page = web.get("/app/booking", params={"patient_id": patient_id})
    assert 'id="visit-form"' in page.text
    return csrf_from(page.text)


def test_front_desk_books_one_maintenance_visit_which_closes_the_recall(
    web: TestClient, site: Clinic
) -> None:
    mia = site.patient("Mia", "Maintenance")
    recall = services.add_recall(site.db, mia.id, MONDAY)
    signed_in(web, "desk")
    token = _visit_form(web, mia.id)
    bob = site.practitioners["Bob Practitioner"]
    response = web.post(
        "/app/booking/visit",
        data={
            "patient_id": mia.id,
            "day": MONDAY.isoformat(),
            "time": "11:30",
            "practitioner_id": bob,
            "csrf_token": token,
        },
    )
    assert response.status_code == 201, response.text
    assert "Booked: maintenance visit for Mia Maintenance" in response.text
    (appt,) = services.appointments_between(site.db, local(MONDAY, 0), local(MONDAY, 23))
    assert appt.kind.value == "maintenance"
    assert (appt.start, appt.end) == (local(MONDAY, 11, 30), local(MONDAY, 12, 30))
    closed = services.recall_list(site.db, statuses=(RecallStatus.BOOKED,))
    assert [r.id for r in closed] == [recall.id]


@pytest.mark.parametrize(
    ("time", "practitioner", "status", "text"),
    [
        ("19:00", "Bob Practitioner", 409, "working hours"),
        ("10:00", None, 422, "choose who treats"),
        ("ten", "Bob Practitioner", 422, "HH:MM"),
    ],
)
def test_maintenance_visit_problems_are_explained(
    web: TestClient, site: Clinic, time: str, practitioner: str | None, status: int, text: str
) -> None:
    mia = site.patient("Mia", "Maintenance")
    signed_in(web, "desk")
    token = _visit_form(web, mia.id)
    who = site.practitioners[practitioner] if practitioner else ""
    response = web.post(
        "/app/booking/visit",
        data={
            "patient_id": mia.id,
            "day": MONDAY.isoformat(),
            "time": time,
            "practitioner_id": who,
            "csrf_token": token,
        },
    )
    assert response.status_code == status
    assert text in response.text
    assert services.appointments_between(site.db, local(MONDAY, 0), local(MONDAY, 23)) == []


def test_a_second_open_course_is_refused_before_anything_is_stored(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    first = book_json(web, token, new_patient_body()).json()
    patient_id = first["patient"]["id"]
    assessments = services.assessment_history(site.db, patient_id)
    body = {"patient_id": patient_id, "assessment": REFERENCE, "start": "2031-09-01"}
    response = book_json(web, token, body)
    assert response.status_code == 409
    assert f"already has course {first['course_id']} (planned)" in response.json()["message"]
    assert services.assessment_history(site.db, patient_id) == assessments


def _claim_first_slot_every_time(site: Clinic, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Another booking takes session 1's time right after every dating of the series."""
    rival = site.patient("Rita", "Rival")
    real = services.booking.schedule_course
    taken: list[int] = []

    def schedule_then_someone_books(*args: Any, **kwargs: Any) -> Any:
        schedule = real(*args, **kwargs)
        first = schedule.sessions[0]
        who = site.practitioners[first.practitioner]
        appt = services.book_appointment(
            site.db, rival.id, (first.start, first.end, who), kind="review"
        )
        taken.append(appt.id)
        return schedule

    monkeypatch.setattr(services.booking, "schedule_course", schedule_then_someone_books)
    return taken


def _assessment_count(site: Clinic) -> int:
    from sqlalchemy import func, select

    from needleplan.storage.tables import AssessmentRow

    with site.db.transaction() as uow:
        return int(
            uow.session.execute(select(func.count()).select_from(AssessmentRow)).scalar_one()
        )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_new_patient_whose_booking_loses_the_race_is_not_stored_at_all(
    web: TestClient, site: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Register + assess + book is one transaction: when the slots are taken at the last
    moment (every retry), no patient, no assessment and no course remain, and the message says
    what to do next."""
    token = signed_in(web, "prac")
    taken = _claim_first_slot_every_time(site, monkeypatch)
    patients = services.list_patients(site.db)
    assessments = _assessment_count(site)
    response = book_json(web, token, new_patient_body())
    assert response.status_code == 409, response.text
    message = response.json()["message"]
    assert message.startswith("nothing was booked (no patient, no assessment, no course stored)")
    assert "book again to date the course around them" in message
    assert "choose another start date or practitioner" in message
    assert len(taken) == 3  # dated and tried three times
    assert services.list_patients(site.db) == patients
    assert _assessment_count(site) == assessments
    audit = {e.action for e in services.search_audit(site.db, limit=100)[0]}
    assert not audit & {"patient.create", "assessment.record", "course.book"}


def test_an_existing_patient_whose_booking_loses_the_race_keeps_her_assessments(
    web: TestClient, site: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    jane = site.patient("Jane", "Doe")
    token = signed_in(web, "prac")
    _claim_first_slot_every_time(site, monkeypatch)
    body = {"patient_id": jane.id, "assessment": REFERENCE, "start": MONDAY.isoformat()}
    response = book_json(web, token, body)
    assert response.status_code == 409
    assert "(no assessment, no course stored)" in response.json()["message"]
    assert services.assessment_history(site.db, jane.id) == []
    assert services.patient_file(site.db, jane.id).courses == []


def test_the_booking_result_names_the_clinic_zone(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = book_json(web, token, new_patient_body()).json()
    assert data["timezone"] == "Europe/Berlin"
    assert data["zone"] == "Europe/Berlin (CET/CEST)"  # March to July 2031
    assert data["sessions"][0]["label"] == "Mon 03 Mar 2031, 10:00–11:00"
    assert data["sessions"][1]["label"].endswith("10:00–11:00")  # CEST, same wall clock


def test_booking_searches_and_pages_that_show_a_patient_are_audited(
    web: TestClient, site: Clinic
) -> None:
    jane = site.patient("Jane", "Doe")
    services.record_assessment(site.db, jane.id, REFERENCE)
    signed_in(web, "desk")
    web.get("/app/booking/patients", params={"q": "jane"})
    web.get("/app/booking", params={"q": "doe"})
    web.get("/app/booking", params={"q": "nobody-like-this"})
    web.get("/app/booking", params={"patient_id": jane.id})
    events, _ = services.search_audit(site.db, patient_id=jane.id)
    actions = [(e.action, e.patient_id) for e in reversed(events)]
    assert actions == [
        ("booking.search", None),
        ("booking.search", None),
        ("booking.read", jane.id),
    ]
    assert all("Jane" not in e.detail and "Doe" not in e.detail for e in events)
    assert services.search_audit(site.db, action="booking.")[1] == 3

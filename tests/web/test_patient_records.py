"""Keeping the record right over HTTP: PATCH and consent history, duplicate detection (409 with
the matching record's id), her learned forecast, the edit form, merging, and the handout and
FHIR downloads, per route and role, each change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, bearer, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]

JANE_AGAIN = {"given_name": "jane", "family_name": "DOE", "birth_date": "1976-04-02"}


def _events(db: Any, action: str) -> list[Any]:
    found, _ = services.search_audit(db, action=action, limit=100)
    return found


# --------------------------------------------------------------------------- API: duplicates


def test_api_refuses_a_likely_duplicate_with_409_naming_the_record(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    headers = bearer(clinic_app, "desk")
    before = services.list_patients(clinic_app.db)
    response = web.post("/api/v1/patients", json=JANE_AGAIN, headers=headers)
    assert response.status_code == 409
    (error,) = response.json()["errors"]
    assert (error["field"], error["value"]) == ("duplicate_of", clinic_app.patient_id)
    assert "same name and date of birth" in error["rule"]
    assert "confirm_duplicate" in error["rule"]
    assert services.list_patients(clinic_app.db) == before


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"phone": "+44 (20) 7946-0001"}, "phone"),
        ({"email": "JANE@example.org"}, "e-mail"),
    ],
)
def test_api_finds_a_duplicate_by_phone_digits_or_email_case(
    web: TestClient, clinic_app: ClinicApp, extra: dict[str, str], why: str
) -> None:
    body = {"given_name": "Janet", "family_name": "Other", "birth_date": "1980-01-01", **extra}
    response = web.post("/api/v1/patients", json=body, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 409
    (error,) = response.json()["errors"]
    assert error["value"] == clinic_app.patient_id
    assert f"same {why}" in error["rule"]


def test_api_registers_anyway_when_confirmed_and_audits_it(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    response = web.post(
        "/api/v1/patients",
        json={**JANE_AGAIN, "confirm_duplicate": True},
        headers=bearer(clinic_app, "desk"),
    )
    assert response.status_code == 201, response.text
    new_id = response.json()["id"]
    assert new_id != clinic_app.patient_id
    (event,) = [e for e in _events(clinic_app.db, "patient.create") if e.patient_id == new_id]
    assert f"duplicate_confirmed={clinic_app.patient_id}" in event.detail
    assert event.username == "desk"


def test_a_different_person_registers_without_a_warning(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    body = {"given_name": "Jane", "family_name": "Doe", "birth_date": "1977-04-02"}
    response = web.post("/api/v1/patients", json=body, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 201


# --------------------------------------------------------------------------- API: PATCH


def test_patch_changes_only_the_given_fields_and_keeps_consent_history(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    headers = bearer(clinic_app, "desk")
    response = web.patch(
        f"/api/v1/patients/{pid}",
        json={"phone": "+44 20 7000 0000", "consent_contact": False, "consent_research": True},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["phone"] == "+442070000000"
    assert data["family_name"] == "Doe"
    assert (data["consent_contact"], data["consent_research"]) == (False, True)
    history = web.get(f"/api/v1/patients/{pid}/consents", headers=headers).json()
    changes = {(c["consent"], c["granted"], c["changed_by"]) for c in history}
    assert {("contact", False, "desk"), ("research", True, "desk")} <= changes
    (event,) = _events(clinic_app.db, "patient.update")
    assert event.patient_id == pid
    assert "consent_contact" in event.detail
    assert "phone" in event.detail
    assert "7000" not in event.detail  # names of fields, never their values


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"given_name": ""}, "given_name"),
        ({"shoe_size": 9}, "shoe_size"),
        ({}, "body"),
    ],
)
def test_patch_refuses_bad_input_naming_the_field(
    web: TestClient, clinic_app: ClinicApp, body: dict[str, Any], field: str
) -> None:
    pid = clinic_app.patient_id
    before = services.get_patient(clinic_app.db, pid)
    response = web.patch(f"/api/v1/patients/{pid}", json=body, headers=bearer(clinic_app, "prac"))
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert services.get_patient(clinic_app.db, pid) == before


def test_patch_roles_notes_only_for_practitioners_and_404_and_401(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    notes = {"notes": "new note"}
    desk = web.patch(f"/api/v1/patients/{pid}", json=notes, headers=bearer(clinic_app, "desk"))
    assert desk.status_code == 403
    prac = web.patch(f"/api/v1/patients/{pid}", json=notes, headers=bearer(clinic_app, "prac"))
    assert prac.status_code == 200
    assert prac.json()["notes"] == "new note"
    admin = web.patch(
        f"/api/v1/patients/{pid}", json={"phone": "+44 1"}, headers=bearer(clinic_app, "admin")
    )
    assert admin.status_code == 422  # the admin may edit contacts; the phone is too short
    assert (
        web.patch(
            "/api/v1/patients/999",
            json={"phone": "+44 20 1234 567"},
            headers=bearer(clinic_app, "admin"),
        ).status_code
        == 404
    )
    assert web.patch(f"/api/v1/patients/{pid}", json=notes).status_code == 401


# --------------------------------------------------------------------------- API: forecast


def _rate_her_excellent(clinic_app: ClinicApp) -> None:
    """Three follow-up ratings of "exceptional improvement" after her first session (in 2031, so
    recorded on the fixture's 2031 clinic clock)."""
    course = services.course_file(clinic_app.db, clinic_app.course_id)
    first = min(a.start for a in course.appointments)
    for days in (60, 120, 180):
        services.record_measurement(
            clinic_app.db,
            clinic_app.patient_id,
            {"scale": "gais", "value": 1, "measured_at": first + timedelta(days=days)},
            now=first + timedelta(days=365),
        )


def test_forecast_is_for_practitioners_and_shows_population_and_hers(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    _rate_her_excellent(clinic_app)
    assert web.get(f"/api/v1/patients/{pid}/forecast").status_code == 401
    desk = web.get(f"/api/v1/patients/{pid}/forecast", headers=bearer(clinic_app, "desk"))
    assert desk.status_code == 403
    response = web.get(f"/api/v1/patients/{pid}/forecast", headers=bearer(clinic_app, "prac"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["measured"] is True
    assert body["personal"]["curve"]["median"] != body["population"]["curve"]["median"]
    assert len(body["population"]["curve"]["median"]) == len(body["day"])
    assert len(body["personal"]["curve"]["median"]) == len(body["day"])
    assert isinstance(body["implications"], list)
    assert ("prac", "patient.forecast", pid) in audit_actions(clinic_app.db, pid)


def test_forecast_of_a_patient_without_assessment_is_404_with_the_reason(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    new = services.register_patient(
        clinic_app.db, {"given_name": "New", "family_name": "Person", "birth_date": "1980-02-02"}
    )
    response = web.get(f"/api/v1/patients/{new.id}/forecast", headers=bearer(clinic_app, "prac"))
    assert response.status_code == 404
    assert "assessment" in response.text


# --------------------------------------------------------------------------- pages


def _post(web: TestClient, path: str, data: dict[str, str]) -> Any:
    page = web.get(path if path.endswith("/edit") or path.endswith("/new") else "/app/patients")
    token = csrf_from(page.text)
    return web.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_registration_page_warns_of_a_duplicate_with_a_link_then_registers_anyway(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    form = {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}
    warned = _post(web, "/app/patients/new", form)
    assert warned.status_code == 409
    assert f'href="/app/patients/{clinic_app.patient_id}"' in warned.text
    assert "Register anyway" in warned.text
    count = len(services.list_patients(clinic_app.db))
    anyway = _post(web, "/app/patients/new", {**form, "confirm_duplicate": "1"})
    assert anyway.status_code == 303
    assert len(services.list_patients(clinic_app.db)) == count + 1
    assert any("duplicate_confirmed" in e.detail for e in _events(clinic_app.db, "patient.create"))


@pytest.mark.parametrize("who", ["admin", "prac", "desk"])
def test_every_role_edits_contact_and_consent_and_the_page_shows_the_history(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    pid = clinic_app.patient_id
    sign_in(web, who)
    form = web.get(f"/app/patients/{pid}/edit")
    assert form.status_code == 200
    assert 'value="Doe"' in form.text
    data = {
        "given_name": "Jane",
        "family_name": "Doe-Smith",
        "birth_date": "1976-04-02",
        "sex": "female",
        "email": "jane@example.org",
        "phone": "",
        "consent_treatment": "1",
    }
    saved = _post(web, f"/app/patients/{pid}/edit", data)
    assert saved.status_code == 303, saved.text
    patient = services.get_patient(clinic_app.db, pid)
    assert patient.family_name == "Doe-Smith"
    assert patient.phone is None
    assert patient.consent_contact is False
    page = web.get(f"/app/patients/{pid}").text
    assert 'id="consent-history"' in page
    assert "withdrawn" in page
    assert who in page


def test_edit_form_refuses_bad_input_and_notes_from_the_front_desk(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "desk")
    base = {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}
    bad = _post(web, f"/app/patients/{pid}/edit", {**base, "email": "nope"})
    assert bad.status_code == 422
    assert "email" in bad.text
    notes = _post(web, f"/app/patients/{pid}/edit", {**base, "notes": "x"})
    assert notes.status_code == 422
    assert "only a practitioner" in notes.text
    assert services.get_patient(clinic_app.db, pid).email == "jane@example.org"


def test_merge_moves_every_record_and_is_audited(web: TestClient, clinic_app: ClinicApp) -> None:
    db, keep = clinic_app.db, clinic_app.patient_id
    dup = services.register_patient(
        db, {**JANE_AGAIN, "phone": "+44 20 7946 0018"}, confirm_duplicate=True
    )
    services.record_measurement(
        db, dup.id, {"scale": "satisfaction", "value": 7, "measured_at": "2025-01-01T10:00Z"}
    )
    before = len(services.patient_file(db, keep).measurements)
    sign_in(web, "desk")
    refused = _post(web, f"/app/patients/{keep}/merge", {"other": str(dup.id)})
    assert refused.status_code == 422  # not confirmed
    done = _post(web, f"/app/patients/{keep}/merge", {"other": dup.mrn, "confirm": "1"})
    assert done.status_code == 303
    kept = services.patient_file(db, keep)
    assert len(kept.measurements) == before + 1
    assert kept.patient.phone == "+442079460001"  # hers stays; only an empty one is filled
    assert [p.id for p in services.list_patients(db) if p.id == dup.id] == []
    (event,) = _events(db, "patient.merge")
    assert event.patient_id == keep
    assert f"merged={dup.id}" in event.detail


def test_merge_is_refused_when_both_have_an_open_course(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    from tests.conftest import make_protocol_value

    db, keep = clinic_app.db, clinic_app.patient_id
    dup = services.register_patient(
        db, {**JANE_AGAIN, "consent_treatment": True}, confirm_duplicate=True
    )
    start = datetime(2032, 1, 5, 9, 0, tzinfo=UTC)
    slot = (start, start + timedelta(minutes=45), clinic_app.practitioner_id)
    services.book_course(db, dup.id, make_protocol_value(1), [slot])
    sign_in(web, "desk")
    refused = _post(web, f"/app/patients/{keep}/merge", {"other": str(dup.id), "confirm": "1"})
    assert refused.status_code == 409
    assert "both records have an open course" in refused.text
    assert services.get_patient(db, dup.id).id == dup.id


@pytest.mark.parametrize(
    ("path", "kind"),
    [("handout.pdf", "application/pdf"), ("fhir.json", "application/fhir+json")],
)
def test_handout_and_fhir_buttons_download_for_practitioners_only(
    web: TestClient, clinic_app: ClinicApp, path: str, kind: str
) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "desk")
    assert web.get(f"/app/patients/{pid}/{path}").status_code == 403
    assert 'id="handout-button"' not in web.get(f"/app/patients/{pid}").text
    web.cookies.clear()
    sign_in(web, "prac")
    assert 'id="handout-button"' in web.get(f"/app/patients/{pid}").text
    response = web.get(f"/app/patients/{pid}/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    assert "attachment" in response.headers["content-disposition"]
    if path == "fhir.json":
        assert response.json()["resourceType"] == "Bundle"
    else:
        assert response.content.startswith(b"%PDF")


def test_patient_page_shows_the_learned_forecast_to_practitioners_only(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    _rate_her_excellent(clinic_app)
    page = sign_in(web, "prac").get(f"/app/patients/{pid}").text
    assert 'id="learned-chart"' in page
    assert 'id="population-line"' in page
    assert 'class="measurement-dot"' in page
    web.cookies.clear()
    assert 'id="learned-chart"' not in sign_in(web, "desk").get(f"/app/patients/{pid}").text


def test_the_edit_form_sets_her_language_and_the_handout_follows_it(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """Docs/languages.md: her language on the record; her handout is written in it."""
    pid = clinic_app.patient_id
    sign_in(web, "prac")
    form = web.get(f"/app/patients/{pid}/edit").text
    assert 'id="patient-language"' in form
    assert '<option value="de" >Deutsch</option>' in form
    base = {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}
    refused = _post(web, f"/app/patients/{pid}/edit", {**base, "language": "xx"})
    assert refused.status_code == 422
    assert "is not a language needleplan ships" in refused.text
    saved = _post(web, f"/app/patients/{pid}/edit", {**base, "language": "de"})
    assert saved.status_code == 303, saved.text
    assert services.patient_language(clinic_app.db, pid) == "de"
    assert 'value="de" selected' in web.get(f"/app/patients/{pid}/edit").text
    assert any("language" in e.detail for e in _events(clinic_app.db, "patient.update"))
    page = web.get(f"/app/patients/{pid}").text
    assert f'href="/app/patients/{pid}/handout.pdf?lang=de"' in page
    bad = web.get(f"/app/patients/{pid}/handout.pdf?lang=fr")
    assert bad.status_code == 422


def test_patient_page_names_contradictory_and_set_aside_ratings_and_the_weak_evidence(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """A satisfaction of 0/10 between "exceptional improvement" ratings is flagged on her page
    (still used), a rating 3 days after a session is set aside as swelling, and the forecast
    says that the fade over years is weakly informed."""
    pid = clinic_app.patient_id
    _rate_her_excellent(clinic_app)
    course = services.course_file(clinic_app.db, clinic_app.course_id)
    first = min(a.start for a in course.appointments)
    for days, scale, value in ((150, "satisfaction", 0), (3, "gais", 1)):
        services.record_measurement(
            clinic_app.db,
            pid,
            {"scale": scale, "value": value, "measured_at": first + timedelta(days=days)},
            now=first + timedelta(days=365),
        )
    page = sign_in(web, "prac").get(f"/app/patients/{pid}").text
    assert 'id="misfits"' in page
    assert "The satisfaction rating of day 150 after the first session is improbable" in page
    assert 'id="set-aside"' in page
    assert "6 months after a course" in page

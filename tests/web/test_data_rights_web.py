"""Patients' data rights on her page (issue 17): the whole-record ZIP for practitioners and
admins (not the front desk), erasure on request by an admin, confirmed and audited."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

from needleplan import services

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def test_a_practitioner_downloads_all_her_data(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    pid = clinic_app.patient_id
    page = web.get(f"/app/patients/{pid}")
    assert f'href="/app/patients/{pid}/export-all.zip"' in page.text
    assert 'id="erase-form"' not in page.text  # erasure is an admin's
    answer = web.get(f"/app/patients/{pid}/export-all.zip")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert {"README.txt", "record.fhir.json", "handout.pdf", "messages.json"} <= set(names)
    events, _ = services.search_audit(clinic_app.db, action="patient.export_all")
    assert [(e.username, e.patient_id) for e in events] == [("prac", pid)]


def test_the_front_desk_may_not_take_the_whole_record(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    pid = clinic_app.patient_id
    assert "export-all.zip" not in web.get(f"/app/patients/{pid}").text
    assert web.get(f"/app/patients/{pid}/export-all.zip").status_code == 403
    events, _ = services.search_audit(clinic_app.db, action="access.refused", username="desk")
    assert any("export-all.zip" in e.detail for e in events)


def test_an_admin_erases_on_her_request_after_confirming(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "admin")
    pid = clinic_app.patient_id
    page = web.get(f"/app/patients/{pid}")
    assert 'id="erase-form"' in page.text
    token = csrf_from(page.text)
    unconfirmed = web.post(f"/app/patients/{pid}/erase", data={"csrf_token": token})
    assert 'id="erase-unconfirmed"' in unconfirmed.text
    assert services.get_patient(clinic_app.db, pid).consent_contact
    done = web.post(f"/app/patients/{pid}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 200
    assert 'id="erased"' in done.text
    assert not services.get_patient(clinic_app.db, pid).consent_contact
    events, _ = services.search_audit(clinic_app.db, action="patient.erase")
    assert [(e.username, e.patient_id) for e in events] == [("admin", pid)]
    assert "contact_consent=withdrawn" in events[0].detail
    assert web.post(f"/app/patients/{pid}/erase", data={"confirm": "yes"}).status_code == 403

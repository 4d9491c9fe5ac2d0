"""The patient REST API: bearer tokens, the same role rules as the pages, one error shape,
every call audited, and OpenAPI documentation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services

from .patients_fixtures import JANE_AGE, ClinicApp, audit_actions, bearer, clinic_app, web

__all__ = ["clinic_app", "web"]

ASSESSMENT = {"age": JANE_AGE, "severity": "advanced", "areas": ["neck"]}
MEASUREMENT = {"scale": "gais", "value": 2, "measured_at": "2026-03-01T10:00:00Z"}


def routes(pid: int) -> list[tuple[str, str, Any]]:
    return [
        ("GET", "/api/v1/patients", None),
        (
            "POST",
            "/api/v1/patients",
            {"given_name": "A", "family_name": "B", "birth_date": "1970-01-01"},
        ),
        ("GET", f"/api/v1/patients/{pid}", None),
        ("GET", f"/api/v1/patients/{pid}/assessments", None),
        ("POST", f"/api/v1/patients/{pid}/assessments", {"assessment": ASSESSMENT}),
        ("GET", f"/api/v1/patients/{pid}/measurements", None),
        ("POST", f"/api/v1/patients/{pid}/measurements", MEASUREMENT),
    ]


def _assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"errors"}
    assert all(set(e) == {"field", "value", "rule"} for e in body["errors"])


def test_every_patient_route_needs_a_token(web: TestClient, clinic_app: ClinicApp) -> None:
    for method, path, body in routes(clinic_app.patient_id):
        response = web.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
        _assert_error_shape(response.json())
        bad = web.request(method, path, json=body, headers={"Authorization": "Bearer np_nope"})
        assert bad.status_code == 401


def test_a_session_cookie_is_not_a_token(web: TestClient, clinic_app: ClinicApp) -> None:
    from .patients_fixtures import sign_in

    sign_in(web, "prac")
    assert web.get("/api/v1/patients").status_code == 401


def test_practitioner_token_reaches_every_route(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "prac")
    expected = [200, 201, 200, 200, 201, 200, 201]
    for (method, path, body), status in zip(routes(clinic_app.patient_id), expected, strict=True):
        response = web.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_non_clinical_tokens_get_contacts_but_not_clinical_data(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    headers = bearer(clinic_app, who)
    pid = clinic_app.patient_id
    one = web.get(f"/api/v1/patients/{pid}", headers=headers)
    assert one.status_code == 200
    assert one.json()["phone"] == "+442079460001"  # stored in E.164
    assert "notes" not in one.json()
    listed = web.get("/api/v1/patients", headers=headers).json()
    assert all("notes" not in p for p in listed["patients"])
    for method, path, body in routes(pid)[3:]:
        response = web.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        _assert_error_shape(response.json())
        assert response.json()["errors"][0]["field"] == "role"


def test_practitioner_sees_notes(web: TestClient, clinic_app: ClinicApp) -> None:
    response = web.get(
        f"/api/v1/patients/{clinic_app.patient_id}", headers=bearer(clinic_app, "prac")
    )
    assert response.json()["notes"] == "SECRET-CLINICAL-NOTE"


def test_front_desk_may_not_send_clinical_notes(web: TestClient, clinic_app: ClinicApp) -> None:
    body = {"given_name": "A", "family_name": "B", "birth_date": "1970-01-01", "notes": "x"}
    response = web.post("/api/v1/patients", json=body, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "notes"


def test_list_searches_and_pages(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "desk")
    for i in range(3):
        services.register_patient(
            clinic_app.db,
            {"given_name": f"G{i}", "family_name": "Zed", "birth_date": "1980-01-01"},
        )
    page = web.get("/api/v1/patients", params={"q": "zed", "limit": 2}, headers=headers).json()
    assert (page["total"], len(page["patients"]), page["limit"], page["offset"]) == (3, 2, 2, 0)
    rest = web.get(
        "/api/v1/patients", params={"q": "zed", "limit": 2, "offset": 2}, headers=headers
    ).json()
    assert [p["given_name"] for p in rest["patients"]] == ["G2"]
    born = web.get("/api/v1/patients", params={"q": "1976-04-02"}, headers=headers).json()
    assert [p["family_name"] for p in born["patients"]] == ["Doe"]


def test_create_returns_201_with_location_and_is_audited(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    body = {"given_name": "Ann", "family_name": "New", "birth_date": "1981-05-06", "mrn": "X1"}
    response = web.post("/api/v1/patients", json=body, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 201
    new = response.json()
    assert response.headers["location"] == f"/api/v1/patients/{new['id']}"
    assert ("desk", "patient.create", new["id"]) in audit_actions(clinic_app.db)
    again = web.post("/api/v1/patients", json=body, headers=bearer(clinic_app, "desk"))
    assert again.status_code == 409
    _assert_error_shape(again.json())


def test_bad_input_names_field_value_and_rule(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "prac")
    bad_patient = web.post(
        "/api/v1/patients",
        json={"given_name": "A", "family_name": "B", "birth_date": "1970-01-01", "x": 1},
        headers=headers,
    )
    assert bad_patient.status_code == 422
    _assert_error_shape(bad_patient.json())
    off_scale = web.post(
        f"/api/v1/patients/{clinic_app.patient_id}/measurements",
        json={**MEASUREMENT, "value": 7},
        headers=headers,
    )
    assert off_scale.status_code == 422
    assert any("between 1 and 5" in e["rule"] for e in off_scale.json()["errors"])
    young = web.post(
        f"/api/v1/patients/{clinic_app.patient_id}/assessments",
        json={"assessment": {**ASSESSMENT, "age": 12}},
        headers=headers,
    )
    assert young.status_code == 422
    assert young.json()["errors"][0]["field"].endswith("age")


def test_unknown_patient_is_404_in_the_error_shape(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "prac")
    for path in ("/api/v1/patients/99999", "/api/v1/patients/99999/assessments"):
        response = web.get(path, headers=headers)
        assert response.status_code == 404
        _assert_error_shape(response.json())


def test_assessments_are_added_never_overwritten_newest_first(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    headers = bearer(clinic_app, "prac")
    path = f"/api/v1/patients/{clinic_app.patient_id}/assessments"
    before = web.get(path, headers=headers).json()
    made = web.post(
        path,
        json={
            "assessment": {**ASSESSMENT, "age": 55},  # born 1976-04-02
            "assessed_at": "2032-01-01T09:00:00Z",
            "notes": "n",
        },
        headers=headers,
    ).json()
    assert made["assessed_by"] == clinic_app.practitioner_id
    after = web.get(path, headers=headers).json()
    assert [a["id"] for a in after] == [made["id"]] + [a["id"] for a in before]
    assert after[1:] == before


def test_every_api_call_is_audited_with_its_patient(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "prac")
    pid = clinic_app.patient_id
    for method, path, body in routes(pid)[2:]:
        web.request(method, path, json=body, headers=headers)
    web.get("/api/v1/patients", headers=headers)
    actions = audit_actions(clinic_app.db)
    for action in (
        "patient.read",
        "assessment.list",
        "assessment.create",
        "measurement.list",
        "measurement.create",
    ):
        assert ("prac", action, pid) in actions, action
    assert ("prac", "patient.list", None) in actions
    lists, _ = services.search_audit(clinic_app.db, action="patient.list", patient_id=pid)
    [listed] = lists
    assert listed.detail.startswith(f"api results=1 patients={pid}")
    events, _ = services.search_audit(clinic_app.db, username="prac")
    assert all(e.detail.startswith("api") for e in events)


def test_a_revoked_token_stops_working(web: TestClient, clinic_app: ClinicApp) -> None:
    token, info = services.issue_api_token(clinic_app.db, clinic_app.user_ids["prac"], "x")
    headers = {"Authorization": f"Bearer {token}"}
    assert web.get("/api/v1/patients", headers=headers).status_code == 200
    services.revoke_api_token(clinic_app.db, info.id)
    assert web.get("/api/v1/patients", headers=headers).status_code == 401


def test_a_deactivated_users_token_stops_working(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "desk")
    services.deactivate_user(clinic_app.db, clinic_app.user_ids["desk"])
    assert web.get("/api/v1/patients", headers=headers).status_code == 401


def test_openapi_documents_the_patient_routes_with_bearer_auth(web: TestClient) -> None:
    spec = web.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/api/v1/patients"]) == {"get", "post"}
    assert set(paths["/api/v1/patients/{patient_id}"]) == {"get", "patch"}
    for sub in ("assessments", "measurements"):
        operations = paths[f"/api/v1/patients/{{patient_id}}/{sub}"]
        assert set(operations) == {"get", "post"}
        for op in operations.values():
            assert op["security"]
            assert {"401", "403", "404", "422"} <= set(op["responses"])

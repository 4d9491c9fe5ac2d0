"""JSON that Python's parser accepts but JSON does not (NaN, Infinity, 1e999, lone surrogates)
is refused with 422 in the one error shape on every JSON route, never a 500 (issue 17, M3)."""

from __future__ import annotations

import pytest

from .conftest import TestClient
from .patients_fixtures import ClinicApp, bearer, clinic_app, web
from .test_errors import assert_shape

__all__ = ["clinic_app", "web"]

HOSTILE = {
    "NaN": b'{"age": NaN, "severity": "moderate", "areas": ["full_face"]}',
    "Infinity": b'{"age": Infinity, "severity": "moderate", "areas": ["full_face"]}',
    "-Infinity": b'{"age": -Infinity, "severity": "moderate", "areas": ["full_face"]}',
    "1e999": b'{"age": 1e999, "severity": "moderate", "areas": ["full_face"]}',
    "surrogate": b'{"age": 50, "severity": "\\ud800", "areas": ["full_face"]}',
    "surrogate-key": b'{"age": 50, "\\udfff": 1, "severity": "moderate", "areas": ["full_face"]}',
}


def _assert_refused(response_status: int, body: object) -> None:
    assert response_status == 422, body
    errors = assert_shape(body)
    assert errors[0]["field"]
    assert "JSON" in errors[0]["rule"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("path", ["/api/v1/plan", "/api/v1/forecast", "/api/v1/compare"])
def test_public_routes_refuse_non_standard_json(client: TestClient, path: str, name: str) -> None:
    payload = HOSTILE[name]
    if path != "/api/v1/plan":
        payload = b'{"assessment": ' + payload + b"}"
    response = client.post(path, content=payload, headers={"Content-Type": "application/json"})
    _assert_refused(response.status_code, response.json())


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_token_routes_refuse_non_standard_json(
    web: TestClient, clinic_app: ClinicApp, name: str
) -> None:
    headers = {**bearer(clinic_app, "prac"), "Content-Type": "application/json"}
    pid = clinic_app.patient_id
    for path in (f"/api/v1/patients/{pid}/assessments", f"/api/v1/patients/{pid}/measurements"):
        response = web.post(path, content=HOSTILE[name], headers=headers)
        _assert_refused(response.status_code, response.json())
    body = b'{"given_name": "\\ud800", "family_name": "X", "birth_date": "1970-01-01"}'
    response = web.post("/api/v1/patients", content=body, headers=headers)
    _assert_refused(response.status_code, response.json())
    response = web.post(
        "/api/v1/patients", content=body.replace(b'"\\ud800"', b"NaN"), headers=headers
    )
    _assert_refused(response.status_code, response.json())

"""Every API error has one JSON shape: {"errors": [{"field", "value", "rule"}]} with a 4xx code."""

from __future__ import annotations

from typing import Any

import pytest

from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    InputError,
    ModelRangeError,
    NeedleplanError,
    NotFoundError,
    PermissionDeniedError,
    SchedulingError,
    StateError,
)
from needleplan.web.errors import ErrorBody, status_for

from .conftest import REFERENCE, Env, TestClient


def assert_shape(body: Any) -> list[dict[str, Any]]:
    ErrorBody.model_validate(body)
    assert set(body) == {"errors"}
    assert body["errors"]
    for item in body["errors"]:
        assert set(item) == {"field", "value", "rule"}
        assert isinstance(item["rule"], str)
        assert item["rule"]
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def test_out_of_range_and_unknown_fields_are_named(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={**REFERENCE, "age": 12, "colour": "blue"})
    assert response.status_code == 422
    errors = assert_shape(response.json())
    assert {(e["field"], e["value"]) for e in errors} == {("age", 12), ("colour", "blue")}
    assert next(e for e in errors if e["field"] == "colour")["rule"] == "unknown field"


def test_wrong_enum_value_names_the_list_item(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={**REFERENCE, "areas": ["full_face", "elbow"]})
    errors = assert_shape(response.json())
    assert errors[0]["field"] == "areas.1"
    assert errors[0]["value"] == "elbow"
    assert "full_face" in errors[0]["rule"]


def test_a_rule_across_fields_is_reported_on_the_assessment(client: TestClient) -> None:
    body = {**REFERENCE, "severity": "severe", "glogau_class": 1}
    errors = assert_shape(client.post("/api/v1/plan", json=body).json())
    assert errors[0]["field"] == "assessment"
    assert "contradicts glogau_class" in errors[0]["rule"]


def test_missing_required_field(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={"severity": "mild", "areas": ["neck"]})
    errors = assert_shape(response.json())
    assert errors == [
        {"field": "age", "value": None, "rule": "please answer this question (it is required)"}
    ]


def test_strings_are_not_numbers(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={**REFERENCE, "age": "50"})
    assert response.status_code == 422
    assert assert_shape(response.json())[0]["field"] == "age"


def test_malformed_json_is_a_422_in_the_same_shape(client: TestClient) -> None:
    response = client.post(
        "/api/v1/plan", content=b'{"age": 50,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    errors = assert_shape(response.json())
    assert errors[0]["rule"].startswith("malformed JSON")


def test_a_body_that_is_not_an_object(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json=[1, 2])
    assert response.status_code == 422
    assert assert_shape(response.json())[0]["field"] == "body"


def test_long_values_are_cut_short_in_the_error(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={**REFERENCE, "goal": "x" * 5000})
    value = assert_shape(response.json())[0]["value"]
    assert len(value) <= 201


def test_unknown_api_path_and_wrong_method(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert assert_shape(missing.json()) == [
        {"field": "path", "value": "/api/v1/nothing-here", "rule": "no such resource"}
    ]
    wrong = client.get("/api/v1/plan")
    assert wrong.status_code == 405
    assert assert_shape(wrong.json())[0] == {
        "field": "method",
        "value": "GET",
        "rule": "method not allowed on this path",
    }


def test_html_pages_get_an_html_error_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


def test_needleplan_errors_raised_in_a_route_map_to_4xx(env: Env, client: TestClient) -> None:
    raised: dict[str, Exception] = {
        "input": InputError.one("age", 7, "must be at least 18"),
        "blocked": BlockedError(["pregnancy: defer treatment"]),
        "missing": NotFoundError("no patient 42"),
        "denied": PermissionDeniedError("front desk cannot read notes"),
    }

    @env.app.get("/api/v1/test-raise/{kind}")
    def _raise(kind: str) -> None:
        raise raised[kind]

    input_error = client.get("/api/v1/test-raise/input")
    assert input_error.status_code == 422
    assert assert_shape(input_error.json()) == [
        {"field": "age", "value": 7, "rule": "must be at least 18"}
    ]
    blocked = client.get("/api/v1/test-raise/blocked")
    assert blocked.status_code == 409
    assert assert_shape(blocked.json())[0]["field"] == "contraindications"
    assert client.get("/api/v1/test-raise/missing").status_code == 404
    assert client.get("/api/v1/test-raise/denied").status_code == 403


def test_an_unexpected_error_is_a_500_in_the_same_shape_without_details(env: Env) -> None:
    @env.app.get("/api/v1/test-bug")
    def _bug() -> None:
        raise RuntimeError("secret patient detail")

    with TestClient(env.app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/test-bug")
    assert response.status_code == 500
    errors = assert_shape(response.json())
    assert "secret patient detail" not in response.text
    assert errors[0]["rule"] == "internal error; please report it"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InputError.one("a", 1, "r"), 422),
        (ModelRangeError("years beyond the validated range"), 422),
        (BlockedError(["x"]), 409),
        (ConflictError("double booking"), 409),
        (StateError("completed -> active"), 409),
        (SchedulingError("no slot"), 409),
        (NotFoundError("none"), 404),
        (PermissionDeniedError("no"), 403),
        (NeedleplanError("other"), 500),
    ],
)
def test_status_codes_for_needleplan_errors(exc: NeedleplanError, status: int) -> None:
    assert status_for(exc) == status


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for path in ("/estimate", "/login"):
        headers = client.get(path).headers
        assert "script-src 'self';" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    api = client.post("/api/v1/plan", json=REFERENCE)
    assert api.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in api.headers


def test_openapi_documents_the_versioned_api(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/plan" in spec["paths"]
    assert "/api/v1/whoami" in spec["paths"]
    assert not any(p.startswith("/app") or p == "/login" for p in spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text


def test_api_json_is_gzipped_but_html_pages_are_not(client: TestClient) -> None:
    body = {"assessment": REFERENCE, "draws": 50}
    api = client.post("/api/v1/forecast", json=body, headers={"Accept-Encoding": "gzip"})
    assert api.headers["content-encoding"] == "gzip"
    assert api.json()["curve"]["median"]  # decoded by the client: a whole, valid answer
    script = client.get("/static/estimate.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    assert script.headers["content-encoding"] == "gzip"
    page = client.get("/estimate", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in page.headers


def test_api_responses_set_no_cookies(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json=REFERENCE)
    assert "set-cookie" not in response.headers
    assert "needleplan_csrf" in client.get("/estimate").headers["set-cookie"]


def test_openapi_declares_the_bearer_scheme_on_token_routes(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/whoami"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in spec["paths"]["/api/v1/plan"]["post"]


def test_docs_are_served_from_this_site_under_a_strict_script_policy(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn." not in docs.text
    assert "https://" not in docs.text
    policy = docs.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("style-src")[0]
    bundle = client.get("/static/apidocs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "SwaggerUIBundle" in bundle.text
    assert client.get("/redoc").status_code == 404

"""Schemathesis over the OpenAPI document: no generated input makes the API answer 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from needleplan.web import Settings, create_app

from .conftest import TEST_SECRET

# A generous rate limit so the fuzzer reaches the handlers instead of the 429 path.
app = create_app(
    Settings(environment="test", secret_key=TEST_SECRET, api_burst=1_000_000, max_draws=200)
)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_input_gives_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"errors"}
        assert all(set(e) == {"field", "value", "rule"} for e in body["errors"])

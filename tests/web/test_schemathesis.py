"""Schemathesis over the OpenAPI document: no generated input makes the API answer 5xx, and the
answers conform to the document (status codes, content types, response schemas, the Allow header
of a 405, schema-invalid input refused).

One check is left out: "schema-valid request accepted". Rules across fields that need
arithmetic (the initial series must end inside the forecast horizon) cannot be written in JSON
Schema; the document states them in words, and the handlers refuse them with 422 naming the field.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from needleplan.web import Settings, create_app
from tests.strategies import examples

from .conftest import TEST_SECRET

#: The server's draw cap for the fuzzed apps. The fuzzer checks robustness and conformance, not
#: the accuracy of a band: the draws are only the size of the arrays the forecast computes on (no
#: branch depends on it), and the cap rule is exercised the same way at any cap (the document
#: states it, a larger value is refused with 422, an absent one is lowered to it). At 20 rather
#: than 200 a comparison of 30 forecasts costs about 0.06 s instead of 0.1 s.
FUZZ_MAX_DRAWS = 20

# A generous rate limit so the fuzzer reaches the handlers instead of the 429 path.
app = create_app(
    Settings(
        environment="test",
        secret_key=TEST_SECRET,
        api_burst=1_000_000,
        max_draws=FUZZ_MAX_DRAWS,
    )
)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_input_gives_a_server_error(case: schemathesis.Case) -> None:
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"errors"}
        assert all(set(e) == {"field", "value", "rule"} for e in body["errors"])


# The patient API over a real SQLite clinic, called with a practitioner's token (every route open
# to it). Nothing may answer 5xx, whatever the generated path ids, queries and bodies.
def _clinic_app() -> tuple[Any, str]:
    import atexit
    import shutil
    import tempfile

    from needleplan import services
    from needleplan.storage import Database

    folder = tempfile.mkdtemp(prefix="needleplan-schemathesis-")
    db = Database.open(f"sqlite:///{folder}/clinic.sqlite3")

    def _cleanup() -> None:
        db.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(_cleanup)
    user = services.create_user(db, "prac", "practitioner-password-1", "practitioner")
    services.register_patient(
        db, {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}
    )
    token, _ = services.issue_api_token(db, user.id, "schemathesis")
    settings_ = Settings(
        environment="test",
        secret_key=TEST_SECRET,
        api_burst=1_000_000,
        max_draws=FUZZ_MAX_DRAWS,
    )
    return create_app(settings_, database=db), token


clinic_app, clinic_token = _clinic_app()
clinic_schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", clinic_app).include(
    path_regex="^/api/v1/patients"
)


@clinic_schema.parametrize()
@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_patient_api_never_answers_a_server_error(case: schemathesis.Case) -> None:
    excluded: list[Any] = [positive_data_acceptance]
    if case.operation.schema.is_security_param_negated(case):
        # Every call carries the practitioner's token, so a case whose invalid part is a missing
        # or mangled Authorization header reaches the server valid: its acceptance is no fault.
        # (Schemathesis's own auth would send such cases without a token, but it also sends
        # generated "Bearer ..." values on valid cases, which then never reach the handlers.)
        excluded.append(negative_data_rejection)
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {clinic_token}"}, excluded_checks=excluded
    )
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"errors"}
        assert all(set(e) == {"field", "value", "rule"} for e in body["errors"])

"""The consultation page's cost table: ``POST /app/consult/compare`` prices the standard
comparison with the clinic's prices in force (not the shipped defaults), per role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.forecasting.optimise import load_prices
from needleplan.storage import Database
from needleplan.web.auth import InMemoryUserStore

from .booking_support import Clinic, make_clinic, signed_in
from .conftest import TestClient, login

PRICES = {"initial_session": 410.0, "maintenance_session": 205.0, "currency": "CHF"}
JSON = {"Accept": "application/json"}  # as the page's script asks
BODY = {"assessment": reference_assessment().model_dump(mode="json")}


@pytest.fixture
def priced(user_store: InMemoryUserStore, db: Database) -> Clinic:
    return make_clinic(user_store, db, prices=PRICES)


@pytest.fixture
def web(priced: Clinic) -> Iterator[TestClient]:
    with TestClient(priced.app, base_url="http://testserver") as c:
        yield c


def test_the_cost_table_uses_the_clinic_prices_in_force(web: TestClient) -> None:
    login(web, "prac")
    answer = web.post("/app/consult/compare", json=BODY)
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    assert doc["currency"] == "CHF"
    defaults = load_prices(None)
    assert (defaults.initial_session, defaults.currency) != (410.0, "CHF")
    series = next(s for s in doc["scenarios"] if s["key"] == "series")
    assert series["cost"] == series["initial_sessions"] * 410.0
    upkeep = next(s for s in doc["scenarios"] if s["key"] == "maintenance_12m")
    assert (
        upkeep["cost"]
        == 410.0 * upkeep["initial_sessions"] + 205.0 * upkeep["maintenance_sessions"]
    )
    assert doc["noticeable_any"] is True  # the reference patient stays noticeable for years
    public = web.post("/api/v1/compare", json=BODY).json()
    assert public["currency"] == defaults.currency  # the public route keeps the defaults
    assert [s["noticeable_months_after_last_initial"] for s in public["scenarios"]] == [
        s["noticeable_months_after_last_initial"] for s in doc["scenarios"]
    ]  # the same standard forecast


@pytest.mark.parametrize(("username", "status"), [("desk", 403), ("admin", 403)])
def test_only_clinical_staff_see_the_consultation_costs(
    web: TestClient, username: str, status: int
) -> None:
    login(web, username)
    assert web.post("/app/consult/compare", json=BODY).status_code == status


def test_signed_out_the_costs_are_refused(web: TestClient) -> None:
    answer = web.post("/app/consult/compare", json=BODY, headers=JSON, follow_redirects=False)
    assert answer.status_code in (401, 303)


def test_a_blocked_plan_and_bad_input_are_refused_with_the_field(web: TestClient) -> None:
    login(web, "prac")
    blocked = {"assessment": BODY["assessment"] | {"contraindications": ["active_infection"]}}
    assert web.post("/app/consult/compare", json=blocked, headers=JSON).status_code == 409
    bad = web.post(
        "/app/consult/compare", json={"assessment": BODY["assessment"] | {"age": -3}}, headers=JSON
    )
    assert bad.status_code == 422
    assert "age" in bad.text
    too_many = web.post("/app/consult/compare", json=BODY | {"draws": 20_000}, headers=JSON)
    assert too_many.status_code == 422


def test_the_booking_panel_loads_her_latest_assessment(web: TestClient, priced: Clinic) -> None:
    jane = priced.patient()
    login(web, "prac")
    url = f"/app/consult/patients/{jane.id}/assessment"
    age_today = jane.age_on(datetime.now(priced.clinic.tz).date())
    assert web.get(url, headers=JSON).json() == {"assessment": None, "age_today": age_today}
    services.record_assessment(priced.db, jane.id, BODY["assessment"] | {"severity": "mild"})
    services.record_assessment(priced.db, jane.id, BODY["assessment"] | {"severity": "advanced"})
    latest = web.get(url, headers=JSON).json()
    assert latest["assessment"]["severity"] == "advanced"
    assert latest["age_today"] == age_today  # the form's age comes from her date of birth
    actions = [e.action for e in services.audit_log(priced.db, patient_id=jane.id)]
    assert actions.count("assessment.list") == 2
    login(web, "desk")
    assert web.get(url, headers=JSON, follow_redirects=False).status_code == 403


def test_a_consultation_is_saved_without_booking(web: TestClient, priced: Clinic) -> None:
    jane = priced.patient()
    token = signed_in(web, "prac")
    headers = JSON | {"X-CSRF-Token": token}
    body = {"patient_id": jane.id, "assessment": BODY["assessment"]}
    saved = web.post("/app/consult/save", json=body, headers=headers)
    assert saved.status_code == 201, saved.text
    assert saved.json()["plan"]["initial_sessions"] == 5
    (record,) = services.assessment_history(priced.db, jane.id)
    assert record.id == saved.json()["assessment_id"]
    assert record.notes.startswith("consultation without booking; plan: 5 sessions")
    assert services.patient_file(priced.db, jane.id).courses == []
    actions = [e.action for e in services.audit_log(priced.db, patient_id=jane.id)]
    assert "assessment.create" in actions
    wrong_age = body | {"assessment": BODY["assessment"] | {"age": 30}}
    refused = web.post("/app/consult/save", json=wrong_age, headers=headers)
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert (error["field"], error["value"]) == ("age", 30)
    missing = web.post("/app/consult/save", json=body | {"patient_id": 99_999}, headers=headers)
    assert missing.status_code == 404
    no_csrf = web.post("/app/consult/save", json=body, headers=JSON)
    assert no_csrf.status_code == 403
    assert len(services.assessment_history(priced.db, jane.id)) == 1


def test_front_desk_cannot_save_a_consultation(web: TestClient, priced: Clinic) -> None:
    jane = priced.patient()
    token = signed_in(web, "desk")
    body = {"patient_id": jane.id, "assessment": BODY["assessment"]}
    answer = web.post("/app/consult/save", json=body, headers=JSON | {"X-CSRF-Token": token})
    assert answer.status_code == 403
    assert services.assessment_history(priced.db, jane.id) == []


#: An 88-year-old with severe laxity over a large area and every risk factor the guideline
#: knows: even twelve sessions with upkeep every 6 months never make a noticeable difference
#: for the typical patient like her.
HARD_CASE = {
    "age": 88,
    "severity": "severe",
    "areas": ["full_face", "neck", "chest"],
    "goal": "maximal",
    "smoking": "current",
    "sun_exposure": "high",
    "spf_habit": False,
    "sun_damage_history": True,
    "diet": "poor",
    "aftercare": "poor",
    "conditions": ["diabetes", "autoimmune"],
    "genetics": ["accelerated_aging", "slow_healing"],
    "repair_capacity": "reduced",
    "concerns": ["deep_wrinkles", "loose_neck_skin"],
}


def test_when_no_option_stays_noticeable_the_page_is_told_so(web: TestClient) -> None:
    """The page quotes no savings for her (consult.js reads ``noticeable_any``)."""
    login(web, "prac")
    answer = web.post("/app/consult/compare", json={"assessment": HARD_CASE, "draws": 200})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert [s["noticeable_years_total"] for s in doc["scenarios"]] == [0.0] * len(doc["scenarios"])
    assert doc["noticeable_any"] is False
    assert doc["cheapest"] is None

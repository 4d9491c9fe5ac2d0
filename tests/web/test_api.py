"""The stateless API returns exactly what the library (and the CLI's --json) returns."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from needleplan.domain import parse_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.scenarios import compare_scenarios
from needleplan.guideline import make_protocol
from tests.cli_support import invoke

from .conftest import REFERENCE, TestClient

SMOKER = {**REFERENCE, "smoking": "current"}
PREGNANT = {**REFERENCE, "contraindications": ["pregnancy"]}


def test_plan_is_the_protocol_public_json(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json=REFERENCE)
    assert response.status_code == 200
    expected = make_protocol(parse_assessment(REFERENCE)).to_public_json()
    assert response.json() == json.loads(json.dumps(expected))
    assert response.json()["initial_sessions"] in range(4, 7)


def test_plan_matches_the_cli_json(client: TestClient, tmp_path: Any) -> None:
    source = tmp_path / "a.json"
    source.write_text(json.dumps(SMOKER), encoding="utf-8")
    cli = invoke(["plan", "--from", str(source), "--json"])
    assert cli.returncode == 0, cli.stderr
    assert client.post("/api/v1/plan", json=SMOKER).json() == json.loads(cli.stdout)


def test_a_blocked_plan_is_200_with_blocked_true_and_the_reasons(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json=PREGNANT)
    assert response.status_code == 200
    body = response.json()
    assert body["blocked"] is True
    assert any("pregnan" in r.lower() for r in body["block_reasons"])


def test_forecast_default_schedule_is_the_plans(client: TestClient) -> None:
    body = {"assessment": REFERENCE, "draws": 200, "seed": 3}
    response = client.post("/api/v1/forecast", json=body)
    assert response.status_code == 200
    a = parse_assessment(REFERENCE)
    plan = make_protocol(a)
    days = series_days(plan.initial_sessions, plan.recommended_interval_days, years=10.0)
    expected = forecast(
        a, days, years=10.0, draws=200, seed=3, n_initial=plan.initial_sessions
    ).to_json()
    assert response.json() == json.loads(json.dumps(expected))


def test_forecast_overrides_sessions_interval_maintenance_years(client: TestClient) -> None:
    body = {
        "assessment": REFERENCE,
        "sessions": 3,
        "interval_days": 30,
        "maintenance_months": 9,
        "years": 6,
        "draws": 100,
        "seed": 5,
    }
    got = client.post("/api/v1/forecast", json=body).json()
    a = parse_assessment(REFERENCE)
    days = series_days(3, 30, maintenance_months=9, years=6)
    expected = forecast(a, days, years=6, draws=100, seed=5, n_initial=3).to_json()
    assert got == json.loads(json.dumps(expected))
    assert got["session_days"][:3] == [0, 30, 60]
    assert got["initial_sessions"] == 3
    assert len(got["session_days"]) > 3


def test_smoking_shortens_the_forecast_through_the_api(client: TestClient) -> None:
    def months(assessment: dict[str, Any]) -> float:
        body = {"assessment": assessment, "draws": 200, "sessions": 5, "interval_days": 35}
        response = client.post("/api/v1/forecast", json=body)
        value: float = response.json()["milestones"]["noticeable_months_after_last_initial"][
            "median"
        ]
        return value

    assert months(SMOKER) < months(REFERENCE)


def test_curve_step_keeps_the_shape_and_the_last_day(client: TestClient) -> None:
    body = {"assessment": REFERENCE, "draws": 100, "years": 2}
    full = client.post("/api/v1/forecast", json=body).json()
    thin = client.post("/api/v1/forecast", json={**body, "curve_step_days": 7}).json()
    assert set(thin) == set(full)
    assert set(thin["curve"]) == {"day", "median", "p10", "p90"}
    assert thin["curve"]["day"][:3] == [0, 7, 14]
    assert thin["curve"]["day"][-1] == full["curve"]["day"][-1]
    assert thin["curve"]["median"][1] == full["curve"]["median"][7]
    assert len({len(v) for v in thin["curve"].values()}) == 1
    assert thin["milestones"] == full["milestones"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"sessions": 0}, "sessions"),
        ({"sessions": 21}, "sessions"),
        ({"interval_days": 7}, "interval_days"),
        ({"maintenance_months": 1}, "maintenance_months"),
        ({"years": 16}, "years"),
        ({"years": 0}, "years"),
        ({"draws": 5}, "draws"),
        ({"draws": 5000}, "draws"),
        ({"seed": -1}, "seed"),
        ({"curve_step_days": 0}, "curve_step_days"),
        ({"colour": "red"}, "colour"),
        ({"assessment": {**REFERENCE, "age": 91}}, "assessment.age"),
        ({"years": 0.1}, "years"),
    ],
)
def test_forecast_bad_input_names_the_field(
    client: TestClient, override: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/forecast", json={"assessment": REFERENCE, **override})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_forecast_needs_an_assessment(client: TestClient) -> None:
    response = client.post("/api/v1/forecast", json=REFERENCE)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "assessment" in fields
    assert "age" in fields  # the assessment's fields are not accepted at the top level


def test_forecast_of_a_blocked_plan_is_409(client: TestClient) -> None:
    response = client.post("/api/v1/forecast", json={"assessment": PREGNANT, "sessions": 3})
    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["field"] == "contraindications"
    assert error["rule"].startswith("plan blocked: ")


def test_compare_is_the_library_comparison(client: TestClient) -> None:
    body = {"assessment": REFERENCE, "draws": 50, "seed": 2, "years": 8}
    got = client.post("/api/v1/compare", json=body).json()
    a = parse_assessment(REFERENCE)
    expected = compare_scenarios(a, make_protocol(a), years=8, draws=50, seed=2).to_json()
    assert got == json.loads(json.dumps(expected))
    keys = [s["key"] for s in got["scenarios"]]
    assert keys[:2] == ["single", "series"]
    assert len(keys) == 5
    assert "curves" not in got


def test_compare_can_include_thinned_curves(client: TestClient) -> None:
    body = {"assessment": REFERENCE, "draws": 50, "years": 3, "curves": True, "curve_step_days": 30}
    got = client.post("/api/v1/compare", json=body).json()
    assert set(got["curves"]) == {s["key"] for s in got["scenarios"]}
    n = len(got["day"])
    assert got["day"][:2] == [0, 30]
    assert all(len(c["median"]) == n for c in got["curves"].values())


def test_compare_of_a_blocked_plan_is_409(client: TestClient) -> None:
    response = client.post("/api/v1/compare", json={"assessment": PREGNANT, "draws": 50})
    assert response.status_code == 409


def test_forecast_matches_the_cli_json(client: TestClient, tmp_path: Any) -> None:
    source = tmp_path / "a.json"
    source.write_text(json.dumps(SMOKER), encoding="utf-8")
    args = ["--sessions", "3", "--interval-days", "30", "--maintenance-months", "9"]
    args += ["--years", "5", "--draws", "100", "--seed", "4"]
    cli = invoke(["forecast", "--from", str(source), "--json", *args])
    assert cli.returncode == 0, cli.stderr
    body = {
        "assessment": SMOKER,
        "sessions": 3,
        "interval_days": 30,
        "maintenance_months": 9,
        "years": 5,
        "draws": 100,
        "seed": 4,
    }
    assert client.post("/api/v1/forecast", json=body).json() == json.loads(cli.stdout)


def test_the_untreated_ageing_line_comes_on_request(client: TestClient) -> None:
    """``untreated: true`` adds her skin without treatment on the same days: zero at the start,
    falling, and below the treated median (treatment never looks like harm)."""
    body = {"assessment": REFERENCE, "draws": 100, "curve_step_days": 7}
    plain = client.post("/api/v1/forecast", json=body).json()
    assert "untreated" not in plain["curve"]
    got = client.post("/api/v1/forecast", json=body | {"untreated": True}).json()
    untreated = got["curve"]["untreated"]
    assert len(untreated) == len(got["curve"]["day"])
    assert untreated[0] == 0
    assert all(a > b for a, b in itertools.pairwise(untreated))
    assert untreated[-1] < got["curve"]["median"][-1] < 0  # ten years on: below zero, but higher

"""One forecast configuration for every surface: the CLI's ``consult``, the consultation page,
the public estimator and the handout show the same figures and bands for the same patient.

The pages are JavaScript over the REST API: the test posts exactly the bodies
``static/consult.js`` and ``static/estimate.js`` post (no draws, seed or horizon: the server's
standard, :mod:`needleplan.forecasting.standard`), and checks the scripts still post those.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import needleplan.web
from needleplan.cli.main import app as cli_app
from needleplan.domain import reference_assessment
from needleplan.forecasting import standard
from needleplan.guideline import make_protocol
from needleplan.reports.handout import handout_for_assessment

from .conftest import TestClient

STATIC = Path(needleplan.web.__file__).with_name("static")


def _band(doc: dict[str, Any]) -> tuple[float, float, float]:
    band = doc.get("milestones", doc)["noticeable_months_after_last_initial"]
    return (band["median"], band["p10"], band["p90"])


def test_every_surface_shows_the_same_forecast_for_the_same_patient(
    client: TestClient,
) -> None:
    assessment = reference_assessment()
    protocol = make_protocol(assessment)
    months = standard.upkeep_months(protocol)
    body = assessment.model_dump(mode="json")
    series = standard.plan_forecast(assessment, protocol)
    upkeep = standard.plan_forecast(assessment, protocol, maintenance_months=months)
    expected = {
        "series": _band({"milestones": series.milestones.to_json()}),
        "upkeep": _band({"milestones": upkeep.milestones.to_json()}),
    }
    assert expected["series"] != expected["upkeep"]

    # the handout
    handout = handout_for_assessment(assessment, clinic_name="C")
    (_, plain), (upkeep_label, with_upkeep) = handout.scenarios
    assert f"every {months} months" in upkeep_label
    assert _band({"milestones": plain.milestones.to_json()}) == expected["series"]
    assert _band({"milestones": with_upkeep.milestones.to_json()}) == expected["upkeep"]

    # the public estimator (estimate.js) and the consultation page's charts (consult.js)
    for extra in ({}, {"maintenance_months": months}):
        answer = client.post(
            "/api/v1/forecast", json={"assessment": body, "curve_step_days": 7, **extra}
        )
        assert answer.status_code == 200, answer.text
        key = "upkeep" if extra else "series"
        assert _band(answer.json()) == expected[key]
        assert answer.json()["draws"] == standard.DRAWS
        assert answer.json()["seed"] == standard.SEED

    # the consultation page's cost table (consult.js) and the CLI's consult use the comparison
    compared = client.post("/api/v1/compare", json={"assessment": body})
    assert compared.status_code == 200, compared.text
    scenarios = {s["key"]: s for s in compared.json()["scenarios"]}
    assert _band(scenarios["series"]) == expected["series"]
    assert _band(scenarios[f"maintenance_{months}m"]) == expected["upkeep"]

    shown = CliRunner().invoke(cli_app, ["consult"], env={"COLUMNS": "220"})
    assert shown.exit_code == 0, shown.output
    for result, label in ((series, "no upkeep"), (upkeep, f"every {months} months")):
        band = result.milestones.noticeable_months_after_last_initial
        row = next(line for line in shown.output.splitlines() if label in line)
        hi = ("≥" if band.p90_censored else "") + f"{band.p90:.1f}"  # cut off by the horizon
        assert f"{band.median:.1f} ({band.p10:.1f}-{hi})" in row, row


def test_the_pages_post_no_forecast_settings_of_their_own() -> None:
    """The scripts leave draws, seed and horizon to the server (one configuration)."""
    # the consultation page asks the staff route: the public forecast with the clinic's own
    # noticeable threshold (tests/web/test_clinic_threshold.py), the same settings otherwise
    for script, route in (
        ("consult.js", "/app/consult/forecast"),
        ("estimate.js", "/api/v1/forecast"),
    ):
        text = (STATIC / script).read_text(encoding="utf-8")
        assert route in text
        assert not re.search(r"[{,]\s*(draws|seed|years)\s*:", text), script

"""The seed claims (SPEC) for the reference patient, checked against the shipped parameters.

Each row of ``targets.toml`` is one test; the calibration script fits to the same file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from needleplan.domain import reference_assessment
from needleplan.forecasting.calibration.claims import ClaimResult, evaluate_claims, load_targets
from needleplan.forecasting.calibration.fit import claim_residuals, prior_residuals, to_theta
from needleplan.forecasting.calibration.trials import (
    TrialMeasurement,
    load_trials,
    trial_predictions,
    trial_residuals,
)
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.params import PARAMS_PATH, default_params
from needleplan.guideline import make_protocol

TARGETS = load_targets()


@pytest.fixture(scope="module")
def results() -> dict[str, ClaimResult]:
    return {r.claim.id: r for r in evaluate_claims()}


@pytest.mark.parametrize("claim_id", [c.id for c in TARGETS.claims])
def test_seed_claim_holds_for_the_reference_patient(
    claim_id: str, results: dict[str, ClaimResult]
) -> None:
    r = results[claim_id]
    assert r.holds, (
        f"{r.claim.text}: model gives {r.value:.2f} (bounds {r.lower}, {r.upper}) {r.detail}"
    )


def test_every_seed_claim_of_the_spec_is_in_the_targets_file() -> None:
    ids = {c.id for c in TARGETS.claims}
    assert {
        "peak_1_to_6_months",
        "most_of_the_gain_by_3_months",
        "noticeable_at_12_months",
        "noticeable_1_to_3_years_median_curve",
        "noticeable_1_to_3_years_population",
        "above_baseline_at_2_years",
        "below_noticeable_by_5_years",
        "single_session_6_to_12_months",
        "maintenance_6m_at_least_5_years_not_forever",
        "maintenance_9m_at_least_5_years_not_forever",
        "maintenance_12m_at_least_5_years_not_forever",
        "smoking_shortens",
        "diabetes_shortens",
        "heavy_sun_shortens",
        "poor_aftercare_shortens",
    } <= ids


def test_reference_protocol_schedule_is_the_calibration_scenario() -> None:
    """The guideline's plan for the reference patient is the series the claims are fitted on."""
    p = make_protocol(reference_assessment())
    assert 4 <= p.initial_sessions <= 6
    assert 28 <= p.recommended_interval_days <= 42
    spec = TARGETS.scenarios["series"]
    assert (p.initial_sessions, p.recommended_interval_days) == (
        spec["sessions"],
        spec["interval_days"],
    )


def test_reference_forecast_with_the_default_schedule_matches_the_seed_timeline() -> None:
    res = forecast(reference_assessment(), series_days(5, 35), n_initial=5)
    last = res.last_initial_day
    assert 30 <= res.milestones.peak_day - last <= 183  # seed 1-3 months, read with T1/K2
    assert res.improvement_on(last + 91.3) >= 0.9 * res.milestones.peak_improvement
    assert res.improvement_on(last + 365.25) >= res.noticeable_threshold
    assert res.improvement_on(last + 730.5) > 0
    assert res.improvement_on(last + 1826.25) < res.noticeable_threshold
    assert 12 <= res.milestones.noticeable_months_after_last_initial.median <= 36


def test_shipped_parameter_file_is_the_output_of_the_fit() -> None:
    """The stored fit cost equals the cost recomputed now: the file was not hand-edited."""
    doc = json.loads(PARAMS_PATH.read_text())
    p = default_params()
    res = np.concatenate(
        [claim_residuals(p, TARGETS), trial_residuals(p), prior_residuals(to_theta(p))]
    )
    assert 0.5 * float(res @ res) == pytest.approx(doc["calibration"]["cost"], abs=1e-6)
    assert all(v["holds"] for v in doc["calibration"]["claims"].values())


def test_the_response_still_rises_between_1_and_3_months_after_a_monthly_course() -> None:
    """T1 (4 monthly sessions): OCT +15.7 % at 1 month and +17.3 % at 3 months after the last
    session; the model, on the same schedule, is higher at 3 months than at 1 month."""
    pred = trial_predictions(default_params())
    assert pred["T1_oct_rise_1_to_3_months"] > 1.0


@pytest.mark.parametrize("m", load_trials().measurements, ids=lambda m: m.id)
def test_each_trial_measurement_is_within_three_sd_of_the_model(m: TrialMeasurement) -> None:
    """Every linked trial mean is reproduced within 3 of its total sd (standard error plus the
    link's stated discrepancy): a posterior-predictive check per measurement."""
    pred = trial_predictions(default_params())
    assert abs(pred[m.id] - m.value) <= 3 * m.total_sd


def test_the_fit_file_records_the_trial_predictions_it_was_fitted_to() -> None:
    doc = json.loads(PARAMS_PATH.read_text())
    pred = trial_predictions(default_params())
    assert doc["calibration"]["trials"] == pytest.approx(
        {k: round(v, 4) for k, v in pred.items()}, abs=1e-4
    )

"""The clinic's own calibration (issue 15, point 10): the marginal likelihood, the fit's
parameter recovery on simulated clinics, the data-sufficiency rule and the predictive check."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import ndtr

from needleplan.domain import parse_assessment
from needleplan.domain.records import MeasurementScale as S
from needleplan.exceptions import InputError
from needleplan.forecasting.clinic_fit import (
    ClinicCalibration,
    ClinicPatient,
    default_calibration,
    fit_clinic,
    marginal_log_likelihood,
    predictive_check,
    simulate_clinic,
    sufficiency,
)
from needleplan.forecasting.clinic_fit.data import MIN_LATE_PATIENTS, MIN_PATIENTS
from needleplan.forecasting.clinic_fit.fit import _scale_log_lik
from needleplan.forecasting.learning import Observation
from needleplan.forecasting.observation import DEFAULT_LINKS, baseline_prior, log_likelihood
from needleplan.forecasting.params import default_params

REFERENCE = parse_assessment({"age": 50, "severity": "moderate", "areas": ["full_face"]})


def _truth() -> ClinicCalibration:
    """A clinic whose patients respond 30 % more, keep it 25 % shorter, vary more in their
    response, and whose raters read GAIS, satisfaction and laxity with an offset."""
    d = default_params()
    return ClinicCalibration(
        d.with_values(
            gain=d.gain * 1.3,
            fast_fade_days=d.fast_fade_days * 0.75,
            slow_fade_years=d.slow_fade_years * 0.75,
            omega_response=0.35,
        ),
        {S.GAIS: -0.3, S.SATISFACTION: 0.5, S.LAXITY_GRADE: 0.3},
    )


# --------------------------------------------------------------------------- the likelihood


@pytest.mark.parametrize("scale", [S.GAIS, S.SATISFACTION, S.WRINKLE_GRADE, S.LAXITY_GRADE])
def test_tabulated_log_likelihood_matches_the_observation_model(scale: S) -> None:
    """The fit's interpolated ordered-probit log-probability is the observation model's own to
    within 1e-4 over every recorded value and a wide range of latent means."""
    link = DEFAULT_LINKS[scale]
    info = link.info
    assert link.step is not None
    values = np.arange(info.low, info.high + link.step / 2, link.step)
    mu = np.random.default_rng(3).uniform(info.low - 3, info.high + 3, size=(values.size, 400))
    exact = log_likelihood(link, values[:, None], mu)
    approx = _scale_log_lik(link, values[:, None], mu)
    assert np.max(np.abs(approx - exact)) < 1e-4


def test_pre_treatment_likelihood_integrates_her_baseline_exactly() -> None:
    """One laxity grade before treatment: ``P(y) = Phi((y + 1/4 - b0) / s) - Phi((y - 1/4 - b0)
    / s)`` with ``s^2 = sigma^2 + tau^2`` (a normal baseline seen through normal noise); the
    fit's quadrature gives it to 1e-3."""
    link = DEFAULT_LINKS[S.LAXITY_GRADE]
    b0, tau = baseline_prior(link, REFERENCE)
    s = math.hypot(link.noise_sd, tau)
    for value in (1.0, 2.0, 2.5, 3.5):
        patient = ClinicPatient(REFERENCE, (0.0,), (Observation(S.LAXITY_GRADE, value, -1.0),))
        exact = float(ndtr((value + 0.25 - b0) / s) - ndtr((value - 0.25 - b0) / s))
        assert marginal_log_likelihood([patient]) == pytest.approx(math.log(exact), abs=1e-3)


def test_the_truth_explains_a_simulated_clinic_better_than_the_default() -> None:
    """Data drawn from a clinic calibration are more likely under it than under the default."""
    patients = simulate_clinic(40, np.random.default_rng(5), calibration=_truth())
    assert marginal_log_likelihood(patients, _truth()) > marginal_log_likelihood(patients) + 5


def test_baseline_shift_moves_the_prior_of_an_absolute_scale() -> None:
    """A calibration's laxity offset shifts her pre-treatment prior; a GAIS offset its offset."""
    links = ClinicCalibration(default_params(), {S.LAXITY_GRADE: 0.4, S.GAIS: -0.2}).links()
    assert baseline_prior(links[S.LAXITY_GRADE], REFERENCE)[0] == pytest.approx(
        baseline_prior(DEFAULT_LINKS[S.LAXITY_GRADE], REFERENCE)[0] + 0.4
    )
    assert links[S.GAIS].offset == pytest.approx(3.8)
    assert links[S.SATISFACTION] == DEFAULT_LINKS[S.SATISFACTION]


def test_calibration_round_trips_through_json_and_refuses_bad_values() -> None:
    cal = _truth()
    back = ClinicCalibration.from_json(cal.to_json())
    assert back.params == cal.params
    assert dict(back.offsets) == pytest.approx(dict(cal.offsets))
    bad = cal.to_json()
    bad["params"]["gain"] = -1.0
    with pytest.raises(InputError, match="gain"):
        ClinicCalibration.from_json(bad)
    with pytest.raises(InputError, match=r"offsets\.nope"):
        ClinicCalibration.from_json({"params": {}, "offsets": {"nope": 1.0}})
    with pytest.raises(InputError, match="capacity"):
        ClinicCalibration.from_json({"params": {"capacity": 3.0}, "offsets": {}})


# --------------------------------------------------------------------------- sufficiency


def test_too_little_data_is_told_how_much_more_it_needs_and_is_not_fitted() -> None:
    """Twelve patients: the rule says how many more are missing; the fit refuses."""
    patients = simulate_clinic(12, np.random.default_rng(2))
    enough = sufficiency(patients)
    assert not enough.enough
    assert enough.more_patients == MIN_PATIENTS - enough.patients_with_follow_ups > 0
    message = enough.message()
    assert f"{enough.more_patients} more patients" in message
    assert "stays on the default" in message
    with pytest.raises(InputError, match="more patients"):
        fit_clinic(patients)


def test_late_follow_ups_are_part_of_the_rule() -> None:
    """Forty patients followed only in their first months: the fade cannot be learnt yet."""
    patients = [
        replace(
            p, observations=tuple(o for o in p.observations if o.day < p.session_days[-1] + 100)
        )
        for p in simulate_clinic(40, np.random.default_rng(4))
    ]
    enough = sufficiency(patients)
    assert enough.late_patients == 0
    assert enough.more_late == MIN_LATE_PATIENTS
    assert not enough.enough
    assert "follow-up 180+ days after a session" in enough.message()


def test_swelling_days_are_not_follow_ups() -> None:
    """A rating 5 days after a session is swelling, not a follow-up; 20 days after is one; a
    rating at a session visit is taken before its needling (35 days after the one before)."""
    p = ClinicPatient(
        REFERENCE,
        (0.0, 35.0),
        (
            Observation(S.GAIS, 4.0, 0.0),
            Observation(S.GAIS, 3.0, 35.0),
            Observation(S.GAIS, 1.0, 40.0),
            Observation(S.GAIS, 2.0, 55.0),
        ),
    )
    assert [o.day for o in p.follow_ups()] == [35.0, 55.0]
    assert [o.day for o in p.used()] == [0.0, 35.0, 55.0]
    assert p.since_session(35.0) == 35.0


def test_malformed_patients_are_refused_naming_the_field() -> None:
    bad = ClinicPatient(REFERENCE, (0.0, 0.0), ())
    with pytest.raises(InputError, match=r"patients\[0\].session_days"):
        marginal_log_likelihood([bad])
    off_scale = ClinicPatient(REFERENCE, (0.0,), (Observation(S.GAIS, 9.0, 30.0),))
    with pytest.raises(InputError, match=r"patients\[0\].observations\[0\].value"):
        marginal_log_likelihood([off_scale])


# --------------------------------------------------------------------------- recovery


#: Patients in the recovery clinic: 70 in the everyday (``fast``) profile, already within every
#: tolerance below; 100, the clinic of docs/calibration.md's table, in the ``thorough`` one.
RECOVERY_PATIENTS = 100 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 70


@pytest.fixture(scope="module")
def recovered() -> tuple[ClinicCalibration, object]:
    """One simulated clinic (RECOVERY_PATIENTS) measured on all five scales, fitted once."""
    patients = simulate_clinic(
        RECOVERY_PATIENTS, np.random.default_rng(1), calibration=_truth(), scales=tuple(S)
    )
    return _truth(), fit_clinic(patients)


def test_fit_recovers_the_clinic_parameters(recovered: tuple[ClinicCalibration, object]) -> None:
    """Parameter recovery on a simulated clinic (tolerances stated in docs/calibration.md):
    mean response within 15 %, mean persistence within 30 %, the response spread within 0.25,
    every scale offset within 0.35 of its noise sd; the fit converged and explains the data
    better than the default."""
    truth, fit = recovered
    from needleplan.forecasting.clinic_fit import ClinicFit

    assert isinstance(fit, ClinicFit)
    assert fit.converged
    p, t = fit.calibration.params, truth.params
    assert p.gain / t.gain == pytest.approx(1.0, abs=0.15)
    assert p.fast_fade_days / t.fast_fade_days == pytest.approx(1.0, abs=0.30)
    assert p.slow_fade_years / p.fast_fade_days == pytest.approx(
        t.slow_fade_years / t.fast_fade_days
    )
    assert p.omega_response == pytest.approx(t.omega_response, abs=0.25)
    for scale, delta in truth.offsets.items():
        noise = DEFAULT_LINKS[scale].noise_sd
        assert fit.calibration.offsets[scale] == pytest.approx(delta, abs=0.35 * noise)
    assert fit.calibration.offsets[S.WRINKLE_GRADE] == pytest.approx(0.0, abs=0.35 * 0.4)
    assert fit.likelihood_ratio > 20


def test_fit_reports_its_estimates_against_the_default(
    recovered: tuple[ClinicCalibration, object],
) -> None:
    _, fit = recovered
    doc = fit.to_json()  # type: ignore[attr-defined]
    names = [e["name"] for e in doc["estimates"]]
    assert names[:5] == [
        "gain",
        "omega_response",
        "fast_fade_days",
        "slow_fade_years",
        "omega_fade",
    ]
    assert {f"offset.{s.value}" for s in S} <= set(names)
    assert doc["sufficiency"]["enough"] is True
    assert doc["degrees_of_freedom"] == len(names)
    back = ClinicCalibration.from_json(doc["calibration"])
    assert back.params == fit.calibration.params  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- predictive check


def test_predictive_check_tells_a_right_calibration_from_a_wrong_one() -> None:
    """On data drawn from the truth, the truth's predicted bands hold the observed medians; the
    default (which misses the clinic's faster fade and offsets) holds fewer measurements."""
    patients = simulate_clinic(60, np.random.default_rng(8), calibration=_truth())
    right = {c.scale: c for c in predictive_check(patients, _truth(), replicates=100)}
    wrong = {c.scale: c for c in predictive_check(patients, default_calibration(), replicates=100)}
    assert set(right) == {S.GAIS, S.SATISFACTION, S.LAXITY_GRADE}
    for check in right.values():
        assert check.inside >= 0.7
        assert np.all(check.observed[:, 1] >= check.predicted[:, 0])
        assert np.all(check.observed[:, 1] <= check.predicted[:, 2])
        assert check.values.size == check.days.size > 0
    assert wrong[S.SATISFACTION].inside < right[S.SATISFACTION].inside
    doc = right[S.GAIS].to_json()
    assert doc["scale"] == "gais"
    assert doc["bins"][0]["days"][0] == 14.0

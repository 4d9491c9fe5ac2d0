"""A clinic's own noticeable threshold in her record's, portal's and handout's months (issue
15, point 8); the library and the public estimator stay on the derived value."""

from __future__ import annotations

from typing import Any

import pytest

from needleplan.domain import reference_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.params import (
    default_params,
    own_threshold_only,
    with_noticeable_threshold,
)
from needleplan.forecasting.wording import threshold_note
from needleplan.reports.handout import handout_for_patient, handout_sections
from needleplan.scheduling import example_clinic
from needleplan.services.clinic_threshold import clinic_params
from needleplan.services.learning import patient_outcome
from tests.outcome_support import add_patient_with_outcomes

DERIVED = default_params().noticeable_threshold
OWN = example_clinic().model_copy(update={"recall_threshold": 6.5})
SAME = example_clinic().model_copy(update={"recall_threshold": DERIVED})


def _months(result: Any) -> float:
    return float(result.milestones.noticeable_months_after_last_initial.median)


def test_clinic_params_carry_the_setting_only_when_it_differs() -> None:
    assert clinic_params(None, None) is None
    assert clinic_params(None, SAME) is None
    own = clinic_params(None, OWN)
    assert own is not None
    assert own.noticeable_threshold == 6.5
    assert own_threshold_only(own)  # only the threshold differs: the posterior still applies
    assert not own_threshold_only(default_params())  # given explicitly: as always, no draws
    refit = with_noticeable_threshold(None, 5.0)
    assert not own_threshold_only(type(refit)(**{**refit.__dict__, "gain": refit.gain * 1.1}))


def test_the_library_keeps_the_derived_value_and_a_clinic_threshold_keeps_the_band() -> None:
    a, sd = reference_assessment(), series_days(5, 35)
    lib = forecast(a, sd, n_initial=5, draws=300)
    own = forecast(a, sd, n_initial=5, draws=300, params=clinic_params(None, OWN))
    assert lib.base_threshold == pytest.approx(DERIVED)
    assert threshold_note(lib.base_threshold) is None
    assert own.base_threshold == 6.5
    assert own.parameter_uncertainty  # the shipped fit with the clinic's threshold
    assert own.covariate_uncertainty
    assert _months(own) < _months(lib) - 1.0
    assert "6.5 %" in (threshold_note(own.base_threshold) or "")


@pytest.fixture
def measured(clinic: Any) -> Any:
    return add_patient_with_outcomes(
        clinic.db,
        clinic.alice.id,
        z=0.5,
        seed=2,
        scales=(MeasurementScale.GAIS, MeasurementScale.SATISFACTION),
    )


def test_her_record_and_portal_months_count_from_the_clinic_threshold(
    clinic: Any, measured: Any
) -> None:
    same = patient_outcome(clinic.db, measured.id, clinic=SAME, draws=200)
    own = patient_outcome(clinic.db, measured.id, clinic=OWN, draws=200)
    for a, b in (
        (own.update.personal, same.update.personal),
        (own.update.population, same.update.population),
    ):
        assert _months(a) < _months(b) - 1.0
        assert a.base_threshold == 6.5
        assert b.base_threshold == pytest.approx(DERIVED)
    assert threshold_note(own.update.personal.base_threshold) is not None
    assert threshold_note(same.update.personal.base_threshold) is None


def test_her_handout_names_the_clinic_threshold(clinic: Any, measured: Any) -> None:
    own = handout_for_patient(clinic.db, measured.id, clinic=OWN, draws=100)
    same = handout_for_patient(clinic.db, measured.id, clinic=SAME, draws=100)
    text_own = "\n".join(s.text for s in handout_sections(own))
    text_same = "\n".join(s.text for s in handout_sections(same))
    assert "this clinic's threshold of 6.5 %" in text_own
    assert "this clinic's threshold" not in text_same
    assert _months(own.scenarios[0][1]) < _months(same.scenarios[0][1])

"""The clinic calibration use-cases: fit from the records (or be told how much more data is
needed), review, adopt as a version, revert; admin only, audited; forecasts name it and learning
uses it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.domain.records import MeasurementScale as S
from needleplan.exceptions import InputError, NotFoundError, PermissionDeniedError
from needleplan.forecasting.clinic_fit import (
    ClinicCalibration,
    ClinicFit,
    ClinicPatient,
    fit_clinic,
    simulate_clinic,
)
from needleplan.forecasting.params import default_params
from needleplan.services import calibrations
from needleplan.services.learning import patient_outcome
from tests.consent_support import sign_treatment
from tests.outcome_support import add_patient_with_outcomes


def _truth() -> ClinicCalibration:
    d = default_params()
    return ClinicCalibration(
        d.with_values(gain=d.gain * 1.4, omega_response=0.3), {S.GAIS: -0.3, S.SATISFACTION: 0.5}
    )


@pytest.fixture(scope="module")
def simulated() -> tuple[list[ClinicPatient], ClinicFit]:
    """A simulated clinic with enough data and its fit, computed once for the module (the fit
    itself is tested in tests/forecasting/test_clinic_fit.py)."""
    patients = simulate_clinic(
        40, np.random.default_rng(7), calibration=_truth(), scales=(S.GAIS, S.SATISFACTION)
    )
    return patients, fit_clinic(patients)


@pytest.fixture
def staff(db: Any) -> dict[str, User]:
    return {
        role: services.create_user(db, role.replace("_", "-") + "x", f"{role}-password-1", role)
        for role in ("admin", "practitioner", "front_desk")
    }


@pytest.fixture
def enough(
    monkeypatch: pytest.MonkeyPatch, simulated: tuple[list[ClinicPatient], ClinicFit]
) -> ClinicFit:
    """The records read as the simulated clinic; the fit of exactly those patients is the one
    computed once above."""
    patients, fit = simulated
    monkeypatch.setattr(
        calibrations, "clinic_data", lambda db: calibrations.ClinicData(list(patients), {})
    )

    def fitted(given: list[ClinicPatient]) -> ClinicFit:
        assert given == patients
        return fit

    monkeypatch.setattr(calibrations, "fit_clinic", fitted)
    return fit


def _audit(db: Any, prefix: str) -> list[Any]:
    events, _ = services.search_audit(db, action=prefix)
    return events


def test_a_clinic_with_too_little_data_is_told_how_much_more_and_stays_on_the_default(
    clinic: Any, staff: dict[str, User]
) -> None:
    """Two patients with outcomes in the records: they are read, the rule says 28 more are
    needed, nothing is stored, and the read is audited."""
    for i in range(2):
        add_patient_with_outcomes(clinic.db, clinic.alice.id, z=0.5, seed=i, name=f"Few{i}")
    lone = services.register_patient(
        clinic.db, {"given_name": "Lone", "family_name": "Rating", "birth_date": "1970-01-01"}
    )
    services.record_measurement(
        clinic.db,
        lone.id,
        {"scale": "gais", "value": 3, "measured_at": "2024-05-01T10:00:00+00:00"},
    )
    data = calibrations.clinic_data(clinic.db)
    assert data.skipped == {"no assessment or session": 1}
    assert len(data.patients) == 2
    assert all(len(p.observations) == 10 for p in data.patients)
    assert all(p.session_days == (0.0, 35.0, 70.0) for p in data.patients)
    out = calibrations.fit_calibration(clinic.db, staff["admin"])
    assert out.proposal is None
    assert out.sufficiency.more_patients == 28
    assert "28 more patients with 3+ follow-ups" in out.sufficiency.message()
    assert calibrations.calibration_history(clinic.db) == []
    assert calibrations.calibration_in_force(clinic.db).label == "default"
    [event] = _audit(clinic.db, "calibration.fit")
    assert "patients=2 enough=no" in event.detail


def test_fit_adopt_and_revert_are_versioned_named_and_audited(
    db: Any, staff: dict[str, User], enough: ClinicFit
) -> None:
    admin = staff["admin"]
    out = calibrations.fit_calibration(db, admin, note="first year of outcomes")
    assert out.proposal is not None
    proposal = out.proposal
    assert proposal.fit["calibration"] == enough.calibration.to_json()
    assert proposal.note == "first year of outcomes"
    assert calibrations.calibration_in_force(db).label == "default"  # a proposal changes nothing

    force = calibrations.adopt_calibration(db, proposal.id, admin)
    today = force.adopted_at.date().isoformat() if force.adopted_at else ""
    assert force.label == f"clinic calibration v1, adopted {today}"
    assert force.calibration.params == enough.calibration.params
    assert calibrations.calibration_in_force(db).label == force.label

    again = calibrations.adopt_calibration(db, proposal.id, admin, note="same again")
    assert again.version == 2
    back = calibrations.revert_calibration(db, admin)
    assert back.version == 3
    assert back.label.startswith("clinic calibration v3")
    assert back.calibration.params == enough.calibration.params
    default = calibrations.revert_calibration(db, admin, to_version=0)
    assert default.label == "default"
    assert calibrations.calibration_in_force(db).calibration.params == default_params()
    kinds = [(r.kind, r.version) for r in calibrations.calibration_history(db)]
    assert kinds == [
        ("adoption", 4),
        ("adoption", 3),
        ("adoption", 2),
        ("adoption", 1),
        ("proposal", None),
    ]
    assert [e.action for e in _audit(db, "calibration.")] == [
        "calibration.revert",
        "calibration.revert",
        "calibration.adopt",
        "calibration.adopt",
        "calibration.fit",
    ]
    assert all(e.username == admin.username for e in _audit(db, "calibration."))


def test_bad_requests_are_refused_naming_the_field(
    db: Any, staff: dict[str, User], enough: ClinicFit
) -> None:
    admin = staff["admin"]
    with pytest.raises(InputError, match="nothing to revert"):
        calibrations.revert_calibration(db, admin)
    with pytest.raises(NotFoundError, match="proposal 99"):
        calibrations.adopt_calibration(db, 99, admin)
    with pytest.raises(InputError, match="proposal"):
        calibrations.adopt_calibration(db, 0, admin)
    with pytest.raises(InputError, match="note"):
        calibrations.fit_calibration(db, admin, note="x" * 201)
    proposal = calibrations.fit_calibration(db, admin).proposal
    assert proposal is not None
    calibrations.adopt_calibration(db, proposal.id, admin)
    with pytest.raises(NotFoundError, match="proposal"):
        calibrations.adopt_calibration(db, proposal.id + 1, admin)  # the adoption row
    with pytest.raises(InputError, match="older than the version in force"):
        calibrations.revert_calibration(db, admin, to_version=1)
    with pytest.raises(InputError, match="to_version"):
        calibrations.revert_calibration(db, admin, to_version=-1)
    assert len(calibrations.calibration_history(db)) == 2


@pytest.mark.parametrize("who", ["practitioner", "front_desk"])
def test_only_admins_fit_adopt_or_revert(
    db: Any, staff: dict[str, User], enough: ClinicFit, who: str
) -> None:
    proposal = calibrations.fit_calibration(db, staff["admin"]).proposal
    assert proposal is not None
    with pytest.raises(PermissionDeniedError):
        calibrations.fit_calibration(db, staff[who])
    with pytest.raises(PermissionDeniedError):
        calibrations.adopt_calibration(db, proposal.id, staff[who])
    calibrations.adopt_calibration(db, proposal.id, staff["admin"])
    with pytest.raises(PermissionDeniedError):
        calibrations.revert_calibration(db, staff[who])
    assert calibrations.calibration_in_force(db).version == 1


def test_her_updated_forecast_uses_and_names_the_calibration_in_force(
    clinic: Any, staff: dict[str, User], enough: ClinicFit
) -> None:
    """Learning runs on the adopted calibration: her forecast changes and names it."""
    patient = add_patient_with_outcomes(clinic.db, clinic.alice.id, z=0.0, seed=3)
    before = patient_outcome(clinic.db, patient.id, draws=200)
    assert before.to_json()["calibration"] == "default"
    proposal = calibrations.fit_calibration(clinic.db, staff["admin"]).proposal
    assert proposal is not None
    force = calibrations.adopt_calibration(clinic.db, proposal.id, staff["admin"])
    after = patient_outcome(clinic.db, patient.id, draws=200)
    assert after.calibration == force.label
    # the clinic's patients respond 40 % more: the population forecast peaks higher
    assert (
        after.update.population.milestones.peak_improvement
        > before.update.population.milestones.peak_improvement
    )


def test_predictive_check_of_a_proposal_and_of_what_is_in_force(
    db: Any, staff: dict[str, User], enough: ClinicFit
) -> None:
    proposal = calibrations.fit_calibration(db, staff["admin"]).proposal
    assert proposal is not None
    title, checks = calibrations.predictive_check_of(
        db, staff["admin"], proposal_id=proposal.id, replicates=50
    )
    assert title == f"Predictive check of proposal {proposal.id}"
    assert [c.scale for c in checks] == [S.GAIS, S.SATISFACTION]
    title, _ = calibrations.predictive_check_of(db, staff["admin"], replicates=50)
    assert "default" in title
    with pytest.raises(PermissionDeniedError):
        calibrations.predictive_check_of(db, staff["practitioner"], replicates=50)


def test_the_recall_due_date_follows_the_calibration_it_is_given(clinic: Any) -> None:
    """The forecast-driven recall rule runs on the parameters it is given (record_session at a
    visit passes the calibration in force): a clinic whose patients lose their gain much faster
    is recalled earlier."""
    from datetime import date

    from needleplan.domain.assessment import reference_assessment
    from needleplan.scheduling import example_clinic
    from needleplan.services.booking import forecast_maintenance_due
    from needleplan.services.courses import default_maintenance_due

    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    cfg = example_clinic()
    planned = services.plan_and_book_course(clinic.db, clinic.patient.id, date(2030, 9, 2), cfg)
    ids = services.sync_practitioners(clinic.db, cfg)
    seen: list[Any] = []

    def capture(course: Any, sessions: Any, assessment: Any) -> Any:
        seen[:] = [course, sessions, assessment]
        return default_maintenance_due(course, sessions, assessment)

    for s, appt in zip(planned.schedule.sessions, planned.booking.appointments, strict=True):
        sign_treatment(clinic.db, clinic.patient.id)
        services.record_session(
            clinic.db,
            {
                "performed_at": appt.start.isoformat(),
                "areas": ["full_face"],
                "device": "pen",
                "needle_depth_mm": {"full_face": 1.0},
                "passes": 2,
                "practitioner_id": ids[s.practitioner],
            },
            appointment_id=appt.id,
            maintenance_due=capture,
        )
    d = default_params()
    fading = d.with_values(
        fast_fade_days=d.build_days * 1.2, slow_fade_years=d.slow_fade_years * 0.2
    )
    shipped = forecast_maintenance_due(cfg)(*seen)
    assert forecast_maintenance_due(cfg, d)(*seen) == shipped
    assert forecast_maintenance_due(cfg, fading)(*seen) < shipped

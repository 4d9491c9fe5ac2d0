"""Outcome learning over the clinic records: her updated forecast and the clinic report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from needleplan import services
from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import NotFoundError
from needleplan.services.learning import clinic_response_report, patient_outcome
from tests.consent_support import sign_treatment
from tests.outcome_support import add_patient_with_outcomes


def test_report_on_a_clinic_without_measurements_is_empty(clinic: Any) -> None:
    """No measurement yet: nobody used, nothing skipped, an honest verdict."""
    report = clinic_response_report(clinic.db)
    assert report.n == 0
    assert report.measurements == 0
    assert report.band_share is None
    assert report.verdict == "no patient with usable measurements yet"
    assert report.to_json()["patients_used"] == 0


def test_report_finds_good_responders_and_counts_every_measurement(clinic: Any) -> None:
    """Twelve patients measured as good responders (z = 1.5): the report says so."""
    for i in range(12):
        add_patient_with_outcomes(clinic.db, clinic.alice.id, z=1.5, seed=i, name=f"Good{i}")
    report = clinic_response_report(clinic.db)
    assert report.n == 12
    assert report.measurements == 12 * 10  # 5 days x GAIS + satisfaction
    assert report.follow_ups == 120
    assert report.z_mean > 0.7
    assert report.shift_score >= 2.0
    assert report.response_multiplier > 1.1
    assert report.verdict == "the clinic's patients respond better than the default calibration"
    assert 0 < report.expected_sd < 1
    scales = {c.scale for c in report.by_scale}
    assert scales == {MeasurementScale.GAIS, MeasurementScale.SATISFACTION}
    doc = report.to_json()
    assert doc["posterior_mean_z"]["prior"] == {"mean": 0.0, "sd": 1.0}
    assert len(doc["patients"]) == 12
    assert "Good0" not in str(doc)  # no names in the report


def test_report_on_a_calibrated_clinic_is_consistent(clinic: Any) -> None:
    """Patients drawn from the calibration itself (z ~ N(0,1)): no shift, band share near 80 %."""
    rng = np.random.default_rng(21)
    for i in range(14):
        z = float(rng.standard_normal())
        add_patient_with_outcomes(clinic.db, clinic.alice.id, z=z, seed=100 + i, name=f"Cal{i}")
    report = clinic_response_report(clinic.db)
    assert report.n == 14
    assert abs(report.shift_score) < 2.0
    assert report.verdict == "consistent with the default calibration"
    assert report.band_share is not None
    assert 0.65 <= report.band_share <= 0.95


def test_patients_without_assessment_or_sessions_are_skipped_with_the_reason(clinic: Any) -> None:
    """A measured patient the model cannot place is counted as skipped, not silently dropped."""
    db = clinic.db
    services.record_measurement(
        db, clinic.patient.id, {"scale": "gais", "value": 3, "measured_at": datetime.now(UTC)}
    )
    other = services.register_patient(
        db,
        {
            "consent_treatment": True,
            "given_name": "No",
            "family_name": "Session",
            "birth_date": f"{date.today().year - 55}-01-01",
        },
    )
    services.record_assessment(db, other.id, {"age": 55, "severity": "mild", "areas": ["neck"]})
    services.record_measurement(
        db, other.id, {"scale": "satisfaction", "value": 6, "measured_at": datetime.now(UTC)}
    )
    add_patient_with_outcomes(db, clinic.alice.id, z=0.0, seed=1)
    report = clinic_response_report(db)
    assert report.n == 1
    assert report.skipped == {"no assessment": 1, "no session": 1}
    assert report.verdict.startswith("too few patients")


def test_the_report_reads_only_the_files_of_measured_patients(clinic: Any) -> None:
    """Patients without a measurement cost no reads: adding 20 of them leaves the number of SQL
    statements the report runs unchanged (it read every patient's whole file before)."""
    from sqlalchemy import event

    db = clinic.db
    add_patient_with_outcomes(db, clinic.alice.id, z=0.5, seed=3, name="Measured")

    def statements() -> tuple[int, int]:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            report = clinic_response_report(db)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return report.n, len(seen)

    used, before = statements()
    for i in range(20):
        services.register_patient(
            db,
            {
                "consent_treatment": True,
                "given_name": f"Unmeasured{i}",
                "family_name": "Patient",
                "birth_date": "1970-01-01",
            },
        )
    assert statements() == (used, before)
    assert used == 1


def test_the_report_reads_measured_patients_a_page_at_a_time(clinic: Any) -> None:
    """Measured patients' records are read with one query per kind for a page of patients, not
    per patient: four more measured patients add no SQL statement to the report (or to the
    calibration fit's data), and each one's records are exactly her patient file's."""
    from sqlalchemy import event

    from needleplan.services.calibrations import clinic_data
    from needleplan.services.patients import TreatmentRecord, patient_file, treatment_records

    db = clinic.db
    add_patient_with_outcomes(db, clinic.alice.id, z=0.5, seed=3, name="First")

    def statements() -> tuple[int, int, int]:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            n = clinic_response_report(db).n
            fitted = len(clinic_data(db).patients)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return n, fitted, len(seen)

    n, fitted, before = statements()
    for i in range(4):
        add_patient_with_outcomes(db, clinic.alice.id, z=-0.5 + i / 4, seed=10 + i, name=f"P{i}")
    assert statements() == (n + 4, fitted + 4, before)
    ids = [p.id for p in services.list_patients(db, limit=100)]
    assert treatment_records(db, [*ids, 999_999]) == [
        *(TreatmentRecord.of(patient_file(db, i)) for i in ids),
        TreatmentRecord(999_999, [], [], [], [], []),
    ]


def test_patient_outcome_updates_her_forecast_and_recall(clinic: Any, make_protocol: Any) -> None:
    """A good responder's own forecast outlasts the population's; her recall is not earlier."""
    patient = add_patient_with_outcomes(
        clinic.db,
        clinic.alice.id,
        z=1.8,
        seed=3,
        scales=(MeasurementScale.GAIS, MeasurementScale.LAXITY_GRADE),
        course_protocol=make_protocol(3),
    )
    out = patient_outcome(clinic.db, patient.id, draws=400)
    assert out.performed_sessions == 3
    assert out.first_session.isoformat() == "2024-01-08"
    assert out.update.posterior.mean > 0.5
    own = out.update.personal.milestones.noticeable_months_after_last_initial
    pop = out.update.population.milestones.noticeable_months_after_last_initial
    assert own.median > pop.median
    assert out.recall_population is not None
    assert out.recall_personal is not None
    assert out.recall_personal.due >= out.recall_population.due
    doc = out.to_json()
    assert doc["measurements"] == {"gais": 5, "laxity_grade": 6}
    assert doc["posterior_z"]["is_prior"] is False
    assert "curve" not in doc["personal"]
    assert "curve" in out.to_json(curves=True)["personal"]


def test_patient_without_measurements_keeps_the_population_forecast(clinic: Any) -> None:
    """Sessions but no measurement: her forecast is the population's, exactly."""
    db = clinic.db
    services.record_assessment(
        db, clinic.patient.id, {"age": 50, "severity": "moderate", "areas": ["full_face"]}
    )
    sign_treatment(db, clinic.patient.id)
    services.record_session(
        db,
        {
            "performed_at": "2024-02-01T10:00:00+00:00",
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.5},
            "passes": 2,
            "practitioner_id": clinic.alice.id,
        },
        patient_id=clinic.patient.id,
    )
    out = patient_outcome(db, clinic.patient.id, draws=200)
    assert out.update.posterior.is_prior
    np.testing.assert_array_equal(out.update.personal.median, out.update.population.median)
    assert out.recall_population is None  # no course, no protocol bounds


def test_patient_outcome_needs_an_assessment_and_a_known_patient(clinic: Any) -> None:
    with pytest.raises(NotFoundError, match="no assessment"):
        patient_outcome(clinic.db, clinic.patient.id)
    with pytest.raises(NotFoundError):
        patient_outcome(clinic.db, 9999)

"""Helpers for the outcome-learning tests: patients whose measurements come from a known ``z``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from needleplan.domain import Assessment, parse_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.chain import curve_inputs
from needleplan.forecasting.learning import Observation
from needleplan.forecasting.models import improvement
from needleplan.forecasting.observation import DEFAULT_LINKS, baseline_prior, simulate
from needleplan.forecasting.params import default_params
from tests.consent_support import sign_treatment

SERIES = (0.0, 35.0, 70.0, 105.0, 140.0)
MONTHLY = tuple(float(d) for d in range(30, 721, 30))
ALL_SCALES = tuple(MeasurementScale)


def reference(**kw: Any) -> Assessment:
    return parse_assessment({"age": 50, "severity": "moderate", "areas": ["full_face"], **kw})


def simulate_observations(
    assessment: Assessment,
    z: float,
    rng: np.random.Generator,
    *,
    sessions: Sequence[float] = SERIES,
    days: Sequence[float] = MONTHLY,
    scales: Sequence[MeasurementScale] = ALL_SCALES,
    persistence: float | None = None,
) -> list[Observation]:
    """Measurements of a patient with random effect ``z`` drawn through the observation model.

    ``persistence`` is her persistence effect ``u_P`` (default: its mean given ``z``).
    Absolute scales get a pre-treatment value drawn from their prior and one measurement of it
    the day before the first session.
    """
    d = np.asarray(days, dtype=np.float64)
    up = None if persistence is None else [persistence]
    inputs = curve_inputs(assessment, np.asarray(sessions), [z], default_params(), up)
    imp = improvement(d, inputs)[0]
    out: list[Observation] = []
    for scale in scales:
        link = DEFAULT_LINKS[scale]
        b0, tau = baseline_prior(link, assessment)
        b = b0 + tau * rng.standard_normal()
        if not link.relative:
            pre = simulate(link, np.zeros(1), b, rng)
            out.append(Observation(scale, float(pre[0]), -1.0))
        values = simulate(link, imp, b, rng)
        out += [Observation(scale, float(v), float(t)) for v, t in zip(values, d, strict=True)]
    return out


def add_patient_with_outcomes(
    db: Any,
    practitioner_id: int,
    *,
    z: float,
    seed: int,
    name: str = "Pat",
    start: datetime = datetime(2024, 1, 8, 10, 0, tzinfo=UTC),
    sessions: Sequence[float] = (0.0, 35.0, 70.0),
    days: Sequence[float] = (60.0, 120.0, 180.0, 270.0, 360.0),
    scales: Sequence[MeasurementScale] = (MeasurementScale.GAIS, MeasurementScale.SATISFACTION),
    course_protocol: Any = None,
) -> Any:
    """Register a patient, her assessment, sessions and measurements simulated from ``z``."""
    from needleplan import services

    patient = services.register_patient(
        db,
        {
            "given_name": name,
            "family_name": "Outcome",
            # 50 (the reference age) on her assessment day, a week before ``start``: born
            # 40 days before the first of the month of ``start``, 50 years earlier
            "birth_date": (date(start.year - 50, start.month, 1) - timedelta(days=40)).isoformat(),
            "consent_treatment": True,
        },
    )
    assessed = start - timedelta(days=7)
    assessment = reference()
    record = services.record_assessment(
        db, patient.id, assessment.model_dump(mode="json"), assessed_at=assessed
    )
    session = {
        "areas": ["full_face"],
        "device": "pen",
        "needle_depth_mm": {"full_face": 1.5},
        "passes": 2,
        "practitioner_id": practitioner_id,
    }
    if course_protocol is not None:
        booking = services.book_course(
            db,
            patient.id,
            course_protocol,
            [
                (start + timedelta(days=d), start + timedelta(days=d, minutes=45), practitioner_id)
                for d in sessions
            ],
            assessment_id=record.id,
            now=start - timedelta(days=1),  # booked back then (a historical course)
        )
        for appt in booking.appointments:
            sign_treatment(db, patient.id)
            services.record_session(
                db, {**session, "performed_at": appt.start.isoformat()}, appointment_id=appt.id
            )
    else:
        for d in sessions:
            when = (start + timedelta(days=d)).isoformat()
            sign_treatment(db, patient.id)
            services.record_session(db, {**session, "performed_at": when}, patient_id=patient.id)
    obs = simulate_observations(
        assessment, z, np.random.default_rng(seed), sessions=sessions, days=days, scales=scales
    )
    for o in obs:
        services.record_measurement(
            db,
            patient.id,
            {
                "scale": o.scale.value,
                "value": o.value,
                "measured_at": (start + timedelta(days=o.day, hours=1)).isoformat(),
            },
        )
    return patient

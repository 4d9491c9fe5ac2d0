"""Assessments: record one, read a patient's history, the latest per patient."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from needleplan.domain.assessment import Assessment, parse_assessment
from needleplan.domain.records import (
    AssessmentRecord,
)
from needleplan.services._clock import aware
from needleplan.services._integrity import age_on, refuse_age_mismatch
from needleplan.storage import Database

T = TypeVar("T")


def record_assessment(
    db: Database,
    patient_id: int,
    assessment: Assessment | Mapping[str, Any],
    *,
    assessed_at: datetime | None = None,
    assessed_by: int | None = None,
    notes: str = "",
) -> AssessmentRecord:
    """Add an assessment to the patient's history (earlier ones are kept unchanged).

    The assessment's ``age`` must be the patient's age on the assessment day (``assessed_at``,
    default now, as a day in the clinic's time zone) from the date of birth; an assessment given
    as a mapping without ``age`` takes that age (as the consultation form fills it in).
    """
    at = aware(assessed_at, "assessed_at")
    with db.transaction() as uow:
        patient = uow.patients.get(patient_id)
        clinic = uow.clinics.first()
        zone = ZoneInfo(clinic.timezone) if clinic is not None else UTC
        day = at.astimezone(zone).date()
        if isinstance(assessment, Mapping) and assessment.get("age") is None:
            assessment = {**assessment, "age": age_on(patient.birth_date, day)}
        parsed = parse_assessment(assessment)
        refuse_age_mismatch(parsed.age, patient.birth_date, day)
        if assessed_by is not None:
            uow.clinics.practitioner(assessed_by)
        return uow.assessments.add(patient_id, parsed, at, assessed_by, notes.strip())


def assessment_history(db: Database, patient_id: int) -> list[AssessmentRecord]:
    """Every assessment of the patient, newest first."""
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.assessments.history(patient_id)


def latest_assessments(db: Database) -> tuple[list[Assessment], int]:
    """Every patient's newest assessment, for population studies (read only).

    Returns the assessments alone, in patient-id order, with no name, record number or id,
    and how many stored assessments no longer pass validation (left out).
    """
    with db.transaction() as uow:
        rows = uow.assessments.latest_data()
    out: list[Assessment] = []
    for data in rows:
        try:
            out.append(Assessment.model_validate(data))
        except ValueError:
            continue
    return out, len(rows) - len(out)

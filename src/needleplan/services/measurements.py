"""Measurements of firmness and the like."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from needleplan.domain.records import (
    Measurement,
    MeasurementDraft,
    parse_record,
)
from needleplan.exceptions import (
    InputError,
)
from needleplan.services._clock import aware, utc_now
from needleplan.services._integrity import refuse_future_measurement
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")


def record_measurement(
    db: Database,
    patient_id: int,
    data: MeasurementDraft | Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Measurement:
    """Store one outcome measurement on a defined scale (GAIS, grades, Cutometer, satisfaction).

    A measurement dated after ``now`` (default: the clock, :func:`~._clock.utc_now`) is
    refused: it cannot have been taken yet.
    """
    draft = parse_record(MeasurementDraft, data)
    with db.transaction() as uow:
        return record_measurement_in(uow, patient_id, draft, now=now)


def record_measurement_in(
    uow: UnitOfWork, patient_id: int, draft: MeasurementDraft, *, now: datetime | None = None
) -> Measurement:
    """:func:`record_measurement` inside an open unit of work (CSV import, the demo)."""
    refuse_future_measurement(draft.measured_at, aware(now, "now") if now else utc_now())
    uow.patients.get(patient_id)
    if draft.measured_by is not None:
        uow.clinics.practitioner(draft.measured_by)
    if draft.course_id is not None:
        course = uow.courses.get(draft.course_id)
        if course.patient_id != patient_id:
            raise InputError.one("course_id", draft.course_id, "belongs to another patient")
    return uow.measurements.add(patient_id, draft)


def measurements_for(db: Database, patient_id: int) -> list[Measurement]:
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.measurements.for_patient(patient_id)

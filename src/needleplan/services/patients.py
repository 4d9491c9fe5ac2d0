"""Patients: register, change, find, search, and the whole file of one patient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from needleplan.domain.records import (
    Appointment,
    AssessmentRecord,
    Course,
    Measurement,
    Patient,
    PatientDraft,
    PerformedSession,
    RecallEntry,
    RecallStatus,
    parse_record,
)
from needleplan.exceptions import (
    InputError,
    NotFoundError,
)
from needleplan.services._clock import utc_now
from needleplan.storage import Database

T = TypeVar("T")


def register_patient(db: Database, data: PatientDraft | Mapping[str, Any]) -> Patient:
    """Register a patient; the record number (``mrn``) is assigned when not given."""
    draft = parse_record(PatientDraft, data)
    with db.transaction() as uow:
        return uow.patients.add(draft, utc_now())


def update_patient(db: Database, patient_id: int, changes: Mapping[str, Any]) -> Patient:
    """Change a patient's demographics, contact details or consent flags (validated as a whole).

    ``changes`` names only the fields that change; ``mrn`` changes too when given (must stay
    unique). Unknown fields are refused.
    """
    with db.transaction() as uow:
        current = uow.patients.get(patient_id).model_dump(exclude={"id", "created_at"})
        draft = parse_record(PatientDraft, current | dict(changes))
        return uow.patients.update(patient_id, draft)


def get_patient(db: Database, patient_id: int) -> Patient:
    with db.transaction() as uow:
        return uow.patients.get(patient_id)


def find_patient(db: Database, key: str) -> Patient:
    """A patient by record number, or by numeric id when ``key`` is all digits."""
    with db.transaction() as uow:
        found = uow.patients.by_mrn(key)
        if found is None and key.isdigit():
            return uow.patients.get(int(key))
        if found is None:
            raise NotFoundError(f"no patient with record number {key}")
        return found


def list_patients(
    db: Database, search: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[Patient]:
    if not 1 <= limit <= 10_000:
        raise InputError.one("limit", limit, "must be between 1 and 10000")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    with db.transaction() as uow:
        return uow.patients.search(search, limit=limit, offset=offset)


@dataclass(frozen=True)
class PatientFile:
    """Everything stored about one patient (what ``patient show`` prints)."""

    patient: Patient
    assessments: list[AssessmentRecord]
    courses: list[Course]
    appointments: list[Appointment]
    sessions: list[PerformedSession]
    measurements: list[Measurement]
    recalls: list[RecallEntry]


def patient_file(db: Database, patient_id: int) -> PatientFile:
    with db.transaction() as uow:
        return PatientFile(
            patient=uow.patients.get(patient_id),
            assessments=uow.assessments.history(patient_id),
            courses=uow.courses.for_patient(patient_id),
            appointments=uow.appointments.for_patient(patient_id),
            sessions=uow.sessions.for_patient(patient_id),
            measurements=uow.measurements.for_patient(patient_id),
            recalls=uow.recalls.query(
                patient_id=patient_id, statuses=tuple(RecallStatus), due_by=None
            ),
        )


def search_patients(
    db: Database, query: str = "", *, limit: int = 25, offset: int = 0
) -> tuple[list[Patient], int]:
    """One page of patients matching ``query`` and the number of matches.

    ``query`` is a date of birth (``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``DD/MM/YYYY``), a patient id
    or record number (digits), or words each found in the given name, family name or record
    number. Ordered by family name, given name.
    """
    if not 1 <= limit <= 500:
        raise InputError.one("limit", limit, "must be between 1 and 500")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    if len(query) > 200:
        raise InputError.one("q", query[:20] + "…", "at most 200 characters")
    with db.transaction() as uow:
        return uow.patient_finder.page(query, limit, offset)

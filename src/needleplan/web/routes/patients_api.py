"""The patient REST API under ``/api/v1/patients`` (bearer token, the same roles as the pages).

- ``GET /patients`` (search, paged), ``POST /patients``, ``GET /patients/{id}``: the ``contacts``
  permission (every role). The patient's clinical ``notes`` appear only for ``clinical`` tokens,
  and only they may send notes.
- ``GET``/``POST /patients/{id}/assessments`` and ``/patients/{id}/measurements``: ``clinical``
  (practitioner) only.

Every call writes one audit event (``detail="api"``): ``patient.list`` (no patient id),
``patient.create``, ``patient.read``, ``assessment.list``, ``assessment.create``,
``measurement.list``, ``measurement.create``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from needleplan import services
from needleplan.domain import Assessment
from needleplan.domain.records import MeasurementDraft, Patient, PatientDraft
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.bodies import StrictJSONRoute
from needleplan.web.db_stores import audited
from needleplan.web.deps import DbDep
from needleplan.web.errors import ERROR_RESPONSES, ApiError, ErrorBody
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.security import require_token

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no bearer token, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "the token's role lacks the permission"},
    503: {"model": ErrorBody, "description": "the server runs without clinic records"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no patient with this id"}
}

router = APIRouter(
    prefix="/api/v1/patients",
    tags=["patients"],
    responses={**ERROR_RESPONSES, **_AUTH_RESPONSES},
    route_class=StrictJSONRoute,
)

ContactsToken = Annotated[StaffUser, Depends(require_token(Permission.CONTACTS))]
ClinicalToken = Annotated[StaffUser, Depends(require_token(Permission.CLINICAL))]
PatientId = Annotated[int, Path(ge=1, le=MAX_ID, description="the patient's id")]


def patient_json(patient: Patient, user: StaffUser) -> dict[str, Any]:
    """A patient as JSON; clinical notes only for a user with the clinical permission."""
    data = patient.model_dump(mode="json")
    if not user.can(Permission.CLINICAL):
        data.pop("notes", None)
    return data


class PatientPage(BaseModel):
    """One page of patients and how many match in all."""

    total: int
    limit: int
    offset: int
    patients: list[dict[str, Any]]


@router.get("", summary="List or search patients", response_model=PatientPage)
def list_patients(
    user: ContactsToken,
    db: DbDep,
    q: Annotated[
        str,
        Query(
            max_length=200,
            description="name words, a date of birth (YYYY-MM-DD, DD.MM.YYYY), an id or record no.",
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Patients ordered by family name, given name; ``total`` counts every match."""
    with audited(db, user, "patient.list") as note:
        found, total = services.search_patients(db, q, limit=limit, offset=offset)
        note.detail = f"api results={len(found)}"
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "patients": [patient_json(p, user) for p in found],
    }


@router.post(
    "",
    summary="Register a patient",
    status_code=201,
    responses={409: {"model": ErrorBody, "description": "the record number is taken"}},
)
def create_patient(user: ContactsToken, db: DbDep, body: PatientDraft) -> JSONResponse:
    """Register a patient; ``mrn`` is assigned when absent. Only practitioners send ``notes``."""
    if body.notes and not user.can(Permission.CLINICAL):
        raise ApiError.one(
            403, "notes", None, f"the {user.role.value} role may not write clinical notes"
        )
    with audited(db, user, "patient.create", None, "api") as note:
        patient = services.register_patient(db, body)
        note.patient_id = patient.id
    return JSONResponse(
        patient_json(patient, user),
        status_code=201,
        headers={"Location": f"/api/v1/patients/{patient.id}"},
    )


@router.get("/{patient_id}", summary="One patient", responses=_NOT_FOUND)
def get_patient(user: ContactsToken, db: DbDep, patient_id: PatientId) -> dict[str, Any]:
    """Demographics, contact details and consent flags (notes for practitioners)."""
    with audited(db, user, "patient.read", patient_id, "api"):
        patient = services.get_patient(db, patient_id)
    return patient_json(patient, user)


class AssessmentIn(BaseModel):
    """A new assessment for the patient's history (earlier ones are never changed)."""

    model_config = ConfigDict(extra="forbid")

    assessment: Assessment
    assessed_at: AwareDatetime | None = Field(default=None, description="default: now")
    notes: str = Field(default="", max_length=4000)


def _practitioner_of(db: Database, user: StaffUser) -> int | None:
    return user.practitioner_id if services.accounts.stored_account_id(db, user) else None


@router.get("/{patient_id}/assessments", summary="Assessment history", responses=_NOT_FOUND)
def list_assessments(user: ClinicalToken, db: DbDep, patient_id: PatientId) -> list[dict[str, Any]]:
    """Every assessment of the patient, newest first."""
    with audited(db, user, "assessment.list", patient_id, "api"):
        history = services.assessment_history(db, patient_id)
    return [r.model_dump(mode="json") for r in history]


@router.post(
    "/{patient_id}/assessments",
    summary="Record an assessment",
    status_code=201,
    responses=_NOT_FOUND,
)
def add_assessment(
    user: ClinicalToken, db: DbDep, patient_id: PatientId, body: AssessmentIn
) -> dict[str, Any]:
    """Add an assessment (by the token's practitioner, when the account is linked to one)."""
    with audited(db, user, "assessment.create", patient_id) as note:
        record = services.record_assessment(
            db,
            patient_id,
            body.assessment,
            assessed_at=body.assessed_at,
            assessed_by=_practitioner_of(db, user),
            notes=body.notes,
        )
        note.detail = f"api assessment={record.id}"
    return record.model_dump(mode="json")


@router.get("/{patient_id}/measurements", summary="Outcome measurements", responses=_NOT_FOUND)
def list_measurements(
    user: ClinicalToken, db: DbDep, patient_id: PatientId
) -> list[dict[str, Any]]:
    """Every measurement of the patient (GAIS, grades, Cutometer R2, satisfaction)."""
    with audited(db, user, "measurement.list", patient_id, "api"):
        found = services.measurements_for(db, patient_id)
    return [m.model_dump(mode="json") for m in found]


@router.post(
    "/{patient_id}/measurements",
    summary="Record a measurement",
    status_code=201,
    responses=_NOT_FOUND,
)
def add_measurement(
    user: ClinicalToken, db: DbDep, patient_id: PatientId, body: MeasurementDraft
) -> dict[str, Any]:
    """Store one outcome measurement on its scale (the value is checked against the scale)."""
    with audited(db, user, "measurement.create", patient_id) as note:
        measurement = services.record_measurement(db, patient_id, body)
        note.detail = f"api measurement={measurement.id}"
    return measurement.model_dump(mode="json")

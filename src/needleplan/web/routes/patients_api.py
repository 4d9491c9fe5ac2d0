"""The patient REST API under ``/api/v1/patients`` (bearer token, the same roles as the pages).

- ``GET /patients`` (search, paged), ``POST /patients``, ``GET /patients/{id}``: the ``contacts``
  permission (every role). The patient's clinical ``notes`` appear only for ``clinical`` tokens,
  and only they may send notes.
- ``PATCH /patients/{id}``: change demographics, contact details and consents (``contacts``;
  ``notes`` only from ``clinical`` tokens); each consent change is kept in her consent history.
- ``POST /patients`` answers 409 with the matching record's id (error field ``duplicate_of``,
  value the id) when the name
  and date of birth, the phone or the e-mail match an existing record, unless the body says
  ``"confirm_duplicate": true`` (then registered and audited as confirmed).
- ``GET``/``POST /patients/{id}/assessments`` and ``/patients/{id}/measurements``, and
  ``GET /patients/{id}/forecast`` (her forecast learned from her measurements, the population's,
  and what they imply): ``clinical`` (practitioner) only.

Every call writes one audit event (``detail="api"``): ``patient.list`` (no patient id),
``patient.create``, ``patient.read``, ``patient.update``, ``patient.forecast``,
``assessment.list``, ``assessment.create``, ``measurement.list``, ``measurement.create``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from needleplan import services
from needleplan.domain import Assessment
from needleplan.domain.records import (
    AwareDatetime,
    IsoDate,
    MeasurementDraft,
    Patient,
    PatientDraft,
    Sex,
)
from needleplan.exceptions import DuplicatePatientError
from needleplan.services.learned_forecast import learned_forecast
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.bodies import StrictJSONRoute
from needleplan.web.db_stores import audited
from needleplan.web.deps import ClinicDep, DbDep
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
        note.detail = services.audit_patients_detail(
            f"api results={len(found)}", (p.id for p in found)
        )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "patients": [patient_json(p, user) for p in found],
    }


class PatientIn(PatientDraft):
    """A new patient; ``confirm_duplicate`` registers her even when she matches a record."""

    confirm_duplicate: StrictBool = Field(
        default=False,
        description="register even when name and birth date, phone or e-mail match a record",
    )


def duplicate_json(exc: DuplicatePatientError) -> dict[str, Any]:
    """The 409 body of a likely duplicate in the one error shape: one error per matching
    record, field ``duplicate_of``, value its id, the rule naming it and what matched."""
    return {
        "errors": [
            {
                "field": "duplicate_of",
                "value": pid,
                "rule": f"likely the same person as patient {pid} (record {mrn}): same {why}; "
                'send "confirm_duplicate": true to register anyway',
            }
            for pid, mrn, why in exc.matches
        ]
    }


@router.post(
    "",
    summary="Register a patient",
    status_code=201,
    responses={
        409: {
            "model": ErrorBody,
            "description": "the record number is taken, or a likely duplicate (``duplicate_of``: "
            "the matching record's id)",
        }
    },
)
def create_patient(user: ContactsToken, db: DbDep, body: PatientIn) -> JSONResponse:
    """Register a patient; ``mrn`` is assigned when absent. Only practitioners send ``notes``."""
    if body.notes and not user.can(Permission.CLINICAL):
        raise ApiError.one(
            403, "notes", None, f"the {user.role.value} role may not write clinical notes"
        )
    draft = PatientDraft.model_validate(body.model_dump(exclude={"confirm_duplicate"}))
    try:
        with audited(db, user, "patient.create", None, "api") as note:
            patient = services.register_patient(
                db, draft, confirm_duplicate=body.confirm_duplicate, note=note
            )
            note.patient_id = patient.id
    except DuplicatePatientError as exc:
        return JSONResponse(duplicate_json(exc), status_code=409)
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


class PatientChanges(BaseModel):
    """The fields to change (only those given); ``null`` clears an e-mail or phone."""

    model_config = ConfigDict(extra="forbid")

    mrn: str | None = Field(default=None, max_length=40)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    birth_date: IsoDate | None = None
    sex: Sex | None = None
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    consent_treatment: StrictBool | None = None
    consent_contact: StrictBool | None = None
    consent_research: StrictBool | None = None
    notes: str | None = Field(default=None, max_length=4000)


@router.patch(
    "/{patient_id}",
    summary="Change demographics, contact details or consents",
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorBody, "description": "the record number is taken"},
    },
)
def edit_patient(
    user: ContactsToken, db: DbDep, patient_id: PatientId, body: PatientChanges
) -> dict[str, Any]:
    """Change only the fields given (validated with the rest of her record); a consent given or
    withdrawn is kept in her consent history with who and when. Only practitioners send
    ``notes``."""
    changes = body.model_dump(exclude_unset=True)
    if "notes" in changes and not user.can(Permission.CLINICAL):
        raise ApiError.one(
            403, "notes", None, f"the {user.role.value} role may not write clinical notes"
        )
    if not changes:
        raise ApiError.one(422, "body", None, "name at least one field to change")
    with audited(db, user, "patient.update", patient_id, "api") as note:
        patient = services.update_patient(db, patient_id, changes, note=note)
    return patient_json(patient, user)


@router.get(
    "/{patient_id}/consents",
    summary="Consent history",
    responses=_NOT_FOUND,
)
def consent_history(user: ContactsToken, db: DbDep, patient_id: PatientId) -> list[dict[str, Any]]:
    """Every consent she gave or withdrew (which, given or not, who, when), newest first."""
    with audited(db, user, "patient.read", patient_id, "api consents"):
        history = services.consent_history(db, patient_id)
    return [c.model_dump(mode="json") for c in history]


@router.get(
    "/{patient_id}/forecast",
    summary="Her forecast learned from her measurements",
    responses={
        404: {
            "model": ErrorBody,
            "description": "no such patient, or no assessment or session to forecast from",
        }
    },
)
def patient_forecast(
    user: ClinicalToken, db: DbDep, clinic: ClinicDep, patient_id: PatientId
) -> dict[str, Any]:
    """Her personal forecast (the posterior of her response from her measurements) next to the
    population forecast, curves included, the maintenance recall day from each, and what they
    imply (an earlier or later recall, an extra session on a poor response) with the reason."""
    with audited(db, user, "patient.forecast", patient_id, "api"):
        found = learned_forecast(db, patient_id, clinic=clinic)
    return found.to_json(curves=True)

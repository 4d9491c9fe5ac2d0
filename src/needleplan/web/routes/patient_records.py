"""Keeping a patient's record right from the patient page: edit, merge, handout, FHIR.

- ``GET``/``POST /app/patients/{id}/edit``: demographics, contact details and consents
  (``contacts``: every role; clinical notes only from a practitioner). Each consent given or
  withdrawn is kept in her consent history (shown on the patient page). Audit
  ``patient.update`` with the changed fields' names.
- ``POST /app/patients/{id}/merge``: merge a duplicate record into hers (``contacts``); every
  child record moves and the duplicate is deleted; refused when both have an open course.
  Audit ``patient.merge``.
- ``GET /app/patients/{id}/handout.pdf`` and ``/app/patients/{id}/fhir.json``: the patient
  handout (:mod:`needleplan.reports.handout`) and her FHIR R4 bundle
  (:mod:`needleplan.interop.fhir`) as downloads (``clinical``). Audit ``patient.handout`` and
  ``patient.export``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import Patient, Sex
from needleplan.exceptions import (
    ConflictError,
    FieldProblem,
    InputError,
    NotFoundError,
    StateError,
)
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import ClinicalDep, ContactsDep, CsrfField, PatientId
from needleplan.web.security import check_csrf

router = APIRouter(include_in_schema=False)


def _form_of(patient: Patient, language: str | None = None) -> dict[str, Any]:
    data = patient.model_dump(mode="json", exclude={"id", "created_at"})
    return {k: ("" if v is None else v) for k, v in data.items()} | {"language": language or ""}


def _edit_page(
    request: Request,
    user: StaffUser,
    patient: Patient,
    *,
    form: dict[str, Any] | None = None,
    problems: list[FieldProblem] | None = None,
    merge_problems: list[str] | None = None,
    merge_other: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    request.state.user = user
    return render(
        request,
        "app/patient_edit.html",
        status_code=status_code,
        patient=patient,
        form=form if form is not None else _form_of(patient),
        problems=problems or [],
        merge_problems=merge_problems or [],
        merge_other=merge_other,
        sexes=[s.value for s in Sex],
        clinical=user.can(Permission.CLINICAL),
    )


@router.get("/app/patients/{patient_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, user: ContactsDep, db: DbDep, patient_id: PatientId) -> Response:
    with audited(db, user, "patient.read", patient_id, "edit form"):
        patient = services.get_patient(db, patient_id)
        language = services.patient_language(db, patient_id)
    return _edit_page(request, user, patient, form=_form_of(patient, language))


@router.post("/app/patients/{patient_id}/edit", response_class=HTMLResponse)
def edit_patient(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    patient_id: PatientId,
    csrf_token: CsrfField = "",
    given_name: Annotated[str, Form(max_length=200)] = "",
    family_name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=20)] = "",
    sex: Annotated[str, Form(max_length=20)] = "undisclosed",
    mrn: Annotated[str, Form(max_length=80)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    phone: Annotated[str, Form(max_length=80)] = "",
    consent_treatment: Annotated[str, Form(max_length=10)] = "",
    consent_contact: Annotated[str, Form(max_length=10)] = "",
    consent_research: Annotated[str, Form(max_length=10)] = "",
    notes: Annotated[str | None, Form(max_length=8000)] = None,
    language: Annotated[str | None, Form(max_length=16)] = None,
) -> Response:
    """Save the edit form (every field is sent; an empty e-mail or phone clears it; an empty
    language means the clinic's default)."""
    check_csrf(request, csrf_token)
    patient = services.get_patient(db, patient_id)
    form: dict[str, Any] = {
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "sex": sex,
        "mrn": mrn,
        "email": email,
        "phone": phone,
        "consent_treatment": bool(consent_treatment),
        "consent_contact": bool(consent_contact),
        "consent_research": bool(consent_research),
    }
    changes: dict[str, Any] = {k: (v.strip() if isinstance(v, str) else v) for k, v in form.items()}
    changes["email"] = changes["email"] or None
    changes["phone"] = changes["phone"] or None
    if not changes["mrn"]:
        changes.pop("mrn")  # an empty record number keeps hers
    if language is not None:
        form["language"] = language
        changes["language"] = language.strip() or None
    if notes is not None:
        form["notes"] = notes
        if not user.can(Permission.CLINICAL):
            problem = FieldProblem("notes", None, "only a practitioner writes clinical notes")
            return _edit_page(
                request, user, patient, form=form, problems=[problem], status_code=422
            )
        changes["notes"] = notes.strip()
    try:
        with audited(db, user, "patient.update", patient_id) as note:
            services.update_patient(db, patient_id, changes, note=note)
    except InputError as exc:
        return _edit_page(request, user, patient, form=form, problems=exc.problems, status_code=422)
    except ConflictError as exc:
        problem = FieldProblem("mrn", mrn, str(exc))
        return _edit_page(request, user, patient, form=form, problems=[problem], status_code=409)
    return RedirectResponse(f"/app/patients/{patient_id}?saved=1", status_code=303)


@router.post("/app/patients/{patient_id}/merge", response_class=HTMLResponse)
def merge_patient(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    patient_id: PatientId,
    csrf_token: CsrfField = "",
    other: Annotated[str, Form(max_length=40)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Merge the duplicate ``other`` (id or record number) into this patient's record."""
    check_csrf(request, csrf_token)
    patient = services.get_patient(db, patient_id)

    def refused(text: str, status: int) -> HTMLResponse:
        return _edit_page(
            request,
            user,
            patient,
            merge_problems=[text],
            merge_other=other,
            status_code=status,
        )

    if not confirm:
        return refused("confirm: tick that both records are the same person", 422)
    try:
        gone = services.find_patient(db, other.strip())
    except NotFoundError:
        return refused(f"other: no patient with id or record number {other.strip()!r}", 422)
    try:
        with audited(db, user, "patient.merge", patient_id) as note:
            services.merge_patients(db, patient_id, gone.id, note=note)
    except InputError as exc:
        return refused(exc.message, 422)
    except StateError as exc:
        return refused(str(exc), 409)
    return RedirectResponse(f"/app/patients/{patient_id}?merged={gone.id}", status_code=303)


@router.get("/app/patients/{patient_id}/handout.pdf")
def handout_pdf(
    user: ClinicalDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: PatientId,
    lang: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """Her patient handout (plan, dates, forecast chart, aftercare) as a PDF download, in
    ``?lang=`` (a language the clinic offers) or the clinic's default language."""
    from needleplan.reports.handout import handout_for_patient, render_handout

    if lang is not None and lang not in clinic.languages:
        raise InputError.one(
            "lang", lang, "must be a language the clinic offers: " + ", ".join(clinic.languages)
        )
    with audited(db, user, "patient.handout", patient_id, "web"):
        patient = services.get_patient(db, patient_id)
        handout = handout_for_patient(db, patient_id, clinic=clinic, language=lang, photos_for=user)
    data = render_handout(handout)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="handout-{patient.mrn}.pdf"'},
    )


@router.get("/app/patients/{patient_id}/fhir.json")
def fhir_bundle(user: ClinicalDep, db: DbDep, patient_id: PatientId) -> Response:
    """Her FHIR R4 bundle (Patient, CarePlan, Appointment, Procedure, Observation) as JSON."""
    from needleplan.interop.fhir import patient_bundle

    with audited(db, user, "patient.export", patient_id, "fhir web"):
        patient = services.get_patient(db, patient_id)
        bundle = patient_bundle(db, patient_id)
    return Response(
        json.dumps(bundle, indent=2, ensure_ascii=False),
        media_type="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="fhir-{patient.mrn}.json"'},
    )

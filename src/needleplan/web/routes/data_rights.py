"""Patients' data rights on her page (issue 17): the subject access archive (practitioners and
admins) and erasure on request (admins). See :mod:`needleplan.reports.subject_access` and
:mod:`needleplan.services.data_rights`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from needleplan import services
from needleplan.services import data_rights
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep
from needleplan.web.routes.patients import CsrfField, PatientId
from needleplan.web.security import ForbiddenError, check_csrf, require_permission, require_staff

router = APIRouter(include_in_schema=False)

AuditDep = Annotated[StaffUser, Depends(require_permission(Permission.AUDIT))]


def _exporter(request: Request, user: StaffUser = Depends(require_staff)) -> StaffUser:
    """A practitioner or an admin (a refused attempt is audited)."""
    if user.can(Permission.CLINICAL) or user.can(Permission.AUDIT):
        return user
    from needleplan.web.security import _record_refusal

    _record_refusal(request, user)
    raise ForbiddenError(user, Permission.CLINICAL)


ExporterDep = Annotated[StaffUser, Depends(_exporter)]


@router.get("/app/patients/{patient_id}/export-all.zip")
def export_all(user: ExporterDep, db: DbDep, patient_id: PatientId) -> Response:
    """All her data in one ZIP (FHIR record, handout, messages, audit trail, README); audited."""
    from needleplan.reports.subject_access import subject_access_archive

    patient = services.get_patient(db, patient_id)
    data = subject_access_archive(db, patient_id, actor=user)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="data-{patient.mrn}.zip"'},
    )


@router.post("/app/patients/{patient_id}/erase")
def erase(
    request: Request,
    user: AuditDep,
    db: DbDep,
    patient_id: PatientId,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Erase her contact requests, contact consent and message texts (she asked); audited."""
    check_csrf(request, csrf_token)
    services.get_patient(db, patient_id)
    if confirm != "yes":
        return RedirectResponse(f"/app/patients/{patient_id}?erase=unconfirmed", status_code=303)
    report = data_rights.erase_on_request(db, patient_id, actor=user)
    return RedirectResponse(
        f"/app/patients/{patient_id}?erased={report.contact_requests}-{report.messages}",
        status_code=303,
    )

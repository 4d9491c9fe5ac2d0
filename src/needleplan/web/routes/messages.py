"""Patient messages in the staff workspace, and the public one-click unsubscribe.

* ``GET  /app/patients/{id}/messages`` — her message log (queued, sent, failed with the reason,
  skipped with why), newest first; the view is audited (``message.read``).
* ``POST /app/messages/{id}/resend`` — queue a fresh copy (audited ``message.resend``).
* ``POST /app/portal-links/{id}/revoke`` — switch one of her portal links off at once (the log
  page lists her links: purpose, issued, expires, last used; audited ``portal.link.revoke``).
* ``GET  /unsubscribe/{token}`` — a page with one button; ``POST /unsubscribe/{token}`` opts her
  out of recall messages (RFC 8058 one-click: mail clients POST ``List-Unsubscribe=One-Click``
  without a form token; the unguessable token in the address is the authorisation). An unknown
  token gets a plain "not known" page, never an error trace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.exceptions import InputError, NotFoundError
from needleplan.services import portal_links
from needleplan.services.messaging import log as messages
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.i18n import public_context
from needleplan.web.routes.booking import local_text, patient_label, zone_names
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
#: Ids as the database stores them (a larger number is refused with 422, never a 500).
MAX_ID = 2**31 - 1
PatientId = Annotated[int, Path(ge=1, le=MAX_ID)]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/app/patients/{patient_id}/messages", response_class=HTMLResponse)
def message_log_page(
    request: Request,
    patient_id: PatientId,
    user: ContactsDep,
    db: DbDep,
    clinic: ClinicDep,
    done: str | None = None,
) -> HTMLResponse:
    request.state.user = user
    patient = services.get_patient(db, patient_id)
    rows = messages.message_log(db, user, patient_id)
    links = portal_links.patient_links(db, user, patient_id)
    return render(
        request,
        "app/messages.html",
        patient=patient,
        name=patient_label(patient),
        rows=rows,
        labels=messages.KIND_LABELS,
        opted_out=messages.recall_opt_out_since(db, patient_id),
        links=links,
        now=datetime.now(UTC),
        at=lambda value: local_text(value, clinic) if value else "–",
        zone=zone_names(clinic, datetime.now(clinic.tz).date()),
        done=done,
    )


@router.post("/app/messages/{message_id}/resend")
def resend_message(
    request: Request,
    message_id: MessageId,
    user: ContactsDep,
    db: DbDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    copy = messages.resend(db, user, message_id)
    return RedirectResponse(f"/app/patients/{copy.patient_id}/messages?done=resend", 303)


@router.post("/app/portal-links/{link_id}/revoke")
def revoke_portal_link(
    request: Request,
    link_id: MessageId,
    user: ContactsDep,
    db: DbDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    link = portal_links.revoke_link(db, user, link_id)
    return RedirectResponse(f"/app/patients/{link.patient_id}/messages?done=revoked", 303)


def _target_or_page(request: Request, db: DbDep, token: str) -> HTMLResponse | None:
    try:
        messages.unsubscribe_target(db, token)
    except (InputError, NotFoundError):
        return render(
            request,
            "unsubscribe.html",
            **public_context(request),
            state="unknown",
            status_code=404,
        )
    return None


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, token: Annotated[str, Path(max_length=200)], db: DbDep
) -> HTMLResponse:
    unknown = _target_or_page(request, db, token)
    if unknown is not None:
        return unknown
    return render(request, "unsubscribe.html", **public_context(request), state="ask", token=token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_now(
    request: Request, token: Annotated[str, Path(max_length=200)], db: DbDep
) -> HTMLResponse:
    unknown = _target_or_page(request, db, token)
    if unknown is not None:
        return unknown
    messages.unsubscribe(db, token)
    return render(request, "unsubscribe.html", **public_context(request), state="done")

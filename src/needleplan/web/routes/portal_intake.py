"""The intake questionnaire through her own link (issue 14): she fills it in at home.

- ``POST /app/patients/{id}/intake/link`` (staff who see contacts): issue an ``intake`` link
  for her (audited ``portal.link.issue``) and show its address once on her page, to send or
  read out; the link is stored only as a digest and can be switched off on her messages page.
- ``POST /app/patients/{id}/intake/link/send``: the same link by message instead (kind
  ``intake_link``, in her language; the worker issues the link when it sends).
- ``GET /p/{token}/intake``: her form, without staff chrome (the portal's resolver: rate-limited,
  a refused link gets the portal's plain page); ``POST`` stores her answers as a draft for the
  practitioner to review (``intake.submit`` as ``portal``), then thanks her.

Included before the portal's router, whose catch-all answers every other ``/p/...`` address.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.intake import IntakeChannel
from needleplan.domain.portal import LinkPurpose
from needleplan.services.link_messages import send_intake_link
from needleplan.services.portal_links import issue_link
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep
from needleplan.web.intake_form import intake_form_page, intake_form_submit
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.routes.portal import Token, portal_link
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.post("/app/patients/{patient_id}/intake/link")
def issue_intake_link(
    request: Request, user: ContactsDep, db: DbDep, patient_id: Id, csrf_token: CsrfField = ""
) -> Response:
    """A new intake link for her; her page shows its address once (it is not stored)."""
    check_csrf(request, csrf_token)
    token, _ = issue_link(db, acting_account(db, user), patient_id, LinkPurpose.INTAKE)
    return RedirectResponse(
        f"/app/patients/{patient_id}?intake_link={quote(token)}#intake", status_code=303
    )


@router.post("/app/patients/{patient_id}/intake/link/send")
def send_intake_link_message(
    request: Request, user: ContactsDep, db: DbDep, patient_id: Id, csrf_token: CsrfField = ""
) -> Response:
    """E-mail her (or text her) an intake link, in her language."""
    check_csrf(request, csrf_token)
    send_intake_link(db, acting_account(db, user), patient_id)
    return RedirectResponse(f"/app/patients/{patient_id}?link_sent=intake#intake", status_code=303)


@router.get("/p/{token}/intake", response_class=HTMLResponse)
def portal_intake(request: Request, token: Token, db: DbDep) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.INTAKE)
    return intake_form_page(request, db, actor.patient_id, f"/p/{token}/intake")


@router.post("/p/{token}/intake", response_class=HTMLResponse)
async def portal_intake_send(request: Request, token: Token, db: DbDep) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.INTAKE)
    form = await request.form()
    return intake_form_submit(
        request, db, actor.patient_id, f"/p/{token}/intake", form, channel=IntakeChannel.PORTAL
    )

"""Signing a consent form at home through her own link (issue 14; docs/consent.md).

- ``POST /app/patients/{id}/consents/link`` (staff who see contacts; ``kind`` treatment or
  photo): issue a ``consent`` link for that form (audited ``portal.link.issue``) and show its
  address once on her page, to send or read out.
- ``POST /app/patients/{id}/consents/link/send``: the same, by message instead (kind
  ``consent_link``, in her language; the worker issues the link when it sends).
- ``GET /p/{token}/consent``: the newest template of the link's kind and the signing canvas,
  on the portal's bare page (no staff chrome, nothing of other patients), in her language.
- ``POST /p/{token}/consent``: her signature makes the same PDF and SHA-256 as in the clinic,
  recorded with the device "portal link" and audited as ``patient-link``; the link then
  carries that signature and opens nothing more (the portal's plain "already used" page).

An unknown, expired, revoked or used link gets the portal's plain page (404, 410, 410, 410).
Included before the portal's router, whose catch-all answers every other ``/p/...`` address.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.consent_forms import parse_kind
from needleplan.domain.language import SHIPPED_LANGUAGES
from needleplan.domain.portal import LinkActor, LinkPurpose
from needleplan.exceptions import FieldProblem, InputError
from needleplan.services import consent_forms as cf
from needleplan.services.consent_links import (
    PORTAL_DEVICE,
    ConsentLinkPage,
    issue_consent_link,
    open_consent_link,
)
from needleplan.services.link_messages import send_consent_link
from needleplan.services.patients import patient_language
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep, get_db
from needleplan.web.i18n import offered_languages, page_clinic, public_language
from needleplan.web.routes.consents import USE_LABELS, decode_signature
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.routes.portal import Token, portal_link
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
KindField = Annotated[str, Form(max_length=40)]


@router.post("/app/patients/{patient_id}/consents/link")
def issue_link_for_consent(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    patient_id: Id,
    kind: KindField = "treatment",
    csrf_token: CsrfField = "",
) -> Response:
    """A new consent link for her; her page shows its address once (it is not stored)."""
    check_csrf(request, csrf_token)
    parsed = parse_kind(kind)
    token, _ = issue_consent_link(db, acting_account(db, user), patient_id, parsed)
    return RedirectResponse(
        f"/app/patients/{patient_id}?consent_link={quote(token)}&consent_link_kind={parsed.value}"
        "#consent-forms",
        status_code=303,
    )


@router.post("/app/patients/{patient_id}/consents/link/send")
def send_link_for_consent(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    patient_id: Id,
    kind: KindField = "treatment",
    csrf_token: CsrfField = "",
) -> Response:
    """E-mail her (or text her) a consent link for that form, in her language."""
    check_csrf(request, csrf_token)
    send_consent_link(db, acting_account(db, user), patient_id, parse_kind(kind))
    return RedirectResponse(
        f"/app/patients/{patient_id}?link_sent=consent#consent-forms", status_code=303
    )


def _language(request: Request, db: Database, patient_id: int) -> str:
    """``?lang=`` when the clinic offers it, else the language on her record, else her
    browser's or the clinic's (as a public page)."""
    offered, _default = offered_languages(page_clinic(request))
    if request.query_params.get("lang") not in offered:
        own = patient_language(db, patient_id)
        if own in offered and own in SHIPPED_LANGUAGES:
            return own
    return public_language(request)


def _page(
    request: Request,
    db: Database,
    token: str,
    page: ConsentLinkPage,
    *,
    uses: frozenset[str] = frozenset(),
    problems: list[FieldProblem] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "portal/consent.html",
        status_code=422 if problems else 200,
        clinic=page_clinic(request),
        lang=_language(request, db, page.patient.id),
        patient=page.patient,
        template=page.template,
        action_url=f"/p/{token}/consent",
        next_url="",
        uses=uses,
        use_labels=[(u.value, label) for u, label in USE_LABELS.items()],
        problems=problems or [],
        back_url="",
    )


@router.get("/p/{token}/consent", response_class=HTMLResponse)
def portal_consent(request: Request, token: Token, db: DbDep) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.CONSENT)
    return _page(request, db, token, open_consent_link(db, actor))


@router.post("/p/{token}/consent", response_class=HTMLResponse)
async def portal_consent_sign(request: Request, token: Token) -> Response:
    db = get_db(request)
    form = await request.form()
    csrf = form.get(CSRF_FIELD)
    check_csrf(request, csrf if isinstance(csrf, str) else None)
    fields = {
        "signature": str(form.get("signature") or ""),
        "uses": [str(u) for u in form.getlist("uses")][:10],
    }
    actor = portal_link(request, db, token, LinkPurpose.CONSENT)
    return await run_in_threadpool(_sign, request, db, token, actor, fields)


def _sign(
    request: Request, db: Database, token: str, actor: LinkActor, fields: dict[str, Any]
) -> Response:
    page = open_consent_link(db, actor)
    agent = request.headers.get("user-agent", "")[:300]
    device = f"{PORTAL_DEVICE} ({agent})" if agent else PORTAL_DEVICE
    try:
        png = decode_signature(fields["signature"])
        form = cf.sign_consent(
            db, actor, actor.patient_id, page.kind, png, device, fields["uses"] or None
        )
    except InputError as exc:
        return _page(
            request, db, token, page, uses=frozenset(fields["uses"]), problems=exc.problems
        )
    return render(
        request,
        "portal/consent_done.html",
        clinic=page_clinic(request),
        lang=_language(request, db, actor.patient_id),
        form=form,
    )


__all__ = ["router"]

"""Signed consent forms in the staff workspace: the signing screen, the forms on the patient
page, download and withdrawal, and the admins' template editor.

* ``GET /app/patients/{id}/consents/sign?kind=treatment|photo&next=`` — the signing screen: the
  template's text, her name and a canvas she signs on with a finger, pen or mouse (Pointer
  Events, ``static/signature.js``). Every staff role may open it (she often signs at
  reception); the chart page links here when her treatment consent is missing.
* ``POST /app/patients/{id}/consents/sign`` — stores the signed form (PDF and SHA-256, through
  :func:`needleplan.services.consent_forms.sign_consent`); an empty canvas or a bad field
  re-shows the screen naming the field.
* ``GET /app/patients/{id}/consents/{form}.pdf`` — the signed PDF (practitioners and admins).
* ``POST /app/patients/{id}/consents/{form}/withdraw`` — records her withdrawal with a reason.
* ``GET /app/consent-templates`` and ``GET|POST /app/consent-templates/{kind}`` — admins read
  every version and save an edit as the next version; ``.../{kind}/v{n}`` shows an old one.

:func:`signing_view` renders the signing screen for a given patient and form action without
the staff chrome (no navigation, nothing of other patients), for the patient portal's link.
Every sign, view, download, withdrawal and template edit is audited by the services.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.consent_forms import (
    ConsentKind,
    ConsentTemplate,
    PhotoUse,
    SignedConsent,
    parse_kind,
)
from needleplan.domain.language import N_
from needleplan.domain.records import Patient
from needleplan.exceptions import FieldProblem, InputError
from needleplan.services import consent_forms as cf
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep, get_db
from needleplan.web.routes.pages import render, safe_next
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

#: Record ids in paths are bounded by the 32-bit id columns (never a 500 for a huge id).
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
ConfigDep = Annotated[StaffUser, Depends(require_permission(Permission.CONFIG))]

#: The longest signature field a form may post (a data URL of a PNG, base64).
SIGNATURE_FIELD_MAX = 3_000_000
DATA_URL_PREFIX = "data:image/png;base64,"

#: The uses on the signing screen (marked for translation; the page translates them).
USE_LABELS = {
    PhotoUse.RECORD: N_("Kept in my clinical record (always part of a photo consent)"),
    PhotoUse.TEACHING: N_("Teaching clinicians, anonymised"),
    PhotoUse.MARKETING: N_("The clinic's marketing (website, leaflets, social media)"),
}


def decode_signature(value: str) -> bytes:
    """The PNG bytes of the canvas's data URL, or an InputError naming ``signature``."""
    text = (value or "").strip()
    if not text:
        raise InputError.one("signature", "", "is empty: the patient must sign in the box")
    if len(text) > SIGNATURE_FIELD_MAX or not text.startswith(DATA_URL_PREFIX):
        raise InputError.one("signature", text[:30], "must be the drawn signature (a PNG)")
    try:
        return base64.b64decode(text[len(DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InputError.one("signature", text[:30], "must be base64 PNG data") from None


def signing_view(
    request: Request,
    patient: Patient,
    template: ConsentTemplate,
    action_url: str,
    *,
    chrome: bool = True,
    next_url: str = "",
    uses: frozenset[str] = frozenset(),
    problems: list[FieldProblem] | None = None,
    back_url: str = "",
) -> HTMLResponse:
    """The signing screen for ``patient`` and ``template``, posting to ``action_url``.

    ``chrome=False`` renders it on a bare page (no staff navigation, nothing of other
    patients) for the patient portal; the form posts ``kind``, ``uses``, ``signature`` (a PNG
    data URL) and the CSRF token, as :func:`sign_post` reads them.
    """
    return render(
        request,
        "app/consent_sign.html" if chrome else "consent_sign_bare.html",
        status_code=422 if problems else 200,
        patient=patient,
        template=template,
        action_url=action_url,
        next_url=next_url,
        uses=uses,
        use_labels=[(u.value, USE_LABELS[u]) for u in PhotoUse],
        problems=problems or [],
        back_url=back_url,
    )


def _kind_or_problem(kind: str) -> ConsentKind:
    return parse_kind(kind or "treatment")


@router.get("/app/patients/{patient_id}/consents/sign", response_class=HTMLResponse)
def sign_page(
    request: Request,
    patient_id: RecordId,
    user: ContactsDep,
    db: DbDep,
    kind: str = "treatment",
    next: str = "",
) -> HTMLResponse:
    """The signing screen (staff open it; the patient signs on the device)."""
    request.state.user = user
    parsed = _kind_or_problem(kind)
    patient = services.get_patient(db, patient_id)
    template = cf.latest_template(db, parsed)
    return signing_view(
        request,
        patient,
        template,
        f"/app/patients/{patient_id}/consents/sign",
        next_url=safe_next(next) if next else "",
        back_url=f"/app/patients/{patient_id}",
    )


@router.post("/app/patients/{patient_id}/consents/sign", response_class=HTMLResponse)
async def sign_post(request: Request, patient_id: RecordId, user: ContactsDep) -> Response:
    """Store the signed form; the screen comes back naming the problem when it is refused."""
    db = get_db(request)
    form = await request.form()
    token = form.get(CSRF_FIELD)
    check_csrf(request, token if isinstance(token, str) else None)
    request.state.user = user
    fields = {
        "kind": str(form.get("kind") or "treatment"),
        "signature": str(form.get("signature") or ""),
        "next": str(form.get("next") or ""),
        "uses": [str(u) for u in form.getlist("uses")],
    }
    return await run_in_threadpool(_sign, request, db, user, patient_id, fields)


def _sign(
    request: Request, db: Database, user: StaffUser, patient_id: int, fields: dict[str, Any]
) -> Response:
    kind = _kind_or_problem(fields["kind"])
    patient = services.get_patient(db, patient_id)
    device = request.headers.get("user-agent", "")
    try:
        png = decode_signature(fields["signature"])
        cf.sign_consent(db, acting_account(db, user), patient_id, kind, png, device, fields["uses"])
    except InputError as exc:
        return signing_view(
            request,
            patient,
            cf.latest_template(db, kind),
            f"/app/patients/{patient_id}/consents/sign",
            next_url=safe_next(fields["next"]) if fields["next"] else "",
            uses=frozenset(fields["uses"]),
            problems=exc.problems,
            back_url=f"/app/patients/{patient_id}",
        )
    target = safe_next(fields["next"]) if fields["next"] else f"/app/patients/{patient_id}"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}signed={kind.value}#consent-forms", status_code=303)


@router.get("/app/patients/{patient_id}/consents/{form_id}.pdf")
def download(
    request: Request, patient_id: RecordId, form_id: RecordId, user: ContactsDep, db: DbDep
) -> Response:
    """The signed PDF, as stored (its SHA-256 is the one on the patient page)."""
    form, pdf = cf.consent_pdf_of(db, acting_account(db, user), patient_id, form_id)
    name = f"consent-{form.kind.value}-{patient_id}-{form.id}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-SHA256": form.sha256,
        },
    )


@router.post("/app/patients/{patient_id}/consents/{form_id}/withdraw")
def withdraw(
    request: Request,
    patient_id: RecordId,
    form_id: RecordId,
    user: ContactsDep,
    db: DbDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Record her withdrawal of a form in force (kept, marked withdrawn)."""
    check_csrf(request, csrf_token)
    cf.withdraw_consent(db, acting_account(db, user), patient_id, form_id, reason)
    return RedirectResponse(
        f"/app/patients/{patient_id}?withdrawn={form_id}#consent-forms", status_code=303
    )


def consent_section(db: Database, user: StaffUser, patient_id: int) -> dict[str, Any]:
    """What the patient page shows of her signed forms (read audited as ``consent.read``)."""
    forms: list[SignedConsent] = cf.consent_forms_of(db, acting_account(db, user), patient_id)
    current = {f.kind.value: f for f in forms if f.standing.value == "current"}
    return {
        "consent_forms": forms,
        "consent_current": current,
        "consent_kinds": [k.value for k in ConsentKind],
        "can_download_consent": user.role in cf.DOWNLOAD_ROLES,
    }


# --------------------------------------------------------------------------- templates


@router.get("/app/consent-templates", response_class=HTMLResponse)
def templates_page(request: Request, user: ConfigDep, db: DbDep) -> HTMLResponse:
    """Every kind's template versions, newest first (admins)."""
    request.state.user = user
    return render(
        request,
        "app/consent_templates.html",
        kinds=[(k.value, cf.template_versions(db, k)) for k in ConsentKind],
    )


def _editor(
    request: Request,
    db: Database,
    kind: ConsentKind,
    *,
    shown: ConsentTemplate | None = None,
    form: dict[str, str] | None = None,
    problems: list[FieldProblem] | None = None,
    saved: int = 0,
) -> HTMLResponse:
    versions = cf.template_versions(db, kind)
    latest = versions[0]
    return render(
        request,
        "app/consent_template.html",
        status_code=422 if problems else 200,
        kind=kind.value,
        versions=versions,
        shown=shown,
        form=form or {"title": latest.title, "body": latest.body},
        problems=problems or [],
        saved=saved,
    )


@router.get("/app/consent-templates/{kind}", response_class=HTMLResponse)
def template_editor(
    request: Request, kind: str, user: ConfigDep, db: DbDep, saved: int = 0
) -> HTMLResponse:
    """The newest text of ``kind`` in an editor; saving makes the next version."""
    request.state.user = user
    return _editor(request, db, parse_kind(kind), saved=saved)


@router.get("/app/consent-templates/{kind}/v{version}", response_class=HTMLResponse)
def template_version_page(
    request: Request, kind: str, version: int, user: ConfigDep, db: DbDep
) -> HTMLResponse:
    """One earlier (or the newest) version, read-only."""
    request.state.user = user
    parsed = parse_kind(kind)
    return _editor(request, db, parsed, shown=cf.template_version(db, parsed, version))


@router.post("/app/consent-templates/{kind}", response_class=HTMLResponse)
def template_save(
    request: Request,
    kind: str,
    user: ConfigDep,
    db: DbDep,
    title: Annotated[str, Form(max_length=1000)] = "",
    body: Annotated[str, Form(max_length=100_000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Save the edited text as the next version (admins); refused input comes back named."""
    check_csrf(request, csrf_token)
    request.state.user = user
    parsed = parse_kind(kind)
    try:
        saved = cf.save_template(db, acting_account(db, user), parsed, title, body)
    except InputError as exc:
        return _editor(
            request, db, parsed, form={"title": title, "body": body}, problems=exc.problems
        )
    return RedirectResponse(
        f"/app/consent-templates/{parsed.value}?saved={saved.version}", status_code=303
    )


__all__ = [
    "consent_section",
    "decode_signature",
    "router",
    "signing_view",
]

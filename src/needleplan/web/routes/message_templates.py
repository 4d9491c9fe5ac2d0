"""Admin pages for the clinic's own message templates (docs/messages.md).

* ``GET  /app/admin/message-templates`` — every editable kind in each of the clinic's
  languages: the clinic's own wording or the shipped one;
* ``GET  /app/admin/message-templates/{kind}/{lang}`` — the editor (the version in force, or
  empty), the placeholders the kind has, the shipped template's preview and the versions;
* ``POST .../{kind}/{lang}`` with ``action=preview`` — render the form for a sample patient,
  nothing stored; with ``action=save`` — validate and store the next version (a template that
  does not render comes back naming the field and the placeholder, 422);
* ``POST .../{kind}/{lang}/revert`` — the shipped template again (a new version).

Admins only (clinic settings permission); reads and changes are audited by the services.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.integrations import MessageTemplate
from needleplan.domain.messages import MessageKind
from needleplan.exceptions import FieldProblem, InputError
from needleplan.services.messaging import clinic_templates as ct
from needleplan.services.messaging.log import KIND_LABELS
from needleplan.services.messaging.render import template_name
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ConfigDep = Annotated[StaffUser, Depends(require_permission(Permission.CONFIG))]
Kind = Annotated[str, Path(max_length=40)]
Lang = Annotated[str, Path(max_length=16)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


def _kind_and_language(kind: str, lang: str, clinic: ClinicDep) -> tuple[MessageKind, str]:
    parsed = ct.editable_kind(kind)
    if lang not in clinic.languages:
        raise InputError.one("language", lang, "must be one of " + ", ".join(clinic.languages))
    return parsed, lang


@router.get("/app/admin/message-templates", response_class=HTMLResponse)
def templates_list(request: Request, user: ConfigDep, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    request.state.user = user
    own = ct.customised(db)
    rows = [
        (kind.value, KIND_LABELS[kind], lang, (template_name(kind), lang) in own)
        for kind in ct.EDITABLE_KINDS
        for lang in clinic.languages
    ]
    return render(request, "app/message_templates.html", rows=rows)


def _editor(
    request: Request,
    db: Database,
    user: StaffUser,
    clinic: ClinicDep,
    kind: MessageKind,
    lang: str,
    *,
    form: dict[str, str] | None = None,
    preview: ct.Texts | None = None,
    problems: list[FieldProblem] | None = None,
    done: str = "",
) -> HTMLResponse:
    history: list[MessageTemplate] = ct.versions(db, acting_account(db, user), kind, lang)
    current = history[0] if history and not history[0].is_default else None
    if form is None:
        form = {
            "subject": current.subject if current else "",
            "text": current.text if current else "",
            "html": current.html if current else "",
            "sms": current.sms if current else "",
        }
    return render(
        request,
        "app/message_template.html",
        status_code=422 if problems else 200,
        kind=kind.value,
        label=KIND_LABELS[kind],
        lang=lang,
        form=form,
        current=current,
        history=history,
        placeholders=sorted(ct.sample_context(kind, clinic, lang)),
        shipped=ct.shipped_preview(kind, clinic, lang),
        preview=preview,
        problems=problems or [],
        done=done,
    )


@router.get("/app/admin/message-templates/{kind}/{lang}", response_class=HTMLResponse)
def template_editor(
    request: Request,
    kind: Kind,
    lang: Lang,
    user: ConfigDep,
    db: DbDep,
    clinic: ClinicDep,
    done: str = "",
) -> HTMLResponse:
    request.state.user = user
    parsed, language = _kind_and_language(kind, lang, clinic)
    shown = done if done in ("saved", "reverted") else ""
    return _editor(request, db, user, clinic, parsed, language, done=shown)


@router.post("/app/admin/message-templates/{kind}/{lang}", response_class=HTMLResponse)
def template_save(
    request: Request,
    kind: Kind,
    lang: Lang,
    user: ConfigDep,
    db: DbDep,
    clinic: ClinicDep,
    subject: Annotated[str, Form(max_length=1000)] = "",
    text: Annotated[str, Form(max_length=40_000)] = "",
    html: Annotated[str, Form(max_length=100_000)] = "",
    sms: Annotated[str, Form(max_length=2000)] = "",
    action: Annotated[str, Form(max_length=20)] = "preview",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    parsed, language = _kind_and_language(kind, lang, clinic)
    form = {"subject": subject, "text": text, "html": html, "sms": sms}
    try:
        if action == "save":
            ct.save_template(db, acting_account(db, user), parsed, language, form, clinic)
            return RedirectResponse(
                f"/app/admin/message-templates/{parsed.value}/{language}?done=saved", 303
            )
        preview = ct.check_template(parsed, form, clinic, language)
    except InputError as exc:
        return _editor(
            request, db, user, clinic, parsed, language, form=form, problems=exc.problems
        )
    return _editor(request, db, user, clinic, parsed, language, form=form, preview=preview)


@router.post("/app/admin/message-templates/{kind}/{lang}/revert")
def template_revert(
    request: Request,
    kind: Kind,
    lang: Lang,
    user: ConfigDep,
    db: DbDep,
    clinic: ClinicDep,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    parsed, language = _kind_and_language(kind, lang, clinic)
    ct.revert_template(db, acting_account(db, user), parsed, language, clinic)
    return RedirectResponse(
        f"/app/admin/message-templates/{parsed.value}/{language}?done=reverted", 303
    )

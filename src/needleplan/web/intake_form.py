"""The patient's intake form as a view without staff chrome, shared by the clinic's kiosk mode
and the patient portal.

:func:`intake_form_page` renders the questionnaire in force for one patient, posting to a given
form action URL; :func:`intake_form_submit` reads a posted form (CSRF checked), stores the
answers through :func:`needleplan.services.intake.submit_intake` and renders the thank-you page,
or the form again with every refused answer named (422). Neither shows any staff navigation or
anything of the patient but her first name. The kiosk routes (:mod:`.routes.intake`) call them
with ``/app/kiosk``; the portal wires ``/p/<token>/intake`` to them once her signed link names
the patient::

    @router.get("/p/{token}/intake")
    def portal_intake(request: Request, token: str, db: DbDep) -> HTMLResponse:
        return intake_form_page(request, db, patient_from(token), f"/p/{token}/intake")

    @router.post("/p/{token}/intake")
    async def portal_intake_send(request: Request, token: str, db: DbDep) -> HTMLResponse:
        form = await request.form()
        return intake_form_submit(request, db, patient_from(token), f"/p/{token}/intake", form)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse

from needleplan.domain.accounts import User
from needleplan.domain.intake import IntakeChannel
from needleplan.exceptions import FieldProblem, InputError
from needleplan.guideline.intake import Questionnaire, load_questionnaire
from needleplan.services import intake as intake_service
from needleplan.services.patients import get_patient
from needleplan.storage.database import Database
from needleplan.web.i18n import public_context
from needleplan.web.security import CSRF_FIELD, check_csrf, template_context

#: The most form fields an intake post may carry (the questions, a few extras).
MAX_FIELDS = 300


class FormData(Protocol):
    """What :meth:`starlette.requests.Request.form` returns (a multi-dict)."""

    def __iter__(self) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...


def _render(request: Request, template: str, status_code: int, **context: Any) -> HTMLResponse:
    # her language: her portal page's (set when her link was resolved), else the public rule
    lang: dict[str, Any] = getattr(request.state, "portal_lang", None) or public_context(request)
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, template_context(request, **lang, **context), status_code=status_code
    )
    return response


def form_answers(questionnaire: Questionnaire, form: FormData) -> dict[str, Any]:
    """The answers of a posted form as submitted: one string per question, a list for a
    tick-all question; the CSRF field and empty fields are left out, unknown fields kept (the
    service refuses them by name)."""
    answers: dict[str, Any] = {}
    keys = [k for k in form if k != CSRF_FIELD]
    if len(keys) > MAX_FIELDS:
        raise InputError.one("form", len(keys), f"must have at most {MAX_FIELDS} fields")
    for key in keys:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        question = questionnaire.question(key)
        if question is not None and question.type == "choice" and question.multiple:
            answers[key] = [v for v in values if v.strip()]
        elif values:
            answers[key] = values[0] if len(values) == 1 else values
    return answers


def intake_form_page(
    request: Request,
    db: Database,
    patient_id: int,
    action: str,
    *,
    values: Mapping[str, Any] | None = None,
    problems: list[FieldProblem] | None = None,
    status_code: int = 200,
    unlock: str | None = None,
) -> HTMLResponse:
    """The intake form for ``patient_id`` posting to ``action`` (no staff chrome)."""
    patient = get_patient(db, patient_id)
    found = problems or []
    return _render(
        request,
        "intake/form.html",
        422 if found else status_code,
        questionnaire=load_questionnaire(),
        given_name=patient.given_name,
        action=action,
        values=dict(values or {}),
        problems=found,
        problem_fields={p.field: p.rule for p in found},
        unlock=unlock,
    )


def intake_thanks_page(request: Request, *, unlock: str | None = None) -> HTMLResponse:
    """The thank-you screen after a sent form."""
    return _render(request, "intake/thanks.html", 200, unlock=unlock)


def intake_form_submit(
    request: Request,
    db: Database,
    patient_id: int,
    action: str,
    form: FormData,
    *,
    channel: IntakeChannel = IntakeChannel.PORTAL,
    actor: User | None = None,
    kiosk: str | None = None,
    unlock: str | None = None,
) -> HTMLResponse:
    """Check the CSRF field, store the answers and thank her; a refused answer shows the form
    again with each problem next to its question (nothing is stored)."""
    token = form.getlist(CSRF_FIELD)
    check_csrf(request, token[0] if token and isinstance(token[0], str) else None)
    questionnaire = load_questionnaire()
    raw: dict[str, Any] = {}
    try:
        raw = form_answers(questionnaire, form)
        intake_service.submit_intake(
            db,
            patient_id,
            raw,
            channel=channel,
            actor=actor,
            kiosk=kiosk,
            questionnaire=questionnaire,
        )
    except InputError as exc:
        return intake_form_page(
            request, db, patient_id, action, values=raw, problems=exc.problems, unlock=unlock
        )
    return intake_thanks_page(request, unlock=unlock)


__all__ = ["form_answers", "intake_form_page", "intake_form_submit", "intake_thanks_page"]

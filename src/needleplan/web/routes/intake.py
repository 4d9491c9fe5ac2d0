"""Intake pages: kiosk mode on a clinic tablet, and the practitioner's review of a draft.

- ``POST /app/patients/{id}/intake/kiosk`` (every role): lock this browser session to her intake
  form (:mod:`needleplan.web.kiosk`) and show it; audited ``intake.kiosk.start``.
- ``GET /app/kiosk``: her form, or the thank-you screen once it is sent; ``POST /app/kiosk``
  stores the answers (``intake.submit``, as the account that started the kiosk).
- ``GET/POST /app/kiosk/unlock``: a member of staff ends kiosk mode with their user name and
  password (rate-limited like sign-in); another account than the session's signs in afresh.
  Audited ``intake.kiosk.unlock``.
- ``GET /app/intake/{id}`` (practitioner): her answers, the flags and the proposed assessment as
  an editable form; ``POST /app/intake/{id}/confirm`` stores the reviewed assessment and shows
  the plan made from it. Audited ``intake.read`` and ``intake.confirm``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.accounts import normalise_username
from needleplan.domain.assessment import (
    Aftercare,
    Area,
    Concern,
    Condition,
    Contraindication,
    Diet,
    Genetic,
    Goal,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
)
from needleplan.domain.intake import IntakeChannel, IntakeResponse, IntakeStatus
from needleplan.exceptions import FieldProblem, InputError, StateError
from needleplan.guideline import make_protocol
from needleplan.services import intake as intake_service
from needleplan.services.assessments import assessment_history
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser, UserStore
from needleplan.web.deps import DbDep
from needleplan.web.intake_form import (
    intake_form_page,
    intake_form_submit,
    intake_thanks_page,
)
from needleplan.web.kiosk import current_kiosk, session_key
from needleplan.web.ratelimit import Limiter, client_key
from needleplan.web.routes.pages import render
from needleplan.web.security import (
    CSRF_FIELD,
    SessionManager,
    check_csrf,
    require_permission,
    session_user,
    template_context,
)

router = APIRouter(include_in_schema=False)

MAX_ID = 2**31 - 1
ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
KIOSK = "/app/kiosk"
UNLOCK = "/app/kiosk/unlock"


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A kiosk page: no staff chrome (``user`` is never set on the request)."""
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, template_context(request, **context), status_code=status_code
    )
    return response


def kiosk_locked_page(request: Request) -> HTMLResponse:
    """What a session in kiosk mode gets for any other staff page."""
    return _page(request, "intake/locked.html", 403, unlock=UNLOCK)


# --------------------------------------------------------------------------- kiosk mode


@router.post("/app/patients/{patient_id}/intake/kiosk")
def start_kiosk(
    request: Request, user: ContactsDep, db: DbDep, patient_id: Id, csrf_token: CsrfField = ""
) -> Response:
    """Hand this tablet to the patient: only her intake form until staff unlock it."""
    check_csrf(request, csrf_token)
    key = session_key(request)
    if key is None:  # pragma: no cover - require_permission saw a live session
        return RedirectResponse("/login", status_code=303)
    intake_service.start_kiosk(db, user, key, patient_id)
    return RedirectResponse(KIOSK, status_code=303)


def _kiosk_or_home(request: Request) -> tuple[Any, StaffUser] | None:
    lock = current_kiosk(request)
    user = session_user(request)
    if lock is None or user is None:
        return None
    return lock, user


@router.get(KIOSK, response_class=HTMLResponse)
def kiosk_form(request: Request, db: DbDep) -> Response:
    """The locked patient's form, or the thank-you screen once it is sent."""
    found = _kiosk_or_home(request)
    if found is None:
        return RedirectResponse("/app/", status_code=303)
    lock, _ = found
    if lock.response_id is not None:
        return intake_thanks_page(request, unlock=UNLOCK)
    return intake_form_page(request, db, lock.patient_id, KIOSK, unlock=UNLOCK)


@router.post(KIOSK, response_class=HTMLResponse)
async def kiosk_submit(request: Request, db: DbDep) -> Response:
    """Store the answers sent from the tablet, as the account that started the kiosk."""
    found = _kiosk_or_home(request)
    if found is None:
        return RedirectResponse("/app/", status_code=303)
    lock, user = found
    if lock.response_id is not None:
        return intake_thanks_page(request, unlock=UNLOCK)
    form = await request.form()
    return intake_form_submit(
        request,
        db,
        lock.patient_id,
        KIOSK,
        form,
        channel=IntakeChannel.KIOSK,
        actor=user,
        kiosk=session_key(request),
        unlock=UNLOCK,
    )


@router.get(UNLOCK, response_class=HTMLResponse)
def kiosk_unlock_page(request: Request) -> Response:
    if current_kiosk(request) is None:
        return RedirectResponse("/app/", status_code=303)
    return _page(request, "intake/unlock.html", error=None, username="")


@router.post(UNLOCK, response_class=HTMLResponse)
def kiosk_unlock(
    request: Request,
    db: DbDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """End kiosk mode with a staff password. The session's own account carries on; another
    account signs in with a new session (the kiosk's is ended)."""
    check_csrf(request, csrf_token)
    lock = current_kiosk(request)
    owner = session_user(request)
    key = session_key(request)
    if lock is None or owner is None or key is None:
        return RedirectResponse("/app/", status_code=303)
    limiter: Limiter = request.app.state.login_limiter
    wait = max(
        limiter.take("login-client:" + client_key(request)),
        limiter.take("login-user:" + normalise_username(username)),
    )
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return _page(
            request,
            "intake/unlock.html",
            429,
            username=username,
            error=f"Too many attempts. Try again in about {minutes} minute(s).",
        )
    users: UserStore = request.app.state.user_store
    staff = users.authenticate(username, password) if username and password else None
    if staff is None:
        return _page(
            request,
            "intake/unlock.html",
            401,
            username=username,
            error="Wrong user name or password.",
        )
    intake_service.unlock_kiosk(db, staff, key)
    target = f"/app/patients/{lock.patient_id}"
    if lock.response_id is not None and staff.can(Permission.CLINICAL):
        target = f"/app/intake/{lock.response_id}"
    response = RedirectResponse(target, status_code=303)
    if staff.id != owner.id:
        sessions: SessionManager = request.app.state.sessions
        sessions.sign_in(request, response, staff)
    return response


# --------------------------------------------------------------------------- review


SELECTS: dict[str, list[str]] = {
    "severity": [s.value for s in Severity],
    "goal": [g.value for g in Goal],
    "repair_capacity": [r.value for r in RepairCapacity],
    "smoking": [s.value for s in Smoking],
    "sun_exposure": [s.value for s in SunExposure],
    "diet": [d.value for d in Diet],
    "aftercare": [a.value for a in Aftercare],
}
CHECKS: dict[str, list[str]] = {
    "areas": [a.value for a in Area],
    "concerns": [c.value for c in Concern],
    "conditions": [c.value for c in Condition],
    "genetics": [g.value for g in Genetic],
    "contraindications": [c.value for c in Contraindication],
}
FLAGS = ("spf_habit", "sun_damage_history")
NUMBERS = {"glogau_class": range(1, 5), "fitzpatrick_type": range(1, 7)}


def _proposed(response: IntakeResponse) -> dict[str, Any]:
    """The review form's starting values: the draft's, with the assessment's defaults."""
    values: dict[str, Any] = {
        "goal": Goal.NOTICEABLE.value,
        "repair_capacity": RepairCapacity.NORMAL.value,
        "smoking": Smoking.NEVER.value,
        "sun_exposure": SunExposure.MODERATE.value,
        "diet": Diet.AVERAGE.value,
        "aftercare": Aftercare.GOOD.value,
        "spf_habit": True,
        "sun_damage_history": False,
    }
    values.update(response.values)
    return values


def _review(
    request: Request,
    user: StaffUser,
    db: Database,
    response: IntakeResponse,
    patient: Any,
    *,
    values: dict[str, Any] | None = None,
    problems: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    request.state.user = user
    plan = None
    assessment = None
    if response.status is IntakeStatus.CONFIRMED and response.assessment_id is not None:
        history = assessment_history(db, response.patient_id)
        assessment = next((r for r in history if r.id == response.assessment_id), None)
        if assessment is not None:
            plan = make_protocol(assessment.assessment)
    return render(
        request,
        "app/intake_review.html",
        status_code=status_code,
        response=response,
        patient=patient,
        values=values if values is not None else _proposed(response),
        problems=problems or [],
        selects=SELECTS,
        checks=CHECKS,
        flag_fields=FLAGS,
        numbers=NUMBERS,
        assessment=assessment,
        plan=plan,
    )


@router.get("/app/intake/{response_id}", response_class=HTMLResponse)
def intake_review(request: Request, user: ClinicalDep, db: DbDep, response_id: Id) -> Response:
    """Her answers, the flags and the proposed assessment, to edit and confirm."""
    response, patient = intake_service.intake_for_review(db, user, response_id)
    return _review(request, user, db, response, patient)


def reviewed_assessment(form: Any) -> dict[str, Any]:
    """The assessment a review form describes (empty optional fields left out)."""
    data: dict[str, Any] = {}
    for name in SELECTS:
        value = str(form.get(name) or "").strip()
        if value:
            data[name] = value
    for name in CHECKS:
        data[name] = [str(v) for v in form.getlist(name) if str(v).strip()]
    for name in FLAGS:
        value = str(form.get(name) or "").strip()
        if value not in ("yes", "no"):
            raise InputError.one(name, value[:20], "must be yes or no")
        data[name] = value == "yes"
    for name in NUMBERS:
        value = str(form.get(name) or "").strip()
        if value:
            data[name] = int(value) if value.isdigit() and len(value) < 3 else value[:20]
    return data


@router.post("/app/intake/{response_id}/confirm", response_class=HTMLResponse)
async def intake_confirm(
    request: Request, user: ClinicalDep, db: DbDep, response_id: Id
) -> Response:
    """Store the reviewed assessment (her age from the birth date) and show its plan."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    check_csrf(request, token if isinstance(token, str) else None)
    notes = str(form.get("notes") or "")
    values: dict[str, Any] = {}
    try:
        values = reviewed_assessment(form)
        intake_service.confirm_intake(db, user, response_id, values, notes=notes)
    except (InputError, StateError) as exc:
        response, patient = intake_service.intake_for_review(db, user, response_id)
        problems = (
            exc.problems
            if isinstance(exc, InputError)
            else [FieldProblem("intake", None, str(exc))]
        )
        shown = {**_proposed(response), **values} if values else None
        return _review(
            request,
            user,
            db,
            response,
            patient,
            values=shown,
            problems=problems,
            status_code=422 if isinstance(exc, InputError) else 409,
        )
    return RedirectResponse(f"/app/intake/{response_id}?confirmed=1", status_code=303)


__all__ = ["kiosk_locked_page", "reviewed_assessment", "router"]

"""The patient portal: her pages behind a password-less link (docs/messages.md).

Every page lives under ``/p/{token}/...`` and starts with :func:`portal_link`, the one function
that takes a token from the client's rate-limit bucket and resolves the link for the page's
purpose (:func:`needleplan.services.portal_links.resolve_link`). A tampered, unknown, expired,
revoked or wrong-purpose link, or too many requests, answers with a plain page
(``portal/refused.html``) and its status code (404, 410, 410, 403, 429), never a trace. Pages
of a new purpose (the pre-visit questionnaire ``intake``, a consent form ``consent``) add a route
``/p/{token}/intake`` that calls ``portal_link(request, db, token, LinkPurpose.INTAKE)`` and
renders a template extending ``portal/base.html``.

* ``GET  /p/{token}`` — her plan and dates, with buttons per visit (``portal``);
* ``GET  /p/{token}/forecast`` — her forecast chart (the learned-forecast figure);
* ``GET  /p/{token}/handout.pdf`` — her handout;
* ``POST /p/{token}/visits/{id}/confirm`` — she confirms a visit;
* ``GET|POST /p/{token}/visits/{id}/cancel`` — ask, then cancel (inside the notice period: the
  page asks her to call and shows the clinic's phone, 409);
* ``GET  /p/{token}/visits/{id}/move`` — free times inside the visit's window;
  ``POST .../move`` — the whole course re-planned for the picked time (nothing saved);
  ``POST .../move/save`` — saves exactly that proposal;
* ``POST /p/{token}/callback`` — she asks to be called back (the desk's Today page lists it);
* ``GET|POST /p/{token}/book`` — a recall message's link (``book``): free maintenance times,
  book one.

Forms carry the site's CSRF token like every other form.

Her pages speak her language (docs/languages.md): ``?lang=`` when the clinic offers it (then kept
in the page's links, forms and redirects), else the language on her record, else her browser's,
else the clinic's default; dates follow the language (Babel).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.language import N_
from needleplan.domain.portal import LinkActor, LinkPurpose
from needleplan.exceptions import (
    ConflictError,
    InputError,
    NeedleplanError,
    NotFoundError,
    SchedulingError,
    StateError,
)
from needleplan.scheduling import ClinicConfig
from needleplan.services import portal
from needleplan.services.moves import MovePreview, MoveProposalChangedError
from needleplan.services.portal_links import LinkRefusedError, portal_audited, resolve_link
from needleplan.storage import Database
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.i18n import public_context
from needleplan.web.portal_words import (
    PortalTimes,
    keep_language,
    portal_language,
    problem_words,
    say,
    threshold_words,
)
from needleplan.web.ratelimit import client_key
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)

MAX_ID = 2**31 - 1
Token = Annotated[str, Path(max_length=200)]
VisitId = Annotated[int, Path(ge=1, le=MAX_ID)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]

#: The status code of each refusal (the page's words are in ``portal/refused.html``).
REFUSED_STATUS = {
    "unknown": 404,
    "expired": 410,
    "revoked": 410,
    "wrong-purpose": 403,
    "used": 410,  # a one-time link (a consent form) that already did its job
}


class PortalRateLimitedError(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__("too many requests")
        self.retry_after = max(1, math.ceil(wait_s))


def portal_link(request: Request, db: Database, token: str, purpose: LinkPurpose) -> LinkActor:
    """The patient behind ``token`` for a page of ``purpose`` (the one resolver of every portal
    page): takes a token from this client's bucket first, so guessing links is slow."""
    limiter = request.app.state.portal_limiter
    wait = limiter.take("portal:" + client_key(request))
    if wait > 0:
        raise PortalRateLimitedError(wait)
    actor = resolve_link(db, token, purpose)
    portal_language(request, db, actor.patient_id)
    return actor


def install_portal_handlers(app: FastAPI) -> None:
    """The friendly pages for a refused link and for too many requests."""

    @app.exception_handler(LinkRefusedError)
    async def _refused(request: Request, exc: LinkRefusedError) -> Response:
        return render(
            request,
            "portal/refused.html",
            status_code=REFUSED_STATUS.get(exc.reason, 404),
            reason=exc.reason,
            clinic=_clinic_or_none(request),
            **public_context(request),
        )

    @app.exception_handler(PortalRateLimitedError)
    async def _slow(request: Request, exc: PortalRateLimitedError) -> Response:
        response = render(
            request,
            "portal/refused.html",
            status_code=429,
            reason="slow",
            retry_after=exc.retry_after,
            clinic=_clinic_or_none(request),
            **public_context(request),
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response


def _clinic_or_none(request: Request) -> ClinicConfig | None:
    from needleplan.web.deps import get_clinic

    try:
        return get_clinic(request)
    except NeedleplanError:  # pragma: no cover - the calendar in force always loads
        return None


def _page(
    request: Request,
    template: str,
    clinic: ClinicConfig,
    token: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang: dict[str, Any] = getattr(request.state, "portal_lang", None) or public_context(request)
    return render(
        request,
        template,
        status_code=status_code,
        clinic=clinic,
        base=f"/p/{token}",
        at=PortalTimes(clinic, lang["lang"]),
        **lang,
        **context,
    )


def _home(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    *,
    status_code: int = 200,
    done: str = "",
    error: str = "",
) -> HTMLResponse:
    from needleplan.services.portal_course import course_start_offered

    view = portal.overview(db, actor, clinic)
    return _page(
        request,
        "portal/home.html",
        clinic,
        token,
        status_code=status_code,
        view=view,
        course_offer=course_start_offered(db, actor, clinic),
        done=done,
        error=error,
    )


DONE_WORDS = {
    "confirmed": N_("Thank you: your visit is confirmed."),
    "cancelled": N_("Your visit is cancelled. We have sent you a confirmation."),
    "moved": N_("Your new dates are saved. We have sent you the new dates."),
    "callback": N_("Thank you: the clinic will call you back."),
    "course": N_("Your course is booked. We have sent you the dates."),
}


@router.get("/p/{token}", response_class=HTMLResponse)
def home(
    request: Request, token: Token, db: DbDep, clinic: ClinicDep, done: str = ""
) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    words = DONE_WORDS.get(done)
    return _home(request, db, clinic, token, actor, done=say(request, words) if words else "")


@router.get("/p/{token}/forecast", response_class=HTMLResponse)
def forecast(request: Request, token: Token, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    """Her forecast: the learned-forecast figure of the patient page, in plain words."""
    from needleplan.services.learned_forecast import learned_forecast
    from needleplan.web.learned_chart import learned_chart

    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    found, problem = None, ""
    with portal_audited(db, actor, "patient.forecast", "portal"):
        try:
            found = learned_forecast(db, actor.patient_id, clinic=clinic)
        except NeedleplanError:
            problem = say(
                request,
                N_("There is no forecast for you yet: it is drawn after your first session."),
            )
    chart = learned_chart(found) if found is not None else None
    note = threshold_words(request, found)  # the clinic's own threshold, in her words
    page = "portal/forecast.html"
    return _page(request, page, clinic, token, found=found, chart=chart, problem=problem, note=note)


@router.get("/p/{token}/handout.pdf")
def handout(request: Request, token: Token, db: DbDep, clinic: ClinicDep) -> Response:
    """Her handout (plan, dates, forecast chart, aftercare) as a PDF."""
    from needleplan.reports.handout import handout_for_patient, render_handout

    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    try:
        with portal_audited(db, actor, "patient.handout", "portal"):
            made = handout_for_patient(
                db, actor.patient_id, clinic=clinic, photos_for=actor.audit_name
            )
    except NeedleplanError:
        return _home(
            request,
            db,
            clinic,
            token,
            actor,
            status_code=409,
            error=say(
                request, N_("Your handout is not ready yet: the clinic prepares it with your plan.")
            ),
        )
    return Response(
        render_handout(made),
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="my-treatment-plan.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/p/{token}/visits/{appointment_id}/confirm")
def confirm(
    request: Request,
    token: Token,
    appointment_id: VisitId,
    db: DbDep,
    clinic: ClinicDep,
    csrf_token: Csrf = "",
) -> Response:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    check_csrf(request, csrf_token)
    try:
        portal.confirm_visit(db, actor, appointment_id)
    except (StateError, NotFoundError) as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        return _home(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return RedirectResponse(f"/p/{token}?done=confirmed{keep_language(request)}", status_code=303)


def _visit_or_error(
    request: Request, db: Database, clinic: ClinicConfig, token: str, actor: LinkActor, vid: int
) -> HTMLResponse | None:
    """None when the visit is hers; else her plan with the problem (404)."""
    try:
        portal.her_visit(db, actor, vid)
    except NotFoundError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=404, error=problem_words(request, exc)
        )
    return None


def _cancel_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    appointment_id: int,
) -> HTMLResponse:
    """Ask before cancelling; inside the notice period, ask her to call instead (409)."""
    missing = _visit_or_error(request, db, clinic, token, actor, appointment_id)
    if missing is not None:
        return missing
    view = portal.overview(db, actor, clinic)
    visit = next((v for v in view.upcoming if v.appointment.id == appointment_id), None)
    if visit is None:
        return _home(
            request,
            db,
            clinic,
            token,
            actor,
            status_code=409,
            error=say(request, N_("This visit is not booked.")),
        )
    late = visit.inside_notice
    return _page(
        request,
        "portal/cancel.html",
        clinic,
        token,
        status_code=409 if late else 200,
        visit=visit,
        late=late,
        hours=clinic.cancellation_notice_hours,
    )


@router.get("/p/{token}/visits/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel_form(
    request: Request, token: Token, appointment_id: VisitId, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    return _cancel_page(request, db, clinic, token, actor, appointment_id)


@router.post("/p/{token}/visits/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    token: Token,
    appointment_id: VisitId,
    db: DbDep,
    clinic: ClinicDep,
    csrf_token: Csrf = "",
) -> Response:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    check_csrf(request, csrf_token)
    try:
        portal.cancel_visit(db, actor, clinic, appointment_id)
    except portal.CallTheClinicError:
        return _cancel_page(request, db, clinic, token, actor, appointment_id)
    except (StateError, NotFoundError) as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        return _home(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return RedirectResponse(f"/p/{token}?done=cancelled{keep_language(request)}", status_code=303)


def _move_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    appointment_id: int,
    *,
    status_code: int = 200,
    picked: str = "",
    preview: MovePreview | None = None,
    error: str = "",
) -> HTMLResponse:
    try:
        appt, window, offered = portal.reschedule_options(db, actor, clinic, appointment_id)
    except portal.CallTheClinicError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=409, error=problem_words(request, exc)
        )
    except (StateError, NotFoundError, SchedulingError) as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        return _home(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return _page(
        request,
        "portal/move.html",
        clinic,
        token,
        status_code=status_code,
        appt=appt,
        window=window,
        offered=offered,
        picked=picked,
        preview=preview,
        error=error,
    )


@router.get("/p/{token}/visits/{appointment_id}/move", response_class=HTMLResponse)
def move_form(
    request: Request, token: Token, appointment_id: VisitId, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    return _move_page(request, db, clinic, token, actor, appointment_id)


@router.post("/p/{token}/visits/{appointment_id}/move", response_class=HTMLResponse)
def move_preview(
    request: Request,
    token: Token,
    appointment_id: VisitId,
    db: DbDep,
    clinic: ClinicDep,
    slot: Annotated[str, Form(max_length=80)] = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    """Her course re-planned around the picked time, shown before she saves (nothing saved)."""
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    check_csrf(request, csrf_token)
    try:
        preview = portal.reschedule_preview(db, actor, clinic, appointment_id, slot)
    except NotFoundError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=404, error=problem_words(request, exc)
        )
    except portal.CallTheClinicError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=409, error=problem_words(request, exc)
        )
    except (InputError, StateError, SchedulingError, ConflictError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _move_page(
            request,
            db,
            clinic,
            token,
            actor,
            appointment_id,
            status_code=code,
            error=problem_words(request, exc),
        )
    return _move_page(
        request, db, clinic, token, actor, appointment_id, picked=slot, preview=preview
    )


@router.post("/p/{token}/visits/{appointment_id}/move/save", response_class=HTMLResponse)
def move_save(
    request: Request,
    token: Token,
    appointment_id: VisitId,
    db: DbDep,
    clinic: ClinicDep,
    slot: Annotated[str, Form(max_length=80)] = "",
    move: Annotated[list[str] | None, Form(max_length=200)] = None,
    csrf_token: Csrf = "",
) -> Response:
    """Save the re-planned course she saw (all or nothing; a changed calendar shows the new
    proposal instead, 409)."""
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    check_csrf(request, csrf_token)
    try:
        portal.reschedule_save(db, actor, clinic, appointment_id, slot, move or [])
    except MoveProposalChangedError as exc:
        return _move_page(
            request,
            db,
            clinic,
            token,
            actor,
            appointment_id,
            status_code=409,
            picked=slot,
            preview=exc.preview,
            error=say(
                request,
                N_(
                    "The calendar changed while you were looking: here is your plan with the "
                    "new time again. Please check it and save again."
                ),
            ),
        )
    except NotFoundError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=404, error=problem_words(request, exc)
        )
    except portal.CallTheClinicError as exc:
        return _home(
            request, db, clinic, token, actor, status_code=409, error=problem_words(request, exc)
        )
    except (InputError, StateError, SchedulingError, ConflictError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _move_page(
            request,
            db,
            clinic,
            token,
            actor,
            appointment_id,
            status_code=code,
            error=problem_words(request, exc),
        )
    return RedirectResponse(f"/p/{token}?done=moved{keep_language(request)}", status_code=303)


@router.post("/p/{token}/callback", response_class=HTMLResponse)
def callback(
    request: Request,
    token: Token,
    db: DbDep,
    clinic: ClinicDep,
    note: Annotated[str, Form(max_length=600)] = "",
    csrf_token: Csrf = "",
) -> Response:
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    check_csrf(request, csrf_token)
    try:
        portal.request_callback(db, actor, note)
    except (InputError, StateError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _home(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return RedirectResponse(f"/p/{token}?done=callback{keep_language(request)}", status_code=303)


def _book_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    *,
    status_code: int = 200,
    error: str = "",
    booked: Any = None,
) -> HTMLResponse:
    from needleplan.services.portal_links import link_of

    link = link_of(db, actor)
    with portal_audited(db, actor, "portal.read", "maintenance times"):
        entry, offered = portal.maintenance_options(db, actor, clinic, link.recall_id)
    return _page(
        request,
        "portal/book.html",
        clinic,
        token,
        status_code=status_code,
        entry=entry,
        offered=offered,
        error=error,
        booked=booked,
    )


@router.get("/p/{token}/book", response_class=HTMLResponse)
def book_form(request: Request, token: Token, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.BOOK)
    return _book_page(request, db, clinic, token, actor)


@router.post("/p/{token}/book", response_class=HTMLResponse)
def book(
    request: Request,
    token: Token,
    db: DbDep,
    clinic: ClinicDep,
    slot: Annotated[str, Form(max_length=80)] = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    from needleplan.services.portal_links import link_of

    actor = portal_link(request, db, token, LinkPurpose.BOOK)
    check_csrf(request, csrf_token)
    try:
        appt = portal.book_maintenance(db, actor, clinic, link_of(db, actor).recall_id, slot)
    except (InputError, StateError, ConflictError, SchedulingError, NotFoundError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _book_page(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return _book_page(request, db, clinic, token, actor, booked=appt)


@router.api_route("/p/{rest:path}", methods=["GET", "POST"], response_class=HTMLResponse)
def unknown_portal_page(request: Request, rest: str, db: DbDep) -> HTMLResponse:
    """Any other address under ``/p/``: the same plain page as an unknown link (rate-limited)."""
    portal_link(request, db, "", LinkPurpose.PORTAL)  # takes a token, then refuses
    raise LinkRefusedError("unknown")  # pragma: no cover - portal_link refused already


__all__ = ["install_portal_handlers", "portal_link", "router"]

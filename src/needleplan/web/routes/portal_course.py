"""She books her course start through her portal link (docs/online-booking.md, "Course start").

* ``GET  /p/{token}/course`` — free first-session times in the next ``days_ahead`` days;
* ``POST /p/{token}/course`` — the whole course dated from the picked time (nothing saved);
* ``POST /p/{token}/course/save`` — books exactly those dates, then her plan page.

Only while the clinic's ``[online_booking] course_start`` is on: else every address answers the
portal's plain refusal (as an unknown page, 404). A patient without a confirmed plan, or with a
course already booked, gets her plan page with the reason (409). The use-cases are
:mod:`needleplan.services.portal_course`; the pages follow ``/p/{token}/visits/{id}/move``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.language import N_
from needleplan.domain.portal import LinkActor, LinkPurpose
from needleplan.exceptions import ConflictError, InputError, SchedulingError, StateError
from needleplan.scheduling import ClinicConfig
from needleplan.services import portal_course as service
from needleplan.services.portal_links import LinkRefusedError
from needleplan.storage import Database
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.portal_words import keep_language, say
from needleplan.web.routes.portal import Csrf, Token, _home, _page, portal_link
from needleplan.web.security import check_csrf

router = APIRouter(include_in_schema=False)

Slot = Annotated[str, Form(max_length=80)]
Shown = Annotated[str, Form(max_length=4000)]

REFUSED_WORDS = {
    "booked": N_("Your course is already booked: your dates are below."),
    "no-plan": N_(
        "Your course can be booked online once the clinic has agreed your plan with you at "
        "a consultation."
    ),
    "consent": N_("Please give the clinic your consent to treatment before booking your course."),
}


def _open(request: Request, db: Database, clinic: ClinicConfig, token: str) -> LinkActor:
    """Her link, refused like an unknown page while the clinic does not offer course starts."""
    actor = portal_link(request, db, token, LinkPurpose.PORTAL)
    if not clinic.online_booking.course_start:
        raise LinkRefusedError("unknown")
    return actor


def _refused(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    exc: service.CourseStartRefusedError,
) -> HTMLResponse:
    words = REFUSED_WORDS.get(exc.reason, REFUSED_WORDS["no-plan"])
    return _home(request, db, clinic, token, actor, status_code=409, error=say(request, words))


def problem_words(request: Request, exc: Exception) -> str:
    if isinstance(exc, InputError):
        return say(request, N_("Please pick one of the times shown."))
    return say(
        request,
        N_(
            "Your course cannot start at that time: the time was just taken, or the sessions "
            "after it do not fit. Please pick another time."
        ),
    )


def _course_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    token: str,
    actor: LinkActor,
    *,
    status_code: int = 200,
    picked: str = "",
    preview: service.CourseStartPreview | None = None,
    error: str = "",
) -> HTMLResponse:
    try:
        plan, offered = service.course_start_options(db, actor, clinic)
    except service.CourseStartRefusedError as exc:
        return _refused(request, db, clinic, token, actor, exc)
    context: dict[str, Any] = {
        "plan": plan,
        "offered": offered,
        "picked": picked,
        "preview": preview,
        "error": error,
        "days_ahead": clinic.online_booking.days_ahead,
    }
    return _page(request, "portal/course.html", clinic, token, status_code=status_code, **context)


@router.get("/p/{token}/course", response_class=HTMLResponse)
def course_form(request: Request, token: Token, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    actor = _open(request, db, clinic, token)
    return _course_page(request, db, clinic, token, actor)


@router.post("/p/{token}/course", response_class=HTMLResponse)
def course_preview(
    request: Request,
    token: Token,
    db: DbDep,
    clinic: ClinicDep,
    slot: Slot = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    """Her whole course dated from the picked time, shown before she books (nothing saved)."""
    actor = _open(request, db, clinic, token)
    check_csrf(request, csrf_token)
    try:
        preview = service.course_start_preview(db, actor, clinic, slot)
    except service.CourseStartRefusedError as exc:
        return _refused(request, db, clinic, token, actor, exc)
    except (InputError, SchedulingError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _course_page(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return _course_page(request, db, clinic, token, actor, picked=slot, preview=preview)


@router.post("/p/{token}/course/save", response_class=HTMLResponse)
def course_save(
    request: Request,
    token: Token,
    db: DbDep,
    clinic: ClinicDep,
    slot: Slot = "",
    shown: Shown = "",
    csrf_token: Csrf = "",
) -> Response:
    """Book the dates she saw (all or nothing; a changed calendar shows the new dates, 409)."""
    actor = _open(request, db, clinic, token)
    check_csrf(request, csrf_token)
    try:
        service.course_start_save(db, actor, clinic, slot, shown)
    except service.CourseStartChangedError as exc:
        return _course_page(
            request,
            db,
            clinic,
            token,
            actor,
            status_code=409,
            picked=slot,
            preview=exc.preview,
            error=say(
                request,
                N_(
                    "The calendar changed while you were looking: here are your dates again. "
                    "Please check them and book again."
                ),
            ),
        )
    except service.CourseStartRefusedError as exc:
        return _refused(request, db, clinic, token, actor, exc)
    except (InputError, SchedulingError, ConflictError, StateError) as exc:
        code = 422 if isinstance(exc, InputError) else 409
        return _course_page(
            request, db, clinic, token, actor, status_code=code, error=problem_words(request, exc)
        )
    return RedirectResponse(f"/p/{token}?done=course{keep_language(request)}", status_code=303)


__all__ = ["router"]

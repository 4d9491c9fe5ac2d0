"""The public booking page with double opt-in (docs/online-booking.md).

* ``GET  /book`` — the clinic's free consultation times and her details form, in her language;
* ``POST /book`` — hold the time and send the confirmation e-mail (422 naming each bad field,
  409 when the time was taken meanwhile; nothing stored in either case; rate-limited like the
  contact form);
* ``GET  /book/confirm/{token}`` — the held consultation and a button to confirm (reads only,
  so a mail scanner that follows the link books nothing);
* ``POST /book/confirm/{token}`` — book it: patient, appointment, confirmation message.

A tampered or unknown link (404), a hold that ran out (410) or a booking confirmed already
(409) gets a plain page saying so, never a trace. Links take a token from the portal's
rate-limit bucket, so guessing them is slow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from needleplan import i18n
from needleplan.domain.online_booking import OnlineBooking
from needleplan.exceptions import ConflictError, FieldProblem, InputError, StateError
from needleplan.scheduling import ClinicConfig
from needleplan.services import online_booking as online
from needleplan.services.clinic_calendar_slots import FreeSlot
from needleplan.services.practitioners import list_practitioners
from needleplan.storage import Database
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.errors import ApiError
from needleplan.web.i18n import clinic_identity, public_context
from needleplan.web.ratelimit import Limiter, client_key
from needleplan.web.routes.pages import render
from needleplan.web.routes.portal import PortalRateLimitedError
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=200)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]

#: The status code of each refusal of a confirmation link.
REFUSED_STATUS = {"unknown": 404, "expired": 410, "confirmed": 409}
_TICKED = ("on", "yes", "true", "1")


def _days(
    slots: Sequence[FreeSlot], clinic: ClinicConfig, lang: str
) -> list[tuple[str, list[dict[str, str]]]]:
    """The offered times grouped by day, as the page lists them."""
    out: list[tuple[str, list[dict[str, str]]]] = []
    for s in slots:
        local = s.start.astimezone(clinic.tz)
        day = i18n.format_date(local.date(), lang, "weekday_day")
        entry = {
            "key": s.key,
            "time": i18n.format_datetime(local, lang, "time"),
            "practitioner": s.practitioner,
        }
        if out and out[-1][0] == day:
            out[-1][1].append(entry)
        else:
            out.append((day, [entry]))
    return out


def _form_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    *,
    status_code: int = 200,
    problems: Sequence[FieldProblem] = (),
    form: dict[str, Any] | None = None,
    taken: bool = False,
) -> HTMLResponse:
    lang = {**public_context(request), "lang_switch_path": "/book"}
    closed = not clinic.online_booking.enabled
    slots = [] if closed else online.offered_slots(db, clinic)
    return render(
        request,
        "book.html",
        status_code=status_code,
        **lang,
        clinic=clinic_identity(clinic),
        closed=closed,
        days=_days(slots, clinic, lang["lang"]),
        hold_minutes=clinic.online_booking.hold_minutes,
        problems=list(problems),
        fields={p.field for p in problems},
        form=form or {},
        taken=taken,
    )


@router.get("/book", response_class=HTMLResponse)
def book_page(request: Request, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    """Her choice of consultation times and the details form (or, when the clinic does not
    book online, its phone number)."""
    return _form_page(request, db, clinic)


@router.post("/book", response_class=HTMLResponse)
def book_request(
    request: Request,
    db: DbDep,
    clinic: ClinicDep,
    slot: Annotated[str, Form(max_length=100)] = "",
    given_name: Annotated[str, Form(max_length=200)] = "",
    family_name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    phone: Annotated[str, Form(max_length=100)] = "",
    consent_care: Annotated[str, Form(max_length=10)] = "",
    consent_marketing: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    """Hold the time for her and queue the e-mail with her confirmation link."""
    check_csrf(request, csrf_token)
    limiter: Limiter = request.app.state.api_limiter
    if limiter.take("book:" + client_key(request)) > 0:
        raise ApiError.one(429, "client", None, "too many booking requests; try again later")
    form = {
        "slot": slot,
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "email": email,
        "phone": phone,
        "consent_marketing": consent_marketing in _TICKED,
    }
    lang = public_context(request)["lang"]
    try:
        held = online.request_booking(
            db,
            clinic,
            slot=slot,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            email=email,
            phone=phone,
            consent_care=consent_care in _TICKED,
            consent_marketing=consent_marketing in _TICKED,
            language=lang,
        )
    except InputError as exc:
        return _form_page(request, db, clinic, status_code=422, problems=exc.problems, form=form)
    except ConflictError:
        form["slot"] = ""
        return _form_page(request, db, clinic, status_code=409, form=form, taken=True)
    except StateError:  # the clinic closed online booking meanwhile
        return _form_page(request, db, clinic, status_code=409, form=form)
    return render(
        request,
        "book_result.html",
        **public_context(request),
        lang_switch_path="/book",
        clinic=clinic_identity(clinic),
        stage="held",
        email=held.booking.email,
        when=i18n.format_datetime(held.booking.start.astimezone(clinic.tz), lang),
        practitioner=held.practitioner,
        until=i18n.format_datetime(held.booking.hold_until.astimezone(clinic.tz), lang, "time"),
    )


def _slow_down(request: Request) -> None:
    wait = request.app.state.portal_limiter.take("portal:" + client_key(request))
    if wait > 0:
        raise PortalRateLimitedError(wait)


def _result(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    booking: OnlineBooking | None,
    stage: str,
    *,
    status_code: int = 200,
    token: str = "",
) -> HTMLResponse:
    context = public_context(request)
    lang = booking.language if booking and booking.language in clinic.languages else None
    if lang is not None:
        context = {**context, "lang": lang, "lang_query": ""}
    names = {p.id: p.name for p in list_practitioners(db)} if booking else {}
    return render(
        request,
        "book_result.html",
        status_code=status_code,
        **context,
        lang_switch_path="/book",
        clinic=clinic_identity(clinic),
        stage=stage,
        token=token,
        name=booking.given_name if booking else "",
        when=_when(booking.start, clinic, context["lang"]) if booking else "",
        practitioner=names.get(booking.practitioner_id, "") if booking else "",
    )


def _when(value: datetime, clinic: ClinicConfig, lang: str) -> str:
    return i18n.format_datetime(value.astimezone(clinic.tz), lang)


@router.get("/book/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, db: DbDep, clinic: ClinicDep, token: Token) -> HTMLResponse:
    """What she is about to book, and the button that books it (changes nothing)."""
    _slow_down(request)
    try:
        booking = online.open_confirmation(db, token)
    except online.OnlineBookingRefusedError as exc:
        return _result(
            request, db, clinic, exc.booking, exc.reason, status_code=REFUSED_STATUS[exc.reason]
        )
    return _result(request, db, clinic, booking, "confirm", token=token)


@router.post("/book/confirm/{token}", response_class=HTMLResponse)
def confirm(
    request: Request, db: DbDep, clinic: ClinicDep, token: Token, csrf_token: Csrf = ""
) -> HTMLResponse:
    """Book the held consultation (patient, appointment, confirmation message)."""
    check_csrf(request, csrf_token)
    _slow_down(request)
    try:
        booking = online.confirm_booking(db, clinic, token)
    except online.OnlineBookingRefusedError as exc:
        return _result(
            request, db, clinic, exc.booking, exc.reason, status_code=REFUSED_STATUS[exc.reason]
        )
    return _result(request, db, clinic, booking, "booked")

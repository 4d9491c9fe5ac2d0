"""Moving a booked appointment (the re-planned course shown before saving), and the calendar's
no-show and cancel buttons.

* ``GET  /app/appointments/{id}/move`` — the form: new day, time, practitioner.
* ``POST /app/appointments/{id}/move`` — the preview: the course is re-planned with
  :func:`needleplan.scheduling.replan` from its current appointments (nothing is saved), and the
  page lists every session that changes and, for a gap beyond the protocol's window, what it
  costs in the forecast and whether one extra session is advised.
* ``POST /app/appointments/{id}/move/confirm`` — saves every move of the preview at once with
  :func:`needleplan.services.reschedule` (all or nothing; a clash saves nothing).
* ``POST /app/appointments/{id}/missed`` and ``.../cancel`` (with ``reason``): the same rules as
  :mod:`needleplan.web.routes.visits` (no no-show before the start; a reason is required). The
  calendar's buttons (check in, chart, no-show, cancel…) are the visit pages'.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.records import Appointment
from needleplan.exceptions import (
    ConflictError,
    InputError,
    SchedulingError,
    StateError,
)
from needleplan.scheduling import ClinicConfig
from needleplan.services.clinic_calendar_slots import FreeSlot, find_free_slots
from needleplan.services.moves import (
    MovePreview,
    MoveProposalChangedError,
    confirm_move,
    preview_move,
)
from needleplan.storage.database import Database
from needleplan.web.auth import StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import (
    CalendarDep,
    local,
    patient_label,
    practitioner_names,
    zone_names,
)
from needleplan.web.routes.calendar_common import (
    Lookup,
    calendar_url,
    freed_query,
    gaps_for,
    get_appointment,
    session_text,
)
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import status_change
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)


def _move_form(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    appt: Appointment,
    *,
    status_code: int = 200,
    error: str | None = None,
    preview: MovePreview | None = None,
    day: str = "",
    at: str = "",
    practitioner_id: int | None = None,
) -> HTMLResponse:
    names = practitioner_names(db)
    lookup = Lookup(db)
    start = local(appt.start, clinic)
    user: StaffUser = request.state.user
    audit(db, user, "appointment.read", appt.patient_id, f"appointment {appt.id} move page")
    return render(
        request,
        "app/calendar_move.html",
        status_code=status_code,
        appt=appt,
        start=start,
        end=local(appt.end, clinic),
        patient=patient_label(lookup.patient(appt.patient_id)),
        session_text=session_text(appt, lookup),
        practitioner_name=names.get(appt.practitioner_id, ""),
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        day=day or start.date().isoformat(),
        at=at or f"{start:%H:%M}",
        practitioner_id=practitioner_id or appt.practitioner_id,
        error=error,
        preview=preview,
        gaps=gaps_for(user, preview.gaps) if preview else [],
        timezone=clinic.timezone,
        zone=zone_names(
            clinic, start.date(), *(r.new_start.date() for r in (preview.rows if preview else []))
        ),
        back=calendar_url("week", start.date(), None),
        free=_free_slots(db, clinic, appt, day),
    )


def _free_slots(
    db: Database, clinic: ClinicConfig, appt: Appointment, day: str
) -> list[tuple[FreeSlot, datetime]]:
    """Free times of the same length from the chosen day (or today) on, for the form to offer."""
    try:
        first = date.fromisoformat(day) if day else None
    except ValueError:
        first = None
    kind = "session" if appt.kind.value == "treatment" else appt.kind.value
    minutes = max(5, min(480, round((appt.end - appt.start).total_seconds() / 60)))
    slots = find_free_slots(db, clinic, kind, not_before=first, minutes=minutes, limit=8)
    return [(s, local(s.start, clinic)) for s in slots]


@router.get("/app/appointments/{appointment_id}/move", response_class=HTMLResponse)
def move_form(
    request: Request, appointment_id: int, user: CalendarDep, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    request.state.user = user
    return _move_form(request, db, clinic, get_appointment(db, appointment_id))


def _new_start(day: str, at: str, clinic: ClinicConfig) -> datetime:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise InputError.one("day", day, "must be a date YYYY-MM-DD") from None
    try:
        t = time.fromisoformat(at)
    except ValueError:
        raise InputError.one("time", at, "must be a time HH:MM") from None
    return datetime.combine(d, t.replace(second=0, microsecond=0), tzinfo=clinic.tz)


@router.post("/app/appointments/{appointment_id}/move", response_class=HTMLResponse)
def move_preview(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    day: Annotated[str, Form(max_length=20)] = "",
    at: Annotated[str, Form(alias="time", max_length=10)] = "",
    practitioner_id: Annotated[int, Form()] = 0,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Show the re-planned course for the proposed move; nothing is saved."""
    check_csrf(request, csrf_token)
    request.state.user = user
    appt = get_appointment(db, appointment_id)
    who = practitioner_id or appt.practitioner_id
    status_code, error, preview = 200, None, None
    try:
        preview = preview_move(db, clinic, appt.id, _new_start(day, at, clinic), who)
    except InputError as exc:
        status_code, error = 422, "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)
    except (SchedulingError, StateError) as exc:
        status_code, error = 409, str(exc)
    return _move_form(
        request,
        db,
        clinic,
        appt,
        status_code=status_code,
        error=error,
        preview=preview,
        day=day,
        at=at,
        practitioner_id=who,
    )


@router.post("/app/appointments/{appointment_id}/move/confirm", response_class=HTMLResponse)
def move_confirm(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    day: Annotated[str, Form(max_length=20)] = "",
    at: Annotated[str, Form(alias="time", max_length=10)] = "",
    practitioner_id: Annotated[int, Form()] = 0,
    move: Annotated[list[str] | None, Form(max_length=200)] = None,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Save the move shown in the preview (all or nothing).

    The server computes the proposal again from the new day, time and practitioner and saves
    only that; the moves the form sends back are compared with it, never saved as sent. When the
    calendar changed meanwhile, nothing is saved and the new proposal is shown (409).
    """
    check_csrf(request, csrf_token)
    request.state.user = user
    appt = get_appointment(db, appointment_id)
    who = practitioner_id or appt.practitioner_id
    try:
        new_start = _new_start(day, at, clinic)
        with audited(db, user, "appointment.move", appt.patient_id) as note:
            moved = confirm_move(db, clinic, appointment_id, new_start, who, move or [])
            note.detail = f"moved {[m.id for m in moved]}"
    except MoveProposalChangedError as exc:
        return _move_form(
            request,
            db,
            clinic,
            appt,
            status_code=409,
            error=str(exc),
            preview=exc.preview,
            day=day,
            at=at,
            practitioner_id=who,
        )
    except (ConflictError, SchedulingError, StateError, InputError) as exc:
        text = str(exc)
        if isinstance(exc, ConflictError | SchedulingError):
            # The storage message names UTC instants: say it on the clinic's terms instead.
            text = (
                "Nothing was moved: one of the new times was booked by someone else meanwhile "
                "or is no longer open. Show the re-planned course again to get free times."
            )
        status_code = 422 if isinstance(exc, InputError) else 409
        return _move_form(
            request,
            db,
            clinic,
            appt,
            status_code=status_code,
            error=text,
            day=day,
            at=at,
            practitioner_id=who,
        )
    first = next(m for m in moved if m.id == appointment_id)
    target = calendar_url(
        "week", local(first.start, clinic).date(), first.practitioner_id, moved=len(moved)
    )
    if (first.start, first.practitioner_id) != (appt.start, appt.practitioner_id):
        target += "&" + freed_query(appt, clinic)
    return RedirectResponse(target, status_code=303)


# --------------------------------------------------------------------------- status changes


@router.post("/app/appointments/{appointment_id}/missed")
def mark_missed(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    next: Annotated[str, Form(max_length=500)] = "/app/calendar",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The patient did not come: the time stays taken and the session stays owed."""
    check_csrf(request, csrf_token)
    return status_change(request, db, clinic, user, appointment_id, "no-show", next)


@router.post("/app/appointments/{appointment_id}/cancel")
def cancel(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=500)] = "/app/calendar",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Cancel a booked appointment (with its reason) and free the practitioner's time."""
    check_csrf(request, csrf_token)
    return status_change(request, db, clinic, user, appointment_id, "cancel", next, reason)

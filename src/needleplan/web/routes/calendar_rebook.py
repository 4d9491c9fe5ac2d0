"""Rebooking a missed course session from the calendar.

* ``GET  /app/appointments/{id}/rebook`` — a missed course session: the proposed new date and
  the re-planned later sessions (:func:`needleplan.services.rebook_missed` with ``preview``);
  ``POST`` the same with a "not before" day and a practitioner; nothing is saved.
* ``POST /app/appointments/{id}/rebook/confirm`` — saves exactly the proposal shown (a new
  booked appointment; the missed one stays as a record), all or nothing; audited as
  ``appointment.rebook``. When the calendar changed meanwhile, the new proposal is shown instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import Appointment
from needleplan.exceptions import (
    ConflictError,
    InputError,
    SchedulingError,
    StateError,
)
from needleplan.scheduling import ClinicConfig
from needleplan.services.clinic_calendar_slots import FreeSlot, find_free_slots
from needleplan.storage.database import Database
from needleplan.web.auth import StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import (
    CalendarDep,
    chosen_practitioner,
    local,
    patient_label,
    practitioner_names,
    zone_names,
)
from needleplan.web.routes.calendar_common import (
    Lookup,
    calendar_url,
    gaps_for,
    get_appointment,
    session_text,
)
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)


@dataclass
class RebookRow:
    """One session of the re-planned course from the missed one on, as the page shows it."""

    number: int
    appointment_id: int
    was: datetime
    start: datetime
    end: datetime
    practitioner: str
    change: str  # "rebooked", "moves" or "unchanged"


def rebook_rows(plan: services.RebookPlan, clinic: ClinicConfig) -> list[RebookRow]:
    moved = {aid for aid, _, _ in plan.moves}
    rows = []
    for session in plan.replan.schedule.sessions:
        if session.number < plan.session_number:
            continue
        appt = plan.ordered[session.number - 1]
        if session.number == plan.session_number:
            change = "rebooked"
        else:
            change = "moves" if appt.id in moved else "unchanged"
        rows.append(
            RebookRow(
                session.number,
                appt.id,
                local(appt.start, clinic),
                local(session.start, clinic),
                local(session.end, clinic),
                session.practitioner,
                change,
            )
        )
    return rows


def _parse_not_before(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError.one("not_before", value, "must be a date YYYY-MM-DD") from None


def _rebook_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    appt: Appointment,
    *,
    not_before: str = "",
    practitioner_id: str = "any",
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    preview: bool = True,
) -> HTMLResponse:
    """The rebook page: the missed session, the form and (when it can be made) the proposal."""
    user: StaffUser = request.state.user
    plan: services.RebookPlan | None = None
    if preview and error is None:
        try:
            plan = services.rebook_missed(
                db,
                appt.id,
                clinic,
                not_before=_parse_not_before(not_before),
                practitioner=chosen_practitioner(db, clinic, practitioner_id),
                preview=True,
            )
        except InputError as exc:
            status_code, error = 422, "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)
        except (SchedulingError, StateError) as exc:
            status_code, error = 409, "This session cannot be rebooked: " + str(exc)
    names = practitioner_names(db)
    lookup = Lookup(db)
    start = local(appt.start, clinic)
    audit(db, user, "appointment.read", appt.patient_id, f"appointment {appt.id} rebook page")
    days = [start.date()] + ([plan.replan.schedule.sessions[-1].start.date()] if plan else [])
    return render(
        request,
        "app/calendar_rebook.html",
        status_code=status_code,
        appt=appt,
        start=start,
        end=local(appt.end, clinic),
        patient=patient_label(lookup.patient(appt.patient_id)),
        patient_id=appt.patient_id,
        session_text=session_text(appt, lookup),
        practitioner_name=names.get(appt.practitioner_id, ""),
        practitioners=[
            (pid, name)
            for pid, name in sorted(names.items(), key=lambda kv: kv[1])
            if name in {p.name for p in clinic.practitioners}
        ],
        not_before=not_before,
        practitioner_id=practitioner_id,
        today=datetime.now(clinic.tz).date().isoformat(),
        error=error,
        notice=notice,
        plan=plan,
        gaps=gaps_for(user, plan.replan.gaps) if plan is not None else [],
        rows=rebook_rows(plan, clinic) if plan is not None else [],
        zone=zone_names(clinic, *days),
        back=calendar_url("week", start.date(), None),
        free=_free_days(db, clinic, appt, not_before),
    )


def _free_days(
    db: Database, clinic: ClinicConfig, appt: Appointment, not_before: str
) -> list[tuple[FreeSlot, datetime]]:
    """The next free session times (one a day per practitioner) the form offers as a start."""
    try:
        first = _parse_not_before(not_before)
    except InputError:
        first = None
    minutes = max(5, min(480, round((appt.end - appt.start).total_seconds() / 60)))
    slots = find_free_slots(
        db, clinic, "session", not_before=first, minutes=minutes, per_day=1, limit=6
    )
    return [(s, local(s.start, clinic)) for s in slots]


@router.get("/app/appointments/{appointment_id}/rebook", response_class=HTMLResponse)
def rebook_form(
    request: Request, appointment_id: int, user: CalendarDep, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    """The proposal for the first feasible day from today (nothing is saved)."""
    request.state.user = user
    return _rebook_page(request, db, clinic, get_appointment(db, appointment_id))


@router.post("/app/appointments/{appointment_id}/rebook", response_class=HTMLResponse)
def rebook_preview(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    not_before: Annotated[str, Form(max_length=20)] = "",
    practitioner_id: Annotated[str, Form(max_length=20)] = "any",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """The proposal from a chosen day and practitioner (nothing is saved)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    appt = get_appointment(db, appointment_id)
    return _rebook_page(
        request, db, clinic, appt, not_before=not_before, practitioner_id=practitioner_id
    )


@router.post("/app/appointments/{appointment_id}/rebook/confirm", response_class=HTMLResponse)
def rebook_confirm(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    proposal: Annotated[str, Form(max_length=4000)],
    not_before: Annotated[str, Form(max_length=20)] = "",
    practitioner_id: Annotated[str, Form(max_length=20)] = "any",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Save exactly the proposal shown, all or nothing (the missed appointment stays)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    appt = get_appointment(db, appointment_id)
    try:
        with audited(db, user, "appointment.rebook", appt.patient_id) as note:
            plan = services.rebook_missed(
                db,
                appointment_id,
                clinic,
                not_before=_parse_not_before(not_before),
                practitioner=chosen_practitioner(db, clinic, practitioner_id),
                expect=proposal,
            )
            assert plan.appointment is not None
            note.detail = (
                f"missed appointment {appt.id} rebooked as appointment {plan.appointment.id}; "
                f"moved {[m.id for m in plan.moved]}"
            )
    except ConflictError as exc:
        # The calendar changed since the proposal was shown, or a booking took one of its times
        # at the same moment: nothing was saved; show the proposal as it is now.
        return _rebook_page(
            request,
            db,
            clinic,
            appt,
            not_before=not_before,
            practitioner_id=practitioner_id,
            status_code=409,
            notice=f"Nothing was rebooked: {exc}. The proposal below is the calendar as it is now.",
        )
    except InputError as exc:
        text = "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)
        return _rebook_page(
            request,
            db,
            clinic,
            appt,
            not_before=not_before,
            practitioner_id=practitioner_id,
            status_code=422,
            error=text,
            preview=False,
        )
    except (SchedulingError, StateError) as exc:
        return _rebook_page(
            request,
            db,
            clinic,
            appt,
            not_before=not_before,
            practitioner_id=practitioner_id,
            status_code=409,
            error="Nothing was rebooked: " + str(exc),
            preview=False,
        )
    assert plan.appointment is not None
    target = calendar_url(
        "week",
        local(plan.appointment.start, clinic).date(),
        plan.appointment.practitioner_id,
        done="rebook",
        moved=len(plan.moved),
    )
    return RedirectResponse(target, status_code=303)

"""The clinic calendar: day and week views per practitioner, moving (re-plan shown before saving),
marking missed and cancelling appointments.

* ``GET  /app/calendar?view=week|day&date=YYYY-MM-DD&practitioner=ID`` — times in the clinic's
  time zone; each appointment shows the patient's name and "session n of N". Clinical notes are
  shown only to roles with the clinical permission.
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
* ``GET  /app/appointments/{id}/rebook`` — a missed course session: the proposed new date and
  the re-planned later sessions (:func:`needleplan.services.rebook_missed` with ``preview``);
  ``POST`` the same with a "not before" day and a practitioner; nothing is saved.
* ``POST /app/appointments/{id}/rebook/confirm`` — saves exactly the proposal shown (a new
  booked appointment; the missed one stays as a record), all or nothing; audited as
  ``appointment.rebook``. When the calendar changed meanwhile, the new proposal is shown instead.

Audit: every calendar view that shows patients writes one ``calendar.read`` event without a
patient id whose detail names the view and lists the patients shown (``patients=3,17,42``), so
the audit search by patient finds it; the move and rebook pages write ``appointment.read`` with
the patient's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import Appointment, AppointmentStatus, Course, Patient
from needleplan.exceptions import (
    ConflictError,
    InputError,
    SchedulingError,
    StateError,
)
from needleplan.scheduling import ClinicConfig, Weekday
from needleplan.services.moves import (
    MovePreview,
    MoveProposalChangedError,
    confirm_move,
    preview_move,
)
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
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
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import status_change
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)

SHOWN = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.PERFORMED,
    AppointmentStatus.MISSED,
)


def get_appointment(db: Database, appointment_id: int) -> Appointment:
    return services.get_appointment(db, appointment_id)


def _parse_day(value: str | None, clinic: ClinicConfig) -> date:
    if not value:
        return datetime.now(clinic.tz).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.one("date", value, "must be a date YYYY-MM-DD") from None


def _local_midnight(day: date, clinic: ClinicConfig) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clinic.tz)


@dataclass
class Entry:
    """One appointment as the calendar shows it."""

    appointment: Appointment
    start: datetime
    end: datetime
    patient: str
    practitioner: str
    session_text: str
    note: str
    rebook: bool = False
    rebooked_as: int | None = None


class _Lookup:
    """Per-request caches so a week of appointments costs one query per patient and course."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.patients: dict[int, Patient] = {}
        self.courses: dict[int, Course] = {}

    def patient(self, patient_id: int) -> Patient:
        if patient_id not in self.patients:
            self.patients[patient_id] = services.get_patient(self.db, patient_id)
        return self.patients[patient_id]

    def course(self, course_id: int) -> Course:
        if course_id not in self.courses:
            self.courses[course_id] = services.course_file(self.db, course_id).course
        return self.courses[course_id]


def session_text(appt: Appointment, lookup: _Lookup) -> str:
    kind = appt.kind.value
    if appt.course_id is None or appt.session_number is None:
        return kind
    total = lookup.course(appt.course_id).planned_sessions
    return f"session {appt.session_number} of {total}"


def _calendar_url(view: str, day: date, practitioner: int | None, **extra: Any) -> str:
    query: dict[str, Any] = {"view": view, "date": day.isoformat()}
    if practitioner is not None:
        query["practitioner"] = practitioner
    query.update(extra)
    return "/app/calendar?" + urlencode(query)


def day_notes(clinic: ClinicConfig, day: date, practitioners: set[str]) -> list[str]:
    """Why nobody can be booked on ``day`` (or by whom): clinic closure, public holiday, no
    opening hours that weekday, and the shown practitioners' days off."""
    notes: list[str] = []
    closure = clinic.closure(day)
    if closure is not None:
        notes.append(f"Clinic closed: {closure.reason}")
    holiday = clinic.holiday(day)
    if holiday is not None:
        notes.append(f"Public holiday: {holiday}")
    if not clinic.opening_hours.get(Weekday.of(day)):
        notes.append("Clinic closed (no opening hours on this weekday)")
    for p in clinic.practitioners:
        off = p.day_off(day)
        if off is not None and p.name in practitioners:
            notes.append(f"{p.name}: {off.reason}")
    return notes


@router.get("/app/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    view: str = "week",
    on: Annotated[str | None, Query(alias="date", max_length=20)] = None,
    practitioner: str | None = None,
    moved: int | None = None,
    done: str | None = None,
) -> HTMLResponse:
    request.state.user = user
    if view not in ("week", "day"):
        raise InputError.one("view", view, "must be week or day")
    day = _parse_day(on, clinic)
    names = practitioner_names(db)
    who: int | None = None
    if practitioner not in (None, "", "all"):
        try:
            who = int(str(practitioner))
        except ValueError:
            raise InputError.one("practitioner", practitioner, "must be a number") from None
        if who not in names:
            raise InputError.one("practitioner", who, "is not a practitioner of this clinic")
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    count = 7 if view == "week" else 1
    days = [first + timedelta(days=i) for i in range(count)]
    start = _local_midnight(days[0], clinic).astimezone(UTC)
    end = _local_midnight(days[-1] + timedelta(days=1), clinic).astimezone(UTC)
    appointments = services.appointments_between(
        db, start, end, practitioner_id=who, statuses=SHOWN
    )
    lookup = _Lookup(db)
    clinical = user.can(Permission.CLINICAL)
    by_day: dict[date, list[Entry]] = {d: [] for d in days}
    for a in sorted(appointments, key=lambda a: a.start):
        s = local(a.start, clinic)
        if s.date() not in by_day:
            continue
        by_day[s.date()].append(
            Entry(
                appointment=a,
                start=s,
                end=local(a.end, clinic),
                patient=patient_label(lookup.patient(a.patient_id)),
                practitioner=names.get(a.practitioner_id, str(a.practitioner_id)),
                session_text=session_text(a, lookup),
                note=a.note if clinical else "",
                rebook=services.can_rebook(a),
                rebooked_as=services.rebooked_as(a),
            )
        )
    shown = {e.appointment.patient_id for entries in by_day.values() for e in entries}
    if shown:
        scope = f"{view} {days[0].isoformat()}..{days[-1].isoformat()} practitioner={who or 'all'}"
        audit(db, user, "calendar.read", None, services.audit_patients_detail(scope, shown))
    step = timedelta(days=count)
    here = _calendar_url(view, day, who)
    shown_names = {names[who]} if who is not None else set(names.values())
    return render(
        request,
        "app/calendar.html",
        view=view,
        day=day,
        days=days,
        by_day=by_day,
        day_notes={d: day_notes(clinic, d, shown_names) for d in days},
        today=datetime.now(clinic.tz).date(),
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        practitioner=who,
        timezone=clinic.timezone,
        zone=zone_names(clinic, days[0], days[-1]),
        prev_url=_calendar_url(view, day - step, who),
        next_url=_calendar_url(view, day + step, who),
        today_url=_calendar_url(view, datetime.now(clinic.tz).date(), who),
        week_url=_calendar_url("week", day, who),
        day_url=lambda d: _calendar_url("day", d, who),
        here=here,
        moved=moved,
        done=done,
        clinical=clinical,
    )


# --------------------------------------------------------------------------- moving


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
    lookup = _Lookup(db)
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
        timezone=clinic.timezone,
        zone=zone_names(
            clinic, start.date(), *(r.new_start.date() for r in (preview.rows if preview else []))
        ),
        back=_calendar_url("week", start.date(), None),
    )


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
    target = _calendar_url(
        "week", local(first.start, clinic).date(), first.practitioner_id, moved=len(moved)
    )
    return RedirectResponse(target, status_code=303)


# --------------------------------------------------------------------------- rebooking a missed session


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
    lookup = _Lookup(db)
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
        rows=rebook_rows(plan, clinic) if plan is not None else [],
        zone=zone_names(clinic, *days),
        back=_calendar_url("week", start.date(), None),
    )


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
    target = _calendar_url(
        "week",
        local(plan.appointment.start, clinic).date(),
        plan.appointment.practitioner_id,
        done="rebook",
        moved=len(plan.moved),
    )
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

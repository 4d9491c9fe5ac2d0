"""Running the visit in the staff workspace: check in, chart, no-show, cancel with a reason, and
the practitioner's "chart missing" list.

* ``POST /app/visits/{id}/check-in`` — the patient arrived (calendar permission: every role);
  refused before the clinic's check-in window opens.
* ``GET|POST /app/visits/{id}/chart`` — the chart form (clinical permission: practitioners):
  areas with the needle depth per area [mm], device, passes, product and lot, adverse events
  with severity, notes, practitioner, time. Saved through
  :func:`needleplan.services.visits.chart`: the course ledger updates and the last session of a
  course opens the maintenance recall. Bad input re-shows the form naming field, value and rule.
* ``POST /app/visits/{id}/no-show`` — she did not come (not before the start).
* ``GET|POST /app/visits/{id}/cancel`` — cancel with a required reason; the page says whether
  cancelling now is late (inside the clinic's notice period).
* ``GET /app/visits/chart-missing`` — visits whose time passed and that are neither charted,
  cancelled nor a no-show (practitioners see their own by default; admin sees everyone's).
* ``GET /app/lots?lot=...`` — the lot search (practitioners): every patient and session that
  used a product lot, for a batch recall.

Every change acts as the signed-in account and is audited in its transaction (the services do
it). The buttons live in ``app/_visit_actions.html``, used by the calendar and the patient page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from needleplan import services
from needleplan.domain.assessment import Area
from needleplan.domain.records import Appointment, AppointmentStatus, Patient, User
from needleplan.exceptions import ConsentRequiredError, FieldProblem, InputError
from needleplan.scheduling import ClinicConfig
from needleplan.services import visits
from needleplan.services.consent_forms import treatment_consent_problem
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audited, database_user_id
from needleplan.web.deps import ClinicDep, DbDep, get_clinic, get_db
from needleplan.web.routes.booking import (
    CalendarDep,
    local,
    patient_label,
    practitioner_names,
    zone_names,
)
from needleplan.web.routes.calendar_common import freed_query
from needleplan.web.routes.pages import render, safe_next
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]

#: Adverse-event rows on the chart form.
ADVERSE_ROWS = 3
SEVERITIES = ("mild", "moderate", "severe")
AREAS = [a.value for a in Area]
FIELD_MAX = 4000


def acting_account(db: Database, user: StaffUser) -> User:
    """The signed-in user's account in the clinic records (the services act as it).

    A user from another store (the app's in-memory accounts beside a database) acts as an
    account with id 0: the services check its role and audit it by name.
    """
    key = database_user_id(user.id)
    stored = services.find_user(db, key) if key is not None else None
    if stored is not None:
        return stored
    return User(id=0, username=user.username, role=user.role, created_at=services.utc_now())


def _done(next_url: str, what: str) -> RedirectResponse:
    target = safe_next(next_url)
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}done={what}", status_code=303)


@dataclass
class Visit:
    """An appointment as the visit pages show it: local times and names."""

    appointment: Appointment
    patient: Patient
    start: datetime
    end: datetime
    practitioner: str

    @property
    def label(self) -> str:
        return patient_label(self.patient)


def _read(db: Database, user: StaffUser, appointment_id: int) -> Appointment:
    """One appointment for a page, its read audited with her id in the same transaction."""
    with audited(db, user, "appointment.read", None, f"appointment {appointment_id}") as note:
        appt = services.get_appointment(db, appointment_id)
        note.patient_id = appt.patient_id
        return appt


def _visit(db: Database, clinic: ClinicConfig, appt: Appointment) -> Visit:
    names = practitioner_names(db)
    return Visit(
        appointment=appt,
        patient=services.get_patient(db, appt.patient_id),
        start=local(appt.start, clinic),
        end=local(appt.end, clinic),
        practitioner=names.get(appt.practitioner_id, str(appt.practitioner_id)),
    )


# --------------------------------------------------------------------------- check in, no-show


@router.post("/app/visits/{appointment_id}/check-in")
def check_in(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    next: Annotated[str, Form(max_length=500)] = "/app/calendar",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The patient has arrived (booked -> arrived)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    visits.check_in(db, acting_account(db, user), appointment_id, clinic)
    return _done(next, "checkin")


@router.post("/app/visits/{appointment_id}/no-show")
def no_show(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    next: Annotated[str, Form(max_length=500)] = "/app/calendar",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """She did not come (booked -> missed, shown as "no-show"); never before the start."""
    check_csrf(request, csrf_token)
    return status_change(request, db, clinic, user, appointment_id, "no-show", next)


def status_change(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    user: StaffUser,
    appointment_id: int,
    action: Literal["no-show", "cancel"],
    next_url: str,
    reason: str = "",
) -> Response:
    """A no-show or a cancellation through :mod:`needleplan.services.visits` (the one place for
    both; the visit pages and the calendar's buttons call it), then back to ``next_url`` with
    ``done=noshow``, ``cancel`` or ``cancel-late``.

    The service keeps the visit's rules (no no-show before the start, a cancellation needs its
    reason, lateness by the clinic's notice period) and writes the audit event; its refusals
    propagate (an :class:`InputError` for the caller to show, a StateError as a 409 page).
    """
    request.state.user = user
    actor = acting_account(db, user)
    if action == "no-show":
        visits.no_show(db, actor, appointment_id)
        return _done(next_url, "noshow")
    appt = visits.cancel(db, actor, appointment_id, reason, clinic)
    # back in the calendar, the freed time is offered to the waitlist
    freed = "&" + freed_query(appt, clinic) if next_url.startswith("/app/calendar") else ""
    return _done(next_url, ("cancel-late" if appt.cancelled_late else "cancel") + freed)


# --------------------------------------------------------------------------- cancel


def _cancel_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    appointment_id: int,
    *,
    reason: str = "",
    next_url: str = "",
    problems: list[FieldProblem] | None = None,
) -> HTMLResponse:
    appt = _read(db, request.state.user, appointment_id)
    visit = _visit(db, clinic, appt)
    late = visits.visit_rules(clinic).is_late(appt, services.utc_now())
    return render(
        request,
        "app/visit_cancel.html",
        status_code=422 if problems else 200,
        visit=visit,
        late=late,
        notice_hours=clinic.cancellation_notice_hours,
        reason=reason,
        next=safe_next(next_url or f"/app/patients/{appt.patient_id}"),
        problems=problems or [],
        zone=zone_names(clinic, visit.start.date()),
    )


@router.get("/app/visits/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel_form(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    next: str = "",
) -> HTMLResponse:
    request.state.user = user
    return _cancel_page(request, db, clinic, appointment_id, next_url=next)


@router.post("/app/visits/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    appointment_id: int,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/app/calendar",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Cancel with the reason; the time becomes free and a course session stays owed."""
    check_csrf(request, csrf_token)
    try:
        return status_change(request, db, clinic, user, appointment_id, "cancel", next, reason)
    except InputError as exc:
        return _cancel_page(
            request,
            db,
            clinic,
            appointment_id,
            reason=reason,
            next_url=next,
            problems=exc.problems,
        )


# --------------------------------------------------------------------------- chart


def _chart_page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    appointment_id: int,
    actor: User,
    *,
    form: dict[str, Any] | None = None,
    problems: list[FieldProblem] | None = None,
    status_code: int | None = None,
) -> HTMLResponse:
    appt = _read(db, request.state.user, appointment_id)
    visit = _visit(db, clinic, appt)
    course = services.course_file(db, appt.course_id).course if appt.course_id else None
    names = practitioner_names(db)
    rules = visits.visit_rules(clinic)
    now = services.utc_now()
    default_who = actor.practitioner_id or appt.practitioner_id
    values: dict[str, Any] = {
        "areas": [],
        "depth": {},
        "device": "",
        "passes": "",
        "product": "",
        "lot": "",
        "notes": "",
        "practitioner_id": str(default_who),
        "performed_at": "",
        "adverse": [{"kind": "", "severity": "mild", "note": ""} for _ in range(ADVERSE_ROWS)],
    }
    values.update(form or {})
    return render(
        request,
        "app/visit_chart.html",
        status_code=status_code or (422 if problems else 200),
        visit=visit,
        course=course,
        areas=AREAS,
        severities=SEVERITIES,
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        form=values,
        problems=problems or [],
        too_early=now < rules.opens_at(appt),
        opens_at=local(rules.opens_at(appt), clinic),
        open_status=appt.status in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED),
        zone=zone_names(clinic, visit.start.date()),
        consent_problem=treatment_consent_problem(db, appt.patient_id),
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_chart_form(
    form: FormData, clinic: ClinicConfig
) -> tuple[dict[str, Any], dict[str, Any], list[FieldProblem]]:
    """The chart form as (what to show again, the service's mapping, problems found here).

    Problems found here are the ones a mapping cannot express (a depth that is not a number, a
    time that does not parse); the domain checks the rest (ranges, areas without a depth, ...).
    """
    problems: list[FieldProblem] = []
    areas = [a for a in form.getlist("areas") if isinstance(a, str)]
    for a in areas:
        if a not in AREAS:
            problems.append(FieldProblem("areas", a, "must be one of " + ", ".join(AREAS)))
    depth_text = {a: _text(form, f"depth_{a}") for a in AREAS if _text(form, f"depth_{a}")}
    depths: dict[str, float] = {}
    for a in areas:
        raw = depth_text.get(a, "")
        if not raw:
            problems.append(FieldProblem(f"needle_depth_mm.{a}", None, "needs a depth in mm"))
            continue
        try:
            depths[a] = float(raw.replace(",", "."))
        except ValueError:
            problems.append(FieldProblem(f"needle_depth_mm.{a}", raw, "must be a number of mm"))
    adverse_shown = []
    events = []
    for i in range(ADVERSE_ROWS):
        kind = _text(form, f"ae_kind_{i}")
        severity = _text(form, f"ae_severity_{i}") or "mild"
        note = _text(form, f"ae_note_{i}")
        adverse_shown.append({"kind": kind, "severity": severity, "note": note})
        if kind or note:
            events.append({"kind": kind, "severity": severity, "note": note})
    passes_raw = _text(form, "passes")
    performed_raw = _text(form, "performed_at")
    who_raw = _text(form, "practitioner_id")
    shown: dict[str, Any] = {
        "areas": areas,
        "depth": depth_text,
        "device": _text(form, "device"),
        "passes": passes_raw,
        "product": _text(form, "product"),
        "lot": _text(form, "lot"),
        "notes": _text(form, "notes"),
        "practitioner_id": who_raw,
        "performed_at": performed_raw,
        "adverse": adverse_shown,
    }
    data: dict[str, Any] = {
        "areas": areas,
        "needle_depth_mm": depths,
        "device": shown["device"],
        "product": shown["product"],
        "lot": shown["lot"],
        "notes": shown["notes"],
        "adverse_events": events,
    }
    try:
        data["passes"] = int(passes_raw)
    except ValueError:
        problems.append(FieldProblem("passes", passes_raw or None, "must be a whole number"))
    if who_raw:
        try:
            data["practitioner_id"] = int(who_raw)
        except ValueError:
            problems.append(FieldProblem("practitioner_id", who_raw, "must be a practitioner"))
    if performed_raw:
        try:
            data["performed_at"] = datetime.fromisoformat(performed_raw).replace(tzinfo=clinic.tz)
        except ValueError:
            problems.append(FieldProblem("performed_at", performed_raw, "must be a date and time"))
    for key in ("device", "product", "lot", "notes"):
        if len(shown[key]) > FIELD_MAX:
            problems.append(FieldProblem(key, shown[key][:40], f"at most {FIELD_MAX} characters"))
    return shown, data, problems


@router.get("/app/visits/{appointment_id}/chart", response_class=HTMLResponse)
def chart_form(
    request: Request, appointment_id: int, user: ClinicalDep, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    request.state.user = user
    return _chart_page(request, db, clinic, appointment_id, acting_account(db, user))


@router.post("/app/visits/{appointment_id}/chart", response_class=HTMLResponse)
async def chart(request: Request, appointment_id: int, user: ClinicalDep) -> Response:
    """Save the chart; the form comes back with every problem named when it is refused."""
    db = get_db(request)
    clinic = get_clinic(request)
    form = await request.form()
    value = form.get(CSRF_FIELD)
    check_csrf(request, value if isinstance(value, str) else None)
    request.state.user = user
    return await run_in_threadpool(_save_chart, request, db, clinic, appointment_id, user, form)


def _save_chart(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    appointment_id: int,
    user: StaffUser,
    form: FormData,
) -> Response:
    actor = acting_account(db, user)
    shown, data, problems = parse_chart_form(form, clinic)
    if not problems:
        try:
            session = visits.chart(db, actor, appointment_id, data, clinic)
        except InputError as exc:
            problems = exc.problems
        except ConsentRequiredError:  # the page says why and links to the signing screen
            return _chart_page(
                request, db, clinic, appointment_id, actor, form=shown, status_code=409
            )
        else:
            return RedirectResponse(
                f"/app/patients/{session.patient_id}?done=charted#course", status_code=303
            )
    return _chart_page(request, db, clinic, appointment_id, actor, form=shown, problems=problems)


# --------------------------------------------------------------------------- chart missing


@router.get("/app/visits/chart-missing", response_class=HTMLResponse)
def chart_missing(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    practitioner: str = "",
) -> HTMLResponse:
    """Past visits still waiting for their chart (or their no-show / cancellation)."""
    request.state.user = user
    actor = acting_account(db, user)
    names = practitioner_names(db)
    who: int | None = actor.practitioner_id
    if practitioner == "all":
        who = None
    elif practitioner:
        try:
            who = int(practitioner)
        except ValueError:
            raise InputError.one("practitioner", practitioner, "must be a number or all") from None
        if who not in names:
            raise InputError.one("practitioner", who, "is not a practitioner of this clinic")
    found = visits.chart_missing(db, actor, practitioner_id=who)
    rows = [_visit(db, clinic, a) for a in found]
    return render(
        request,
        "app/visit_missing.html",
        rows=rows,
        practitioner=who,
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        clinical=user.can(Permission.CLINICAL),
        zone=zone_names(clinic),
        days=visits.CHART_MISSING_DAYS,
    )


# --------------------------------------------------------------------------- lot search


@router.get("/app/lots", response_class=HTMLResponse)
def lot_search(
    request: Request,
    user: ClinicalDep,
    db: DbDep,
    clinic: ClinicDep,
    lot: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Who was treated with a product lot (exact lot number, any case)."""
    request.state.user = user
    found = visits.lot_sessions(db, acting_account(db, user), lot) if lot.strip() else []
    return render(
        request,
        "app/lots.html",
        lot=lot.strip(),
        found=[(s, p, local(s.performed_at, clinic)) for s, p in found],
        zone=zone_names(clinic),
    )

"""Staff pages for patient records: list and search, registration, the patient page.

Who sees what (the :class:`~needleplan.web.auth.Permission` table):

- every role with ``contacts`` (admin, practitioner, front desk) lists and searches patients,
  registers a patient and sees her demographics, contact details, consent flags, appointments
  and her courses' status and remaining-session ledger;
- only ``clinical`` (practitioner) sees clinical content: the patient's notes, the assessment
  history, performed sessions, measurements and the forecast chart, and records measurements.

Times (appointments, sessions, measurements, assessments, the ledger) are shown on the clinic's
wall clock (the clinic calendar's zone, named once on the page), and a measurement's time is read
in that zone. A missed course session offers "rebook" (see :mod:`.calendar`).

Audit: reading a patient page writes one ``patient.read`` event with her id; a list or search
writes one ``patient.list`` event without a patient id (detail: page number and result count,
never the search words, which may be a name); registering writes ``patient.create`` and
recording a measurement ``measurement.create``.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime
from statistics import mean
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.assessment import Area
from needleplan.domain.records import (
    AppointmentStatus,
    Course,
    MeasurementScale,
    PerformedSession,
    Sex,
)
from needleplan.exceptions import (
    DuplicatePatientError,
    FieldProblem,
    InputError,
    ModelRangeError,
    NotFoundError,
)
from needleplan.forecasting.chain import INITIAL_INTERVAL_DAYS, MAX_INITIAL_SESSIONS
from needleplan.forecasting.wording import EVIDENCE_LIMIT, threshold_note
from needleplan.scheduling import ClinicConfig
from needleplan.services.intake import intake_summaries
from needleplan.services.learned_forecast import learned_forecast
from needleplan.services.online_booking import booked_online
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.learned_chart import learned_chart
from needleplan.web.routes.booking import local_text, zone_names
from needleplan.web.routes.consents import consent_section
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_ID = 2**31 - 1

ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]
PatientId = Annotated[int, Path(ge=1, le=MAX_ID)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.get("/app/patients", response_class=HTMLResponse)
def patient_list(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Patients by family name; ``q`` searches name words, a date of birth, an id or record no."""
    request.state.user = user
    with audited(db, user, "patient.list") as note:
        found, total = services.search_patients(
            db, q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        note.detail = services.audit_patients_detail(
            f"page={page} results={len(found)}", (p.id for p in found)
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return render(
        request,
        "app/patients.html",
        patients=found,
        total=total,
        q=q,
        page=page,
        pages=pages,
        today=date.today(),
    )


def _new_form(request: Request, user: StaffUser, **extra: Any) -> HTMLResponse:
    request.state.user = user
    context: dict[str, Any] = {
        "form": {},
        "problems": [],
        "duplicates": [],
        "sexes": [s.value for s in Sex],
        "clinical": user.can(Permission.CLINICAL),
    }
    context.update(extra)
    status = 422 if context["problems"] else int(context.pop("status", 200))
    return render(request, "app/patient_new.html", status_code=status, **context)


@router.get("/app/patients/new", response_class=HTMLResponse)
def new_patient_form(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    lead: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The registration form; ``lead`` prefills it from a contact request (converting it)."""
    if not lead:
        return _new_form(request, user)
    found = services.get_lead(db, lead)
    return _new_form(request, user, form=services.leads.registration_draft(found), lead=found)


@router.post("/app/patients/new", response_class=HTMLResponse)
def new_patient(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    csrf_token: CsrfField = "",
    given_name: Annotated[str, Form(max_length=200)] = "",
    family_name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=20)] = "",
    sex: Annotated[str, Form(max_length=20)] = "undisclosed",
    mrn: Annotated[str, Form(max_length=80)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    phone: Annotated[str, Form(max_length=80)] = "",
    consent_treatment: Annotated[str, Form(max_length=10)] = "",
    consent_contact: Annotated[str, Form(max_length=10)] = "",
    consent_research: Annotated[str, Form(max_length=10)] = "",
    notes: Annotated[str, Form(max_length=8000)] = "",
    confirm_duplicate: Annotated[str, Form(max_length=10)] = "",
    lead: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Register a patient; clinical notes are accepted only from a practitioner. With
    ``lead``, the contact request it came from is linked to her in the same transaction.

    A likely duplicate (same name and date of birth, phone or e-mail) shows the matching
    records with links and a "register anyway" button; registering anyway is audited."""
    check_csrf(request, csrf_token)
    form = {
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "sex": sex,
        "mrn": mrn,
        "email": email,
        "phone": phone,
        "consent_treatment": bool(consent_treatment),
        "consent_contact": bool(consent_contact),
        "consent_research": bool(consent_research),
        "notes": notes,
    }
    source = services.get_lead(db, lead) if lead else None
    if notes.strip() and not user.can(Permission.CLINICAL):
        return _new_form(
            request,
            user,
            form=form,
            lead=source,
            problems=[FieldProblem("notes", None, "only a practitioner writes clinical notes")],
        )
    data: dict[str, Any] = {
        k: (v.strip() if isinstance(v, str) else v) for k, v in form.items() if v != ""
    }
    try:
        with audited(db, user, "patient.create") as note:
            patient = services.register_patient(
                db, data, confirm_duplicate=bool(confirm_duplicate), note=note
            )
            note.patient_id = patient.id
            if source is not None:
                services.link_lead_to_patient(db, user, source.public_id, patient.id)
    except InputError as exc:
        return _new_form(request, user, form=form, problems=exc.problems, lead=source)
    except DuplicatePatientError:
        duplicates = services.likely_duplicates(db, data)
        return _new_form(request, user, form=form, duplicates=duplicates, status=409, lead=source)
    return RedirectResponse(f"/app/patients/{patient.id}", status_code=303)


def current_course(courses: list[Course]) -> Course | None:
    """The newest course still running (planned or active), else the newest course."""
    ordered = sorted(courses, key=lambda c: (c.created_at, c.id), reverse=True)
    for course in ordered:
        if not course.status.is_final:
            return course
    return ordered[0] if ordered else None


def forecast_request(
    course: Course | None, days: list[datetime], assessment: dict[str, Any]
) -> dict[str, Any]:
    """The ``/api/v1/forecast`` body and the session days [days from the first] to mark.

    The schedule is her own: the number of sessions of her current course and the mean gap
    between her session days (performed and still booked), clamped to the bounds the forecast
    accepts. Without a course: the plan's default schedule.
    """
    body: dict[str, Any] = {"assessment": assessment, "draws": 300, "seed": 11}
    body["curve_step_days"] = 7
    marks: list[float] = []
    if days:
        first = days[0]
        marks = [round((d - first).total_seconds() / 86400, 1) for d in days]
    if course is not None:
        count = max(len(days), course.planned_sessions, 1)
        body["sessions"] = min(count, MAX_INITIAL_SESSIONS)
    if len(marks) >= 2:
        gap = mean(b - a for a, b in itertools.pairwise(marks))
        low, high = INITIAL_INTERVAL_DAYS
        body["interval_days"] = int(min(max(round(gap), low), high))
    return {"body": body, "session_days": marks}


def _session_days(
    course: Course | None, sessions: list[PerformedSession], appointments: list[Any]
) -> list[datetime]:
    """Her session days in the course: the performed ones, then the ones still booked."""
    if course is None:
        return []
    done = [s.performed_at for s in sessions if s.course_id == course.id]
    booked = [
        a.start
        for a in appointments
        if a.course_id == course.id and a.status == AppointmentStatus.BOOKED
    ]
    return sorted(done + booked)


def learned_section(db: Database, clinic: ClinicConfig, record: Any) -> dict[str, Any]:
    """Her learned forecast, its chart and what it implies, once she has measurements (else
    her forecast is the population's and the page shows only that). A record the model cannot
    use yet (no session) gives the reason instead."""
    if not record.measurements or not record.assessments:
        return {"learned": None, "learned_chart": None, "learned_problem": ""}
    try:
        found = learned_forecast(db, record.patient.id, clinic=clinic)
    except (NotFoundError, InputError, ModelRangeError) as exc:
        return {"learned": None, "learned_chart": None, "learned_problem": str(exc)}
    return {
        "learned": found,
        "learned_chart": learned_chart(found),
        "learned_problem": "",
        "learned_threshold_note": threshold_note(found.outcome.update.personal.base_threshold),
    }


def _patient_page(
    request: Request,
    user: StaffUser,
    db: Database,
    clinic: ClinicConfig,
    patient_id: int,
    *,
    status_code: int = 200,
    measurement_form: dict[str, Any] | None = None,
    measurement_problems: list[FieldProblem] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    request.state.user = user
    with audited(db, user, "patient.read", patient_id):
        record = services.patient_file(db, patient_id)
    clinical = user.can(Permission.CLINICAL)
    course = current_course(record.courses)
    ledger = services.course_file(db, course.id).ledger if course is not None else []
    today = datetime.now(clinic.tz).date()
    stamps = [a.start for a in record.appointments] + [e.at for e in ledger]
    if clinical:
        stamps += [s.performed_at for s in record.sessions]
        stamps += [m.measured_at for m in record.measurements]
        stamps += [r.assessed_at for r in record.assessments]
    days = {d.astimezone(clinic.tz).date() for d in stamps} or {today}
    context: dict[str, Any] = {
        "patient": record.patient,
        "age": record.patient.age_on(today),
        "at": lambda value, fmt="%Y-%m-%d %H:%M": local_text(value, clinic, fmt),
        "zone": zone_names(clinic, *sorted(days)),
        "can_rebook": services.can_rebook,
        "rebooked_as": services.rebooked_as,
        "clinical": clinical,
        "course": course,
        "ledger": ledger,
        "courses": sorted(record.courses, key=lambda c: c.id, reverse=True),
        "appointments": sorted(record.appointments, key=lambda a: a.start, reverse=True),
        "booked_online": booked_online(db, [a.id for a in record.appointments]),
        "saved": saved,
    }
    context["consents"] = record.consents
    context["intakes"] = intake_summaries(db, patient_id)  # status only: no answers
    context.update(consent_section(db, user, patient_id))
    if clinical:
        context.update(learned_section(db, clinic, record))
        newest = record.assessments[0] if record.assessments else None
        chart = None
        if newest is not None:
            chart = forecast_request(
                course,
                _session_days(course, record.sessions, record.appointments),
                newest.assessment.model_dump(mode="json", exclude_none=True),
            )
        context.update(
            assessments=record.assessments,
            sessions=sorted(record.sessions, key=lambda s: s.performed_at, reverse=True),
            measurements=sorted(record.measurements, key=lambda m: m.measured_at, reverse=True),
            chart=chart,
            scales=[(s.value, s.info.description) for s in MeasurementScale],
            areas=[a.value for a in Area],
            measurement_form=measurement_form
            or {"measured_at": datetime.now(clinic.tz).strftime("%Y-%m-%dT%H:%M")},
            measurement_problems=measurement_problems or [],
            evidence_limit=EVIDENCE_LIMIT,
        )
    return render(request, "app/patient.html", status_code=status_code, **context)


@router.get("/app/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request,
    user: ContactsDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: PatientId,
    saved: int = 0,
) -> HTMLResponse:
    """One patient: demographics and consent; for a practitioner also the clinical record."""
    return _patient_page(request, user, db, clinic, patient_id, saved=bool(saved))


def clinic_time(text: str, clinic: ClinicConfig) -> str:
    """A form's date-time as ISO 8601 with an offset: an explicit offset is kept, a wall-clock
    time (``datetime-local``) is read on the clinic's clock. A time that does not exist (skipped
    by the spring change) is left to the validator, which names the field."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the record's validation names the field and the rule
    if parsed.tzinfo is not None:
        return value
    aware = parsed.replace(tzinfo=clinic.tz)
    round_trip = aware.astimezone(UTC).astimezone(clinic.tz).replace(tzinfo=None)
    if round_trip != parsed:
        raise InputError.one(
            "measured_at",
            value,
            f"does not exist in {clinic.timezone} (the clocks skip it at the daylight-saving "
            "change)",
        )
    return aware.isoformat()


@router.post("/app/patients/{patient_id}/measurements", response_class=HTMLResponse)
def add_measurement(
    request: Request,
    user: ClinicalDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: PatientId,
    csrf_token: CsrfField = "",
    scale: Annotated[str, Form(max_length=40)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    measured_at: Annotated[str, Form(max_length=40)] = "",
    area: Annotated[str, Form(max_length=40)] = "",
    course_id: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Record an outcome measurement (practitioner); the page shows it at once."""
    check_csrf(request, csrf_token)
    form = {
        "scale": scale,
        "value": value,
        "measured_at": measured_at,
        "area": area,
        "course_id": course_id,
        "note": note,
    }
    data: dict[str, Any] = {"scale": scale, "value": value.strip(), "note": note}
    if area:
        data["area"] = area
    if course_id.strip():
        data["course_id"] = course_id.strip()
    try:
        if measured_at:
            data["measured_at"] = clinic_time(measured_at, clinic)
        services.get_patient(db, patient_id)
        with audited(db, user, "measurement.create", patient_id):
            services.record_measurement(db, patient_id, data)
    except InputError as exc:
        return _patient_page(
            request,
            user,
            db,
            clinic,
            patient_id,
            status_code=422,
            measurement_form=form,
            measurement_problems=exc.problems,
        )
    return RedirectResponse(f"/app/patients/{patient_id}?saved=1#measurements", status_code=303)

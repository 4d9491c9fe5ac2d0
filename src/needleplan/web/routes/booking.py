"""Book a whole course from the consultation, and the course's iCalendar file.

Pages and endpoints (all under the staff workspace, CSRF-checked on every POST):

* ``GET  /app/booking/options`` (calendar permission): practitioners and the clinic's time zone
  for the booking panel.
* ``GET  /app/booking/patients?q=`` (calendar permission): patients whose name or record number
  matches every word of ``q`` (name, date of birth and record number only).
* ``POST /app/booking/course`` (JSON; CSRF token in the ``X-CSRF-Token`` header): register the
  patient if new, record the assessment, date the whole series and book it all or nothing.
  Sending an ``assessment`` needs the clinical permission (practitioners); without one the
  patient's newest stored assessment is booked, which the front desk may do too.
* ``GET  /app/booking`` and ``POST /app/booking`` (calendar permission): the same booking from
  the patient's newest stored assessment as a plain form, for the front desk.
* ``POST /app/booking/visit`` (calendar permission): one maintenance visit (day, time,
  practitioner), checked against opening hours and bookings; it closes her open recall entry.
* ``GET  /app/courses/{id}/course.ics`` (calendar permission): the booked sessions as
  iCalendar with stable UIDs, built by :func:`needleplan.scheduling.course_ics`.

Nothing is stored before the whole series has a place: the series is dated first against every
existing booking; a session that cannot be placed answers 409 naming the session, why, and the
nearest feasible alternative (which the caller may accept with ``allow_overrun``). Registering a
new patient, recording the assessment and booking the course are then ONE transaction
(:func:`needleplan.services.book_consultation`): when another booking takes one of the times at
the last moment, nothing at all is stored (the course is re-dated and tried again, three times).

Times are the clinic's wall clock, its zone named with them. Audit: a patient search that
returns patients writes one ``booking.search`` event listing their ids (``patients=3,17``), and a
page showing a chosen patient without booking writes ``booking.read`` with her id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from needleplan import services
from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    Patient,
)
from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    FieldProblem,
    InputError,
    NeedleplanError,
    NotFoundError,
    SchedulingError,
)
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    SessionSchedulingError,
    course_ics,
)
from needleplan.scheduling.calendar import BusyIndex, slot_problem
from needleplan.services.idempotency import new_key, once, parse_key
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.errors import ApiError, error_body, problems_for, status_for
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

#: The request header an API client sends to make a booking request idempotent.
IDEMPOTENCY_HEADER = "Idempotency-Key"

CalendarDep = Annotated[StaffUser, Depends(require_permission(Permission.CALENDAR))]

CSRF_HEADER = "X-CSRF-Token"


# --------------------------------------------------------------------------- shared helpers


def practitioner_names(db: Database) -> dict[int, str]:
    return {p.id: p.name for p in services.list_practitioners(db)}


def busy_between(db: Database, clinic: ClinicConfig, start: datetime, end: datetime) -> list[Busy]:
    """Every appointment holding a practitioner's time in ``[start, end)`` as Busy (booked,
    missed and performed ones keep their slot claims: :func:`needleplan.services.busy_times`)."""
    return services.busy_times(db, clinic, start, end)


def patient_label(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


def local(value: datetime, clinic: ClinicConfig) -> datetime:
    return value.astimezone(clinic.tz)


def zone_names(clinic: ClinicConfig, *days: date) -> str:
    """The clinic's zone as staff read it, shown once per page: its IANA name and the
    abbreviations in use on ``days`` (default: through this year), e.g. ``Australia/Sydney
    (AEDT/AEST)`` for a page whose times fall on both sides of a daylight-saving change."""
    if not days:
        year = datetime.now(clinic.tz).year
        days = (date(year, 1, 1), date(year, 7, 1))
    abbreviations: list[str] = []
    for d in days:
        for hour in (0, 23):
            name = datetime.combine(d, time(hour), tzinfo=clinic.tz).tzname() or ""
            if name[:1] not in "+-" and name not in (*abbreviations, clinic.timezone):
                abbreviations.append(name)
    return f"{clinic.timezone} ({'/'.join(abbreviations)})" if abbreviations else clinic.timezone


def local_text(value: datetime | None, clinic: ClinicConfig, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` on the clinic's wall clock (every staff page shows clinic time, never UTC)."""
    return "" if value is None else value.astimezone(clinic.tz).strftime(fmt)


def scheduling_problem(exc: SchedulingError) -> dict[str, Any]:
    """The JSON a caller needs to explain an unschedulable course and offer the alternative."""
    out: dict[str, Any] = {"message": str(exc), "session_number": None, "alternative": None}
    if isinstance(exc, SessionSchedulingError):
        out["session_number"] = exc.session_number
        out["reason"] = exc.reason
        out["window"] = None if exc.window is None else [d.isoformat() for d in exc.window]
        alt = exc.alternative
        if alt is not None:
            out["alternative"] = {
                "session_number": alt.session_number,
                "start": alt.start.isoformat(),
                "practitioner": alt.practitioner,
                "overrun_days": alt.overrun_days,
                "text": alt.describe(),
            }
    return out


# --------------------------------------------------------------------------- booking core


@dataclass(frozen=True)
class BookingResult:
    course_id: int
    patient: Patient
    appointments: list[Appointment]
    warnings: list[str]


def _parse_start(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError.one("start", value, "must be a date YYYY-MM-DD") from None


def chosen_practitioner(db: Database, clinic: ClinicConfig, practitioner_id: Any) -> str | None:
    """The clinic-config name of the practitioner a form chose (None for anyone)."""
    if practitioner_id in (None, "", "any"):
        return None
    try:
        pid = int(practitioner_id)
    except (TypeError, ValueError):
        raise InputError.one(
            "practitioner_id", practitioner_id, "must be a number or any"
        ) from None
    name = practitioner_names(db).get(pid)
    if name is None or name not in {p.name for p in clinic.practitioners}:
        raise InputError.one("practitioner_id", pid, "is not a practitioner of this clinic")
    return name


def book_from_request(
    db: Database, clinic: ClinicConfig, user: StaffUser, body: dict[str, Any]
) -> BookingResult:
    """Validate, then store patient, assessment and booking in ONE transaction.

    The series is dated against every existing booking before anything is stored
    (:func:`needleplan.services.book_consultation`); registering a new patient, recording the
    assessment and booking the course are one unit of work, so a failure at any step (even a
    slot taken by someone else at the last moment, three times running) stores nothing.

    Raises InputError (422), BlockedError (409), SchedulingError (409, nothing stored),
    ConflictError (409: other bookings took the times; nothing stored).
    """
    start = _parse_start(body.get("start"))
    practitioner = chosen_practitioner(db, clinic, body.get("practitioner_id"))
    allow_overrun = bool(body.get("allow_overrun", False))
    raw_assessment = body.get("assessment")
    new_patient = body.get("new_patient")
    patient_id = body.get("patient_id")
    if raw_assessment is not None and not user.can(Permission.CLINICAL):
        raise ApiError.one(
            403,
            "assessment",
            None,
            "only a practitioner records assessments; book from a stored one",
        )
    patient: Patient | None = None
    if new_patient is None:
        if patient_id in (None, ""):
            raise InputError.one("patient_id", None, "choose a patient or register a new one")
        try:
            patient = services.get_patient(db, int(patient_id))
        except (TypeError, ValueError):
            raise InputError.one("patient_id", patient_id, "must be a number") from None
    elif not isinstance(new_patient, dict):
        raise InputError.one("new_patient", "{...}", "must be an object with names and birth date")
    draft: dict[str, Any] | None = None
    if new_patient is not None:
        assert isinstance(new_patient, dict)
        draft = {k: new_patient.get(k) for k in ("given_name", "family_name", "birth_date")} | {
            "consent_treatment": new_patient.get("consent_treatment", False)
        }
    with audited(db, user, "course.book") as note:
        done = services.book_consultation(
            db,
            clinic,
            start,
            patient_id=patient.id if patient is not None else None,
            new_patient=draft,
            assessment=raw_assessment,
            practitioner=practitioner,
            allow_overrun=allow_overrun,
        )
        booked = done.patient
        if done.registered:
            audit(db, user, "patient.create", booked.id, "registered while booking a course")
        if done.assessed:
            audit(db, user, "assessment.record", booked.id, f"assessment {done.assessment.id}")
        booking = done.booking
        note.patient_id = booked.id
        note.detail = f"course {booking.course.id}: {len(booking.appointments)} appointments"
    return BookingResult(
        booking.course.id, booked, booking.appointments, list(done.schedule.warnings)
    )


def _session_rows(
    db: Database, clinic: ClinicConfig, appointments: list[Appointment]
) -> list[dict[str, Any]]:
    names = practitioner_names(db)
    return [
        {
            "appointment_id": a.id,
            "number": a.session_number,
            "start": local(a.start, clinic).isoformat(),
            "end": local(a.end, clinic).isoformat(),
            "label": f"{local(a.start, clinic):%a %d %b %Y, %H:%M}–{local(a.end, clinic):%H:%M}",
            "practitioner": names.get(a.practitioner_id, str(a.practitioner_id)),
            "week_url": (
                f"/app/calendar?view=week&date={local(a.start, clinic).date().isoformat()}"
                f"&practitioner={a.practitioner_id}"
            ),
        }
        for a in sorted(appointments, key=lambda a: a.start)
    ]


def _result_json(db: Database, clinic: ClinicConfig, result: BookingResult) -> dict[str, Any]:
    return {
        "course_id": result.course_id,
        "patient": {
            "id": result.patient.id,
            "mrn": result.patient.mrn,
            "name": patient_label(result.patient),
        },
        "timezone": clinic.timezone,
        "zone": zone_names(
            clinic, *sorted({local(a.start, clinic).date() for a in result.appointments})
        ),
        "sessions": _session_rows(db, clinic, result.appointments),
        "warnings": result.warnings,
        "ics_url": f"/app/courses/{result.course_id}/course.ics",
    }


def _json_error(exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return JSONResponse(error_body(exc.problems), status_code=exc.status_code)
    assert isinstance(exc, NeedleplanError)
    body = error_body(problems_for(exc))
    if isinstance(exc, SchedulingError):
        body["scheduling"] = scheduling_problem(exc)
        body["message"] = "nothing was booked: " + str(exc)
    elif isinstance(exc, ConflictError):
        text = str(exc)
        body["message"] = (
            text if text.startswith("nothing was booked") else (f"nothing was booked: {text}")
        )
    elif isinstance(exc, BlockedError):
        body["message"] = "nothing was booked: the plan is blocked (" + "; ".join(exc.reasons) + ")"
    else:
        body["message"] = "; ".join(str(p) for p in problems_for(exc))
    return JSONResponse(body, status_code=status_for(exc))


# --------------------------------------------------------------------------- JSON endpoints


@router.get("/app/booking/options")
def booking_options(
    request: Request, user: CalendarDep, db: DbDep, clinic: ClinicDep
) -> dict[str, Any]:
    """Practitioners of this clinic (id and name) and its time zone, for the booking panel."""
    ids = services.sync_practitioners(db, clinic)
    return {
        "timezone": clinic.timezone,
        "today": datetime.now(clinic.tz).date().isoformat(),
        "practitioners": [{"id": pid, "name": name} for name, pid in ids.items()],
        "can_assess": user.can(Permission.CLINICAL),
    }


@router.get("/app/booking/patients")
def search_patients(request: Request, user: CalendarDep, db: DbDep, q: str = "") -> JSONResponse:
    """Patients matching every word of ``q`` (at least 2 characters): name, birth date, MRN."""
    words = [w.casefold() for w in q.split() if w][:4]
    if not words or len(" ".join(words)) < 2 or len(q) > 100:
        return JSONResponse({"patients": []})
    candidates = services.list_patients(db, words[0], limit=200)
    found = [
        p
        for p in candidates
        if all(
            w in p.given_name.casefold() or w in p.family_name.casefold() or w in p.mrn.casefold()
            for w in words
        )
    ][:20]
    if found:
        detail = services.audit_patients_detail("consultation search", (p.id for p in found))
        audit(db, user, "booking.search", None, detail)
    return JSONResponse(
        {
            "patients": [
                {
                    "id": p.id,
                    "mrn": p.mrn,
                    "name": patient_label(p),
                    "birth_date": p.birth_date.isoformat(),
                }
                for p in found
            ]
        }
    )


@router.post("/app/booking/course")
async def book_course_json(
    request: Request, user: CalendarDep, db: DbDep, clinic: ClinicDep
) -> JSONResponse:
    """Book a whole course (see the module docstring for the body); JSON in, JSON out."""
    check_csrf(request, request.headers.get(CSRF_HEADER))
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse(
            error_body([FieldProblem("body", None, "malformed JSON")]), status_code=422
        )
    if not isinstance(body, dict):
        return JSONResponse(
            error_body([FieldProblem("body", None, "must be a JSON object")]), status_code=422
        )

    def run() -> tuple[int, dict[str, Any]]:
        return 201, _result_json(db, clinic, book_from_request(db, clinic, user, body))

    try:
        raw_key = request.headers.get(IDEMPOTENCY_HEADER) or body.get("idempotency_key")
        key = parse_key(None if raw_key is None else str(raw_key))
        answer = once(db, f"booking.course:{user.id}", key, run)
    except (ApiError, NeedleplanError) as exc:
        return _json_error(exc)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


# --------------------------------------------------------------------------- front-desk form


@router.get("/app/booking", response_class=HTMLResponse)
def booking_page(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    q: str = "",
    patient_id: int | None = None,
) -> HTMLResponse:
    """Book a course from a patient's stored assessment (front desk and practitioners)."""
    request.state.user = user
    patients = services.list_patients(db, q.strip(), limit=50) if len(q.strip()) >= 2 else []
    chosen = services.get_patient(db, patient_id) if patient_id is not None else None
    has_assessment = bool(chosen and services.assessment_history(db, chosen.id))
    if patients:
        detail = services.audit_patients_detail("booking search", (p.id for p in patients))
        audit(db, user, "booking.search", None, detail)
    if chosen is not None:
        audit(db, user, "booking.read", chosen.id, "booking page")
    return render(
        request,
        "app/booking.html",
        q=q,
        patients=patients,
        chosen=chosen,
        has_assessment=has_assessment,
        practitioners=services.sync_practitioners(db, clinic),
        today=datetime.now(clinic.tz).date().isoformat(),
        result=None,
        problem=None,
        visit=None,
        idempotency_key=new_key(),
    )


@router.post("/app/booking", response_class=HTMLResponse)
def booking_submit(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: Annotated[int, Form()],
    start: Annotated[str, Form(max_length=20)],
    practitioner_id: Annotated[str, Form(max_length=20)] = "any",
    allow_overrun: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf_token)
    request.state.user = user
    chosen = services.get_patient(db, patient_id)
    context: dict[str, Any] = {
        "q": "",
        "patients": [],
        "chosen": chosen,
        "has_assessment": True,
        "practitioners": services.sync_practitioners(db, clinic),
        "today": start,
        "result": None,
        "problem": None,
        "visit": None,
        "chosen_practitioner": practitioner_id,
        "idempotency_key": idempotency_key or new_key(),
    }
    body = {
        "patient_id": patient_id,
        "start": start,
        "practitioner_id": practitioner_id,
        "allow_overrun": allow_overrun == "yes",
    }

    def run() -> tuple[int, dict[str, Any]]:
        return 201, _result_json(db, clinic, book_from_request(db, clinic, user, body))

    try:
        answer = once(
            db, f"booking.course:{user.id}", parse_key(idempotency_key, "idempotency_key"), run
        )
    except NotFoundError:
        raise
    except (ApiError, NeedleplanError) as exc:
        status = exc.status_code if isinstance(exc, ApiError) else status_for(exc)
        problem: dict[str, Any] = {"message": str(exc)}
        if isinstance(exc, SchedulingError):
            problem = scheduling_problem(exc)
        context["problem"] = problem
        audit(db, user, "booking.read", chosen.id, "booking page: course not booked")
        return render(request, "app/booking.html", status_code=status, **context)
    context["result"] = answer.body  # a repeated form shows the first booking, booking nothing
    return render(request, "app/booking.html", status_code=answer.status, **context)


@router.post("/app/booking/visit", response_class=HTMLResponse)
def book_visit(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: Annotated[int, Form()],
    day: Annotated[str, Form(max_length=20)] = "",
    at: Annotated[str, Form(alias="time", max_length=10)] = "",
    practitioner_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Book one maintenance visit (booking closes the patient's open recall entries)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    chosen = services.get_patient(db, patient_id)
    history = services.assessment_history(db, chosen.id)
    context: dict[str, Any] = {
        "q": "",
        "patients": [],
        "chosen": chosen,
        "has_assessment": bool(history),
        "practitioners": services.sync_practitioners(db, clinic),
        "today": day,
        "result": None,
        "problem": None,
        "visit": None,
    }
    try:
        name = chosen_practitioner(db, clinic, practitioner_id)
        if name is None:
            raise InputError.one("practitioner_id", practitioner_id, "choose who treats")
        try:
            start = datetime.combine(date.fromisoformat(day), time_of_day(at), tzinfo=clinic.tz)
        except ValueError:
            raise InputError.one(
                "day/time", f"{day} {at}", "must be YYYY-MM-DD and HH:MM"
            ) from None
        areas = list(history[0].assessment.areas) if history else []
        minutes = clinic.session_duration_minutes(areas)
        end = start + timedelta(minutes=minutes)
        busy = busy_between(db, clinic, start - timedelta(days=1), end + timedelta(days=1))
        problem = slot_problem(
            clinic, clinic.practitioner(name), start, minutes, BusyIndex.build(busy)
        )
        if problem is not None:
            raise SchedulingError(f"no maintenance visit at {start:%Y-%m-%d %H:%M}: {problem}")
        with audited(db, user, "appointment.book", chosen.id) as note:
            ids = services.sync_practitioners(db, clinic)
            appt = services.book_appointment(
                db, chosen.id, (start, end, ids[name]), kind=AppointmentKind.MAINTENANCE
            )
            note.detail = f"maintenance appointment {appt.id}"
    except NotFoundError:
        raise
    except (ApiError, NeedleplanError) as exc:
        status = exc.status_code if isinstance(exc, ApiError) else status_for(exc)
        text = str(exc)
        if isinstance(exc, ConflictError):  # the storage message names UTC instants
            text = "nothing was booked: someone else booked that time a moment ago; choose another"
        context["problem"] = {"message": text}
        audit(db, user, "booking.read", chosen.id, "booking page: visit not booked")
        return render(request, "app/booking.html", status_code=status, **context)
    context["visit"] = _session_rows(db, clinic, [appt])[0]
    context["zone"] = zone_names(clinic, local(appt.start, clinic).date())
    return render(request, "app/booking.html", status_code=201, **context)


def time_of_day(value: str) -> time:
    return time.fromisoformat(value).replace(second=0, microsecond=0)


# --------------------------------------------------------------------------- iCalendar


@router.get("/app/courses/{course_id}/course.ics")
def course_calendar_file(
    request: Request, course_id: int, user: CalendarDep, db: DbDep, clinic: ClinicDep
) -> Response:
    """The course's sessions (and open maintenance recall) as an .ics file."""
    schedule = services.course_schedule(db, course_id, clinic, actor=user)
    return Response(
        course_ics(schedule),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="course-{course_id}.ics"'},
    )

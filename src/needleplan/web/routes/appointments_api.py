"""The appointment REST API: run the visit from an integration (bearer token, the pages' roles).

- ``GET /api/v1/appointments?from=&to=&practitioner=`` (``calendar``: every role): the
  appointments of the clinic days ``from``..``to`` (inclusive, the clinic's dates).
- ``POST /api/v1/appointments/{id}/check-in``, ``/no-show``, ``/cancel`` (``calendar``).
- ``POST /api/v1/appointments/{id}/session`` (``clinical``: practitioners): the chart; 201, and
  422 before the visit opens (its start less the clinic's check-in window).
- ``GET /api/v1/courses/{id}`` (``calendar``): the course, its appointments and its
  remaining-session ledger; the performed sessions (clinical detail) only for ``clinical``.
- ``GET /api/v1/lots/{lot}/sessions`` (``clinical``): every session that used a product lot,
  with its patient (a batch recall); audited as ``lot.read``.

The changes act as the token's account through :mod:`needleplan.services.visits`, which writes
the audit event in the same transaction; the reads write ``calendar.read`` (patients listed) and
``course.read``. Appointment notes are clinical: only ``clinical`` tokens see them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from needleplan import services
from needleplan.domain._values import AwareDatetime
from needleplan.domain.assessment import Area
from needleplan.domain.records import AdverseEvent, Appointment, AppointmentStatus
from needleplan.services import visits
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.bodies import StrictJSONRoute
from needleplan.web.db_stores import audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.errors import ERROR_RESPONSES, ApiError, ErrorBody
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import require_token

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no bearer token, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "the token's role lacks the permission"},
    503: {"model": ErrorBody, "description": "the server runs without clinic records"},
}
_CHANGE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no appointment with this id"},
    409: {"model": ErrorBody, "description": "the appointment's status does not allow it"},
}

router = APIRouter(
    prefix="/api/v1",
    tags=["appointments"],
    responses={**ERROR_RESPONSES, **_AUTH_RESPONSES},
    route_class=StrictJSONRoute,
)

CalendarToken = Annotated[StaffUser, Depends(require_token(Permission.CALENDAR))]
ClinicalToken = Annotated[StaffUser, Depends(require_token(Permission.CLINICAL))]
AppointmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the appointment's id")]
CourseId = Annotated[int, Path(ge=1, le=MAX_ID, description="the course's id")]
#: The longest span one list call covers [days].
MAX_SPAN_DAYS = 92


def appointment_json(appt: Appointment, user: StaffUser) -> dict[str, Any]:
    """An appointment as JSON with its status label; the note only for clinical users."""
    data = appt.model_dump(mode="json")
    data["status_label"] = appt.status.label
    if not user.can(Permission.CLINICAL):
        data.pop("note", None)
    return data


@router.get("/appointments", summary="Appointments of some clinic days")
def list_appointments(
    user: CalendarToken,
    db: DbDep,
    clinic: ClinicDep,
    start: Annotated[
        date | None, Query(alias="from", description="first clinic day (default: today)")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="last clinic day, inclusive (default: from)")
    ] = None,
    practitioner: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only this practitioner's")
    ] = None,
) -> dict[str, Any]:
    """Every appointment (any status) starting on the clinic days ``from``..``to``, in time
    order; at most 92 days per call."""
    first = start or datetime.now(clinic.tz).date()
    last = end or first
    if last < first:
        raise ApiError.one(422, "to", last.isoformat(), "must not be before from")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise ApiError.one(
            422, "to", last.isoformat(), f"must be within {MAX_SPAN_DAYS} days of from"
        )
    if practitioner is not None and practitioner not in {
        p.id for p in services.list_practitioners(db)
    }:
        raise ApiError.one(422, "practitioner", practitioner, "is not a practitioner here")
    lo = datetime.combine(first, time(0), tzinfo=clinic.tz).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), time(0), tzinfo=clinic.tz).astimezone(UTC)
    with audited(db, user, "calendar.read") as note:
        found = [
            a
            for a in services.appointments_between(
                db, lo, hi, practitioner_id=practitioner, statuses=tuple(AppointmentStatus)
            )
            if lo <= a.start < hi
        ]
        scope = f"api {first.isoformat()}..{last.isoformat()} practitioner={practitioner or 'all'}"
        note.detail = services.audit_patients_detail(scope, {a.patient_id for a in found})
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": clinic.timezone,
        "appointments": [appointment_json(a, user) for a in found],
    }


@router.post(
    "/appointments/{appointment_id}/check-in", summary="The patient arrived", responses=_CHANGE
)
def check_in(
    user: CalendarToken, db: DbDep, clinic: ClinicDep, appointment_id: AppointmentId
) -> dict[str, Any]:
    """Booked -> arrived; 422 (field ``start``) before the clinic's check-in window opens."""
    appt = visits.check_in(db, acting_account(db, user), appointment_id, clinic)
    return appointment_json(appt, user)


@router.post(
    "/appointments/{appointment_id}/no-show", summary="The patient did not come", responses=_CHANGE
)
def no_show(user: CalendarToken, db: DbDep, appointment_id: AppointmentId) -> dict[str, Any]:
    """Booked -> missed (a "no-show"); 422 (field ``start``) before the visit has started. A
    course session stays owed and can be rebooked."""
    appt = visits.no_show(db, acting_account(db, user), appointment_id)
    return appointment_json(appt, user)


class CancelIn(BaseModel):
    """Why the visit is cancelled (required)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=visits.REASON_MAX)


@router.post(
    "/appointments/{appointment_id}/cancel", summary="Cancel with a reason", responses=_CHANGE
)
def cancel(
    user: CalendarToken,
    db: DbDep,
    clinic: ClinicDep,
    appointment_id: AppointmentId,
    body: CancelIn,
) -> dict[str, Any]:
    """Booked or arrived -> cancelled; ``cancelled_late`` says whether it came inside the
    clinic's notice period. The time becomes free; a course session stays owed."""
    appt = visits.cancel(db, acting_account(db, user), appointment_id, body.reason, clinic)
    return appointment_json(appt, user)


class ChartIn(BaseModel):
    """The chart of the session performed at the visit."""

    model_config = ConfigDict(extra="forbid")

    areas: list[Area] = Field(min_length=1)
    needle_depth_mm: dict[Area, float] = Field(description="needle depth [mm] for each area")
    device: str = Field(min_length=1, max_length=100)
    passes: int = Field(ge=1, le=20)
    product: str = Field(default="", max_length=200)
    lot: str = Field(default="", max_length=100)
    notes: str = Field(default="", max_length=4000)
    adverse_events: list[AdverseEvent] = Field(default_factory=list, max_length=50)
    performed_at: AwareDatetime | None = Field(default=None, description="default: now")
    practitioner_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="default: the token's practitioner"
    )


@router.post(
    "/appointments/{appointment_id}/session",
    summary="Chart the session performed at the visit",
    status_code=201,
    responses={
        **_CHANGE,
        409: {
            "model": ErrorBody,
            "description": "the appointment's status does not allow it, or she has no current "
            "signed treatment consent",
        },
        422: {"model": ErrorBody, "description": "bad chart, or before the visit opens"},
    },
)
def chart(
    user: ClinicalToken,
    db: DbDep,
    clinic: ClinicDep,
    appointment_id: AppointmentId,
    body: ChartIn,
) -> JSONResponse:
    """Booked or arrived -> performed. The course ledger loses one session; the last session
    completes the course and opens the maintenance recall from her forecast."""
    data = body.model_dump(mode="json", exclude_none=True)
    session = visits.chart(db, acting_account(db, user), appointment_id, data, clinic)
    course = services.course_file(db, session.course_id).course if session.course_id else None
    payload: dict[str, Any] = {"session": session.model_dump(mode="json")}
    if course is not None:
        payload["course"] = {
            "id": course.id,
            "status": course.status.value,
            "remaining_sessions": course.remaining_sessions,
        }
    location = f"/api/v1/courses/{course.id}" if course is not None else ""
    return JSONResponse(
        payload, status_code=201, headers={"Location": location} if location else None
    )


@router.get(
    "/courses/{course_id}",
    summary="A course with its ledger",
    responses={404: {"model": ErrorBody, "description": "no course with this id"}},
)
def get_course(user: CalendarToken, db: DbDep, course_id: CourseId) -> dict[str, Any]:
    """The course (protocol snapshot, status, sessions planned and remaining), its appointments
    and the remaining-session ledger; performed sessions for ``clinical`` tokens only."""
    with audited(db, user, "course.read", None, f"api course {course_id}") as note:
        found = services.course_file(db, course_id)
        note.patient_id = found.course.patient_id
    data: dict[str, Any] = {
        "course": found.course.model_dump(mode="json"),
        "appointments": [appointment_json(a, user) for a in found.appointments],
        "ledger": [e.model_dump(mode="json") for e in found.ledger],
    }
    if user.can(Permission.CLINICAL):
        data["sessions"] = [s.model_dump(mode="json") for s in found.sessions]
    return data


@router.get("/lots/{lot}/sessions", summary="Sessions that used a product lot")
def lot_sessions(
    user: ClinicalToken,
    db: DbDep,
    lot: Annotated[str, Path(min_length=1, max_length=100, description="the lot number")],
) -> dict[str, Any]:
    """Every performed session whose product lot is ``lot`` (exact, case-insensitive), newest
    first, with the patient's id, record number, name and contact details: who to call back
    when a batch is recalled."""
    found = visits.lot_sessions(db, acting_account(db, user), lot)
    return {
        "lot": lot.strip(),
        "sessions": [
            {
                "session": s.model_dump(mode="json"),
                "patient": {
                    "id": p.id,
                    "mrn": p.mrn,
                    "name": p.display_name,
                    "phone": p.phone,
                    "email": p.email,
                },
            }
            for s, p in found
        ],
    }

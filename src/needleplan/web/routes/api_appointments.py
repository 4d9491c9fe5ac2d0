"""``POST /api/v1/appointments``: book a single visit from an integration.

One appointment (a consultation, a session of an open course, a maintenance visit or a review)
for a stored patient, as the web's booking form books one: the time must lie in the clinic's
opening hours for that practitioner and be free (the clinic calendar in force), it may not start
in the past (the clinic's clock), and the database's slot claims refuse a double booking that
races past the check (409). A bearer token with the ``calendar`` permission (every role) acts as
its account; the booking is audited (``appointment.book``) in its transaction. An
``Idempotency-Key`` header (8-200 letters, digits or ``._:-``) replays the first answer of the
same key for 24 h (``Idempotent-Replayed: true``), so a retried request books once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from needleplan import services
from needleplan.domain._values import AwareDatetime
from needleplan.domain.records import AppointmentKind
from needleplan.exceptions import InputError, SchedulingError
from needleplan.scheduling.calendar import BusyIndex, slot_problem
from needleplan.services.idempotency import once, parse_key
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.bodies import StrictJSONRoute
from needleplan.web.db_stores import audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.errors import ERROR_RESPONSES, ErrorBody
from needleplan.web.routes.appointments_api import appointment_json
from needleplan.web.routes.booking import practitioner_names
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.security import require_token

router = APIRouter(
    prefix="/api/v1",
    tags=["appointments"],
    responses={
        **ERROR_RESPONSES,
        401: {"model": ErrorBody, "description": "no bearer token, or an unknown or revoked one"},
        403: {"model": ErrorBody, "description": "the token's role lacks the permission"},
        503: {"model": ErrorBody, "description": "the server runs without clinic records"},
    },
    route_class=StrictJSONRoute,
)

CalendarToken = Annotated[StaffUser, Depends(require_token(Permission.CALENDAR))]
#: The longest visit one request books [minutes].
MAX_MINUTES = 480


class AppointmentRequest(BaseModel):
    """One visit to book."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: int = Field(ge=1, le=MAX_ID, description="the patient's id")
    kind: AppointmentKind = Field(
        description="consultation, treatment (a session of course_id), maintenance or review"
    )
    start: AwareDatetime = Field(description="start, with its UTC offset")
    practitioner_id: int = Field(ge=1, le=MAX_ID, description="who sees the patient")
    minutes: int | None = Field(
        default=None,
        ge=5,
        le=MAX_MINUTES,
        description="length [min] (default: the clinic's session length for her areas)",
    )
    course_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the open course a treatment session adds to"
    )
    note: str = Field(default="", max_length=500, description="a note for the clinic")


def _book(db: Any, clinic: Any, user: StaffUser, body: AppointmentRequest) -> dict[str, Any]:
    name = practitioner_names(db).get(body.practitioner_id)
    if name is None or name not in {p.name for p in clinic.practitioners}:
        raise InputError.one(
            "practitioner_id", body.practitioner_id, "is not a practitioner of this clinic"
        )
    if body.kind is AppointmentKind.TREATMENT and body.course_id is None:
        raise InputError.one("course_id", None, "a treatment session belongs to a course")
    if body.kind is not AppointmentKind.TREATMENT and body.course_id is not None:
        raise InputError.one(
            "course_id", body.course_id, f"a {body.kind.value} visit belongs to no course"
        )
    patient = services.get_patient(db, body.patient_id)
    history = services.assessment_history(db, patient.id)
    areas = list(history[0].assessment.areas) if history else []
    minutes = body.minutes or clinic.session_duration_minutes(areas)
    start = body.start
    end = start + timedelta(minutes=minutes)
    busy = services.busy_times(db, clinic, start - timedelta(days=1), end + timedelta(days=1))
    problem = slot_problem(
        clinic, clinic.practitioner(name), start.astimezone(clinic.tz), minutes,
        BusyIndex.build(busy),
    )  # fmt: skip
    if problem is not None:
        local = start.astimezone(clinic.tz)
        raise SchedulingError(f"no {body.kind.value} visit at {local:%Y-%m-%d %H:%M}: {problem}")
    with audited(db, user, "appointment.book", patient.id) as note:
        ids = services.sync_practitioners(db, clinic)
        appt = services.book_appointment(
            db,
            patient.id,
            (start, end, ids[name]),
            course_id=body.course_id,
            kind=body.kind,
            note=body.note,
        )
        note.detail = f"api {body.kind.value} appointment {appt.id}"
    return appointment_json(appt, user)


@router.post(
    "/appointments",
    status_code=201,
    summary="Book a single visit",
    responses={
        404: {"model": ErrorBody, "description": "no such patient or course"},
        409: {
            "model": ErrorBody,
            "description": (
                "the time is outside the practitioner's hours or taken, the course is closed, "
                "or a request with the same Idempotency-Key is still being answered"
            ),
        },
    },
)
def book_appointment(
    user: CalendarToken,
    db: DbDep,
    clinic: ClinicDep,
    body: AppointmentRequest,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=200, description="replays the first answer"),
    ] = None,
) -> JSONResponse:
    """Book one consultation, course session, maintenance visit or review (201, the appointment).

    Refused (422) when it starts in the past or names no practitioner of this clinic; 409 when
    the practitioner is not working then or the time is taken.
    """
    key = parse_key(idempotency_key)
    answer = once(
        db, f"api.appointment:{user.id}", key, lambda: (201, _book(db, clinic, user, body))
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


__all__ = ["AppointmentRequest", "router"]

"""Find a slot and book a single visit in one click.

* ``GET  /app/calendar/find?kind=&practitioner=&not_before=&patient=`` — the next free slots
  for a consultation, session, maintenance visit or review, with one practitioner or anyone,
  from a day on (:func:`needleplan.services.clinic_calendar_slots.find_free_slots`, the
  calendar in force and every booking).
* ``POST /app/calendar/book`` — book the slot clicked for the patient
  (:func:`~needleplan.services.clinic_calendar_slots.book_visit`: audited, guarded by the slot
  claims, refused in the past); a slot taken meanwhile shows the search again with a 409.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import Patient
from needleplan.exceptions import ConflictError, InputError, NotFoundError
from needleplan.scheduling import ClinicConfig
from needleplan.services.clinic_calendar_slots import (
    VISIT_KINDS,
    FreeSlot,
    book_visit,
    find_free_slots,
    parse_slot_key,
)
from needleplan.storage.database import Database
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import CalendarDep, local, practitioner_names
from needleplan.web.routes.calendar_common import calendar_url
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID, CsrfField
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import check_csrf

router = APIRouter(include_in_schema=False)


def _not_before(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError.one("not_before", value, "must be a date YYYY-MM-DD") from None


def _practitioner_name(db: Database, value: str) -> str | None:
    if value in ("", "any"):
        return None
    try:
        pid = int(value)
    except ValueError:
        raise InputError.one("practitioner", value, "must be a practitioner or any") from None
    names = practitioner_names(db)
    if pid not in names:
        raise InputError.one("practitioner", pid, "is not a practitioner of this clinic")
    return names[pid]


def free_slots_for(
    db: Database, clinic: ClinicConfig, kind: str, practitioner: str, not_before: str, limit: int
) -> list[FreeSlot]:
    """The search as the forms ask it (practitioner id or ``any``; ``not_before`` text)."""
    if kind not in VISIT_KINDS:
        raise InputError.one("kind", kind, "must be one of " + ", ".join(VISIT_KINDS))
    return find_free_slots(
        db,
        clinic,
        kind,
        practitioner=_practitioner_name(db, practitioner),
        not_before=_not_before(not_before),
        limit=limit,
    )


def _page(
    request: Request,
    db: Database,
    clinic: ClinicConfig,
    *,
    kind: str,
    practitioner: str,
    not_before: str,
    patient_id: int | None,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    patient: Patient | None = None
    if patient_id is not None:
        try:
            patient = services.get_patient(db, patient_id)
        except NotFoundError:
            patient, error = None, error or f"There is no patient number {patient_id}."
    slots = free_slots_for(db, clinic, kind, practitioner, not_before, 12)
    names = practitioner_names(db)
    return render(
        request,
        "app/calendar_find.html",
        status_code=status_code,
        kinds=list(VISIT_KINDS),
        kind=kind,
        practitioner=practitioner,
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        not_before=not_before,
        today=datetime.now(clinic.tz).date().isoformat(),
        patient=patient,
        patient_id=patient_id or "",
        slots=[(s, local(s.start, clinic), local(s.end, clinic)) for s in slots],
        error=error,
        zone=clinic.timezone,
    )


@router.get("/app/calendar/find", response_class=HTMLResponse)
def find_page(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    kind: Annotated[str, Query(max_length=20)] = "consultation",
    practitioner: Annotated[str, Query(max_length=20)] = "any",
    not_before: Annotated[str, Query(max_length=20)] = "",
    patient: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    request.state.user = user
    return _page(
        request,
        db,
        clinic,
        kind=kind,
        practitioner=practitioner,
        not_before=not_before,
        patient_id=patient,
    )


@router.post("/app/calendar/book", response_class=HTMLResponse)
def book_slot(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    patient_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    kind: Annotated[str, Form(max_length=20)],
    slot: Annotated[str, Form(max_length=80)],
    practitioner: Annotated[str, Form(max_length=20)] = "any",
    not_before: Annotated[str, Form(max_length=20)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Book the clicked slot for the patient; the calendar day of the visit is shown after."""
    check_csrf(request, csrf_token)
    request.state.user = user
    try:
        practitioner_id, start = parse_slot_key(slot, clinic)
        appt = book_visit(
            db, acting_account(db, user), clinic, patient_id, kind, start, practitioner_id
        )
    except (InputError, ConflictError, NotFoundError) as exc:
        if isinstance(exc, InputError):
            text, code = "; ".join(f"{p.field}: {p.rule}" for p in exc.problems), 422
        elif isinstance(exc, NotFoundError):
            text, code = str(exc), 404
        else:
            text = "Nothing was booked: that time was taken meanwhile. Choose another free slot."
            code = 409
        return _page(
            request,
            db,
            clinic,
            kind=kind if kind in VISIT_KINDS else "consultation",
            practitioner=practitioner,
            not_before=not_before,
            patient_id=patient_id,
            status_code=code,
            error=text,
        )
    target = calendar_url(
        "day", local(appt.start, clinic).date(), None, done="booked", booked=appt.id
    )
    return RedirectResponse(target, status_code=303)

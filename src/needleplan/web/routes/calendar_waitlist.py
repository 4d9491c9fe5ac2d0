"""The waitlist pages, and the offer of a freed slot to the patients waiting for one.

* ``GET  /app/waitlist`` — the open entries (who asked first first) and the form to add one.
* ``POST /app/waitlist`` — add: patient number, visit kind, practitioner or anyone, not before.
* ``POST /app/waitlist/{id}/remove`` — take an entry off the list.

When a cancellation or a move frees a slot, the calendar page is shown with
``freed=<practitioner id>@<start>&freed_kind=<kind>``: :func:`freed_offer` lists the open
entries that slot suits, each with a button that books it for her (``POST /app/calendar/book``,
:mod:`.calendar_find`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import Patient
from needleplan.exceptions import InputError, NotFoundError
from needleplan.scheduling import ClinicConfig
from needleplan.services import waitlist
from needleplan.services.clinic_calendar_slots import VISIT_KINDS, parse_slot_key
from needleplan.storage.database import Database
from needleplan.web.auth import StaffUser
from needleplan.web.db_stores import audit
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import CalendarDep, local, practitioner_names
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID, CsrfField
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import check_csrf

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class FreedOffer:
    """A freed slot and the waiting patients it suits."""

    key: str
    kind: str
    start: datetime
    practitioner: str
    patients: list[Patient]


def freed_offer(
    db: Database,
    clinic: ClinicConfig,
    user: StaffUser,
    freed: str | None,
    freed_kind: str | None,
) -> FreedOffer | None:
    """The offer for a freed slot (``None`` without one); a read of the patients listed is
    audited."""
    if not freed or not freed_kind or freed_kind not in VISIT_KINDS:
        return None
    practitioner_id, start = parse_slot_key(freed, clinic)
    names = practitioner_names(db)
    if practitioner_id not in names:
        return None
    when = local(start, clinic)
    matches = waitlist.waitlist_matches(db, freed_kind, practitioner_id, start, when.date())
    patients = []
    for entry in matches:
        try:
            patients.append(services.get_patient(db, entry.patient_id))
        except NotFoundError:
            continue
    if patients:
        audit(
            db,
            user,
            "calendar.read",
            None,
            services.audit_patients_detail("freed slot", {p.id for p in patients}),
        )
    return FreedOffer(freed, freed_kind, when, names[practitioner_id], patients)


def _parse_day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError.one(field, value, "must be a date YYYY-MM-DD") from None


def _parse_practitioner(db: Database, value: str) -> int | None:
    if value in ("", "any"):
        return None
    try:
        pid = int(value)
    except ValueError:
        raise InputError.one("practitioner", value, "must be a practitioner or any") from None
    if pid not in practitioner_names(db):
        raise InputError.one("practitioner", pid, "is not a practitioner of this clinic")
    return pid


@router.get("/app/waitlist", response_class=HTMLResponse)
def waitlist_page(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    added: int | None = None,
    removed: int | None = None,
) -> HTMLResponse:
    request.state.user = user
    rows = waitlist.open_waitlist(db, acting_account(db, user))
    names = practitioner_names(db)
    return render(
        request,
        "app/waitlist.html",
        rows=rows,
        names=names,
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        kinds=list(VISIT_KINDS),
        added=added,
        removed=removed,
        patient=request.query_params.get("patient", ""),
        tz=clinic.tz,
    )


@router.post("/app/waitlist")
def waitlist_add(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    patient_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    kind: Annotated[str, Form(max_length=20)],
    practitioner: Annotated[str, Form(max_length=20)] = "any",
    not_before: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=400)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    entry = waitlist.add_to_waitlist(
        db,
        acting_account(db, user),
        patient_id,
        kind,
        practitioner_id=_parse_practitioner(db, practitioner),
        not_before=_parse_day(not_before, "not_before"),
        note=note,
    )
    return RedirectResponse(f"/app/waitlist?added={entry.id}", status_code=303)


@router.post("/app/waitlist/{entry_id}/remove")
def waitlist_remove(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    entry_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    entry = waitlist.remove_from_waitlist(db, acting_account(db, user), entry_id)
    return RedirectResponse(f"/app/waitlist?removed={entry.id}", status_code=303)

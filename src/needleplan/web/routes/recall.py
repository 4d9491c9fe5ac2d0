"""The recall worklist: who is due for maintenance, contact attempts, opt-out.

* ``GET  /app/recall?show=month|overdue|open|closed`` — open entries due by the end of this month
  (default), overdue ones, every open one, or the closed ones (booked, opted out, closed). Due
  dates come from the recall entries, which the course completion sets from the patient's own
  forecast (:func:`needleplan.services.forecast_maintenance_due`).
* ``POST /app/recall/{id}/contact`` — log one attempt (channel, outcome, note).
* ``POST /app/recall/{id}/opt-out`` and ``.../close``.

An entry closes by itself (status "booked") when the patient books any appointment: the booking
service does it, and the closed list shows it.

Contact attempts and closing times are shown on the clinic's clock (its zone named once). Every
view that lists patients writes one ``recall.read`` audit event without a patient id whose detail
lists the patients shown (``show=month patients=3,17``): the audit search by patient finds it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import (
    ContactChannel,
    ContactOutcome,
    Patient,
    RecallEntry,
    RecallStatus,
)
from needleplan.exceptions import InputError
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import local_text, patient_label, zone_names
from needleplan.web.routes.pages import render
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

RecallDep = Annotated[StaffUser, Depends(require_permission(Permission.RECALL))]

FILTERS = {
    "month": "due this month",
    "overdue": "overdue",
    "open": "all open",
    "closed": "closed",
}
STATUS_TEXT = {
    RecallStatus.OPEN: "open",
    RecallStatus.BOOKED: "booked — closed automatically when the patient booked",
    RecallStatus.OPTED_OUT: "opted out",
    RecallStatus.CLOSED: "closed by staff",
}


@dataclass
class Row:
    entry: RecallEntry
    patient: Patient
    name: str
    days_overdue: int
    status_text: str


def _rows(db: Database, show: str, today: date) -> list[Row]:
    if show == "closed":
        entries = services.recall_list(
            db, statuses=(RecallStatus.BOOKED, RecallStatus.OPTED_OUT, RecallStatus.CLOSED)
        )
        entries.sort(key=lambda e: e.closed_at or e.created_at, reverse=True)
    else:
        due_by = {
            "month": today.replace(day=calendar.monthrange(today.year, today.month)[1]),
            "overdue": today - timedelta(days=1),
            "open": None,
        }[show]
        entries = services.recall_list(db, due_by=due_by)
    patients: dict[int, Patient] = {}
    rows = []
    for e in entries:
        if e.patient_id not in patients:
            patients[e.patient_id] = services.get_patient(db, e.patient_id)
        p = patients[e.patient_id]
        rows.append(Row(e, p, patient_label(p), (today - e.due_date).days, STATUS_TEXT[e.status]))
    return rows


@router.get("/app/recall", response_class=HTMLResponse)
def recall_page(
    request: Request,
    user: RecallDep,
    db: DbDep,
    clinic: ClinicDep,
    show: str = "month",
    done: str | None = None,
) -> HTMLResponse:
    request.state.user = user
    if show not in FILTERS:
        raise InputError.one("show", show, "must be one of " + ", ".join(FILTERS))
    today = datetime.now(clinic.tz).date()
    rows = _rows(db, show, today)
    if rows:
        detail = services.audit_patients_detail(f"show={show}", (r.patient.id for r in rows))
        audit(db, user, "recall.read", None, detail)
    return render(
        request,
        "app/recall.html",
        rows=rows,
        at=lambda value: local_text(value, clinic),
        zone=zone_names(clinic, today),
        show=show,
        filters=FILTERS,
        today=today,
        channels=[c.value for c in ContactChannel],
        outcomes=[o.value for o in ContactOutcome],
        done=done,
    )


def _back(show: str, done: str) -> RedirectResponse:
    show = show if show in FILTERS else "month"
    return RedirectResponse("/app/recall?" + urlencode({"show": show, "done": done}), 303)


@router.post("/app/recall/{recall_id}/contact")
def log_contact(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    channel: Annotated[str, Form(max_length=20)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    show: Annotated[str, Form(max_length=20)] = "month",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Log one attempt to reach the patient (an InputError names a bad channel or outcome)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    user_id = services.accounts.stored_account_id(db, user)
    with audited(db, user, "recall.contact") as audit_note:
        attempt = services.record_contact(
            db, recall_id, channel=channel, outcome=outcome, note=note, by_user_id=user_id
        )
        audit_note.patient_id = services.recall_entry(db, recall_id).patient_id
        audit_note.detail = f"recall {recall_id} attempt {attempt.id}"
    return _back(show, "contact")


def _close(
    request: Request, db: Database, user: StaffUser, recall_id: int, how: str, show: str
) -> Response:
    request.state.user = user
    with audited(db, user, f"recall.{how}", None, f"recall {recall_id}") as note:
        if how == "opt-out":
            entry = services.opt_out_recall(db, recall_id)
        else:
            entry = services.close_recall(db, recall_id)
        note.patient_id = entry.patient_id
    return _back(show, how)


@router.post("/app/recall/{recall_id}/opt-out")
def opt_out(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    show: Annotated[str, Form(max_length=20)] = "month",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The patient asked not to be contacted about maintenance."""
    check_csrf(request, csrf_token)
    return _close(request, db, user, recall_id, "opt-out", show)


@router.post("/app/recall/{recall_id}/close")
def close(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    show: Annotated[str, Form(max_length=20)] = "month",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Close the entry for another reason (moved away, treated elsewhere...)."""
    check_csrf(request, csrf_token)
    return _close(request, db, user, recall_id, "close", show)

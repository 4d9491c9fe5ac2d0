"""The recall worklist: who is due for maintenance, contact attempts, closing, booking.

* ``GET  /app/recall?show=&q=&sort=&page=`` — one page (:data:`~needleplan.services.recall.
  PER_PAGE` rows) of a tab: ``month`` (open entries due from the 1st to the last day of this
  month, the default), ``overdue`` (open, due before today), ``open`` (every open entry),
  ``closed`` (booked, opted out, closed); ``q`` searches as the patient list does; ``sort`` is
  one of :data:`~needleplan.services.recall.ORDERS`. Due dates come from the recall entries,
  which the course completion sets from the patient's own forecast.
* ``POST /app/recall/{id}/contact`` — log one attempt (channel, outcome, note).
* ``POST /app/recall/{id}/opt-out`` and ``.../close`` (close with a reason).
* ``POST /app/recall/{id}/book`` — book her maintenance visit in one of the next free slots the
  row offers (:func:`needleplan.services.clinic_calendar_slots.book_visit`); the booking closes
  the entry ("booked").

Every form carries the page it was sent from (``back``: tab, search, order, page) and an anchor;
the answer redirects there, so staff keep their place after each action. An entry also closes
by itself (status "booked") when the patient books any appointment.

Contact attempts and closing times are shown on the clinic's clock (its zone named once). Every
view that lists patients writes one ``recall.read`` audit event without a patient id whose detail
lists the patients shown (``show=month patients=3,17``): the audit search by patient finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.records import (
    ContactChannel,
    ContactOutcome,
    Patient,
    RecallEntry,
    RecallStatus,
)
from needleplan.exceptions import ConflictError, InputError
from needleplan.services.clinic_calendar_slots import book_visit, find_free_slots, parse_slot_key
from needleplan.services.recall import CLOSE_REASONS, ORDERS, TABS, recall_worklist
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import local, local_text, patient_label, zone_names
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

RecallDep = Annotated[StaffUser, Depends(require_permission(Permission.RECALL))]

FILTERS = TABS
STATUS_TEXT = {
    RecallStatus.OPEN: "open",
    RecallStatus.BOOKED: "booked — closed automatically when the patient booked",
    RecallStatus.OPTED_OUT: "opted out",
    RecallStatus.CLOSED: "closed by staff",
}
#: How many free slots each row offers for booking the maintenance visit.
OFFERED_SLOTS = 4
BackField = Annotated[str, Form(max_length=400)]
AnchorField = Annotated[str, Form(max_length=40)]


@dataclass
class Row:
    entry: RecallEntry
    patient: Patient
    name: str
    days_overdue: int
    status_text: str


def back_query(text: str) -> dict[str, str]:
    """The worklist place a form came from (tab, search, order, page), only what is valid."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(text.lstrip("?"), keep_blank_values=False)[:10]:
        if key == "show" and value in TABS:
            out["show"] = value
        elif key == "sort" and value in ORDERS:
            out["sort"] = value
        elif key == "page" and value.isascii() and value.isdigit() and len(value) <= 6:
            out["page"] = str(max(1, int(value)))
        elif key == "q" and len(value) <= 100:
            out["q"] = value
    return out


def _back(back: str, show: str, done: str, anchor: str) -> RedirectResponse:
    place = back_query(back)
    if "show" not in place and show in TABS:
        place = {"show": show, **place}
    place["done"] = done
    target = "recall-" + anchor if anchor.isascii() and anchor.isdigit() else "recall-table"
    return RedirectResponse("/app/recall?" + urlencode(place) + "#" + target, 303)


def _slots(db: Database, clinic: ClinicDep) -> list[tuple[str, str]]:
    """The next free maintenance slots: (form key, label)."""
    found = find_free_slots(db, clinic, "maintenance", limit=OFFERED_SLOTS)
    return [(s.key, f"{local(s.start, clinic):%a %d %b %H:%M} · {s.practitioner}") for s in found]


@router.get("/app/recall", response_class=HTMLResponse)
def recall_page(
    request: Request,
    user: RecallDep,
    db: DbDep,
    clinic: ClinicDep,
    show: Annotated[str, Query(max_length=20)] = "month",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    request.state.user = user
    if show not in TABS:
        raise InputError.one("show", show, "must be one of " + ", ".join(TABS))
    today = datetime.now(clinic.tz).date()
    found = recall_worklist(db, today=today, tab=show, search=q, order=sort, page=page)
    rows = [
        Row(
            e,
            found.patients[e.patient_id],
            patient_label(found.patients[e.patient_id]),
            (today - e.due_date).days,
            STATUS_TEXT[e.status],
        )
        for e in found.entries
    ]
    if rows:
        detail = services.audit_patients_detail(f"show={show}", (r.patient.id for r in rows))
        audit(db, user, "recall.read", None, detail)
    place = {"show": show, "q": found.search, "sort": sort, "page": str(found.page)}
    here = urlencode({k: v for k, v in place.items() if v})
    offered = _slots(db, clinic) if show != "closed" and rows else []

    def link(**change: object) -> str:
        merged = {**place, **{k: str(v) for k, v in change.items()}}
        return "/app/recall?" + urlencode({k: v for k, v in merged.items() if v})

    return render(
        request,
        "app/recall.html",
        rows=rows,
        found=found,
        at=lambda value: local_text(value, clinic),
        zone=zone_names(clinic, today),
        show=show,
        filters=TABS,
        orders=ORDERS,
        sort=found.order,
        q=found.search,
        here=here,
        link=link,
        today=today,
        channels=[c.value for c in ContactChannel],
        outcomes=[o.value for o in ContactOutcome],
        reasons=CLOSE_REASONS,
        offered=offered,
        done=done,
    )


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
    back: BackField = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Log one attempt to reach the patient (an InputError names a bad channel or outcome);
    back to the same page, at her row."""
    check_csrf(request, csrf_token)
    request.state.user = user
    user_id = services.accounts.stored_account_id(db, user)
    with audited(db, user, "recall.contact") as audit_note:
        attempt = services.record_contact(
            db, recall_id, channel=channel, outcome=outcome, note=note, by_user_id=user_id
        )
        audit_note.patient_id = services.recall_entry(db, recall_id).patient_id
        audit_note.detail = f"recall {recall_id} attempt {attempt.id}"
    return _back(back, show, "contact", str(recall_id))


def _close(
    request: Request,
    db: Database,
    user: StaffUser,
    recall_id: int,
    how: str,
    reason: str,
) -> None:
    request.state.user = user
    with audited(db, user, f"recall.{how}", None, f"recall {recall_id}") as note:
        if how == "opt-out":
            entry = services.opt_out_recall(db, recall_id, reason)
        else:
            entry = services.close_recall(db, recall_id, reason)
        note.patient_id = entry.patient_id


@router.post("/app/recall/{recall_id}/opt-out")
def opt_out(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    show: Annotated[str, Form(max_length=20)] = "month",
    back: BackField = "",
    next_row: AnchorField = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The patient asked not to be contacted about maintenance."""
    check_csrf(request, csrf_token)
    _close(request, db, user, recall_id, "opt-out", "asked not to be contacted")
    return _back(back, show, "opt-out", next_row)


@router.post("/app/recall/{recall_id}/close")
def close(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    reason: Annotated[str, Form(max_length=200)] = "",
    other: Annotated[str, Form(max_length=300)] = "",
    show: Annotated[str, Form(max_length=20)] = "month",
    back: BackField = "",
    next_row: AnchorField = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Close the entry for a reason (moved away, treated elsewhere... or the staff's words)."""
    check_csrf(request, csrf_token)
    text = other.strip() if reason == "other" else reason.strip()
    if not text:
        raise InputError.one(
            "reason", reason, "choose why the entry is closed (or write it under other)"
        )
    _close(request, db, user, recall_id, "close", text)
    return _back(back, show, "close", next_row)


@router.post("/app/recall/{recall_id}/book")
def book(
    request: Request,
    recall_id: int,
    user: RecallDep,
    db: DbDep,
    clinic: ClinicDep,
    slot: Annotated[str, Form(max_length=80)] = "",
    show: Annotated[str, Form(max_length=20)] = "month",
    back: BackField = "",
    next_row: AnchorField = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Book her maintenance visit in the slot chosen on the row; the booking closes the entry.
    A slot taken meanwhile goes back to the row with a notice and fresh slots."""
    check_csrf(request, csrf_token)
    request.state.user = user
    entry = services.recall_entry(db, recall_id)
    if not entry.is_open:
        raise InputError.one("recall", recall_id, f"is {entry.status.value}, not open")
    practitioner_id, start = parse_slot_key(slot, clinic)
    try:
        book_visit(
            db,
            acting_account(db, user),
            clinic,
            entry.patient_id,
            "maintenance",
            start,
            practitioner_id,
            note=f"maintenance recall {recall_id}",
        )
    except ConflictError:
        return _back(back, show, "taken", str(recall_id))
    return _back(back, show, "booked", next_row)

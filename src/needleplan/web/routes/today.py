""" "Today": each role's home page is its day (``GET /app/``).

On a server with clinic records the page shows, for the signed-in role:

* today's appointments (everyone's, soonest first) with their state: booked, checked in,
  charted, no-show; the patient's name links to her record, phone and e-mail are links, and the
  visit's buttons (check in, chart, no-show, cancel) are the calendar's;
* recalls due today (and how many are overdue), for roles with the recall permission;
* new contact requests (the last :data:`NEW_LEAD_DAYS` days, not yet handled or converted),
  for roles that see contacts;
* patients who asked through their portal link to be called back, with a "called" button
  (``POST /app/callbacks/{id}/done``, audited ``portal.callback.done``);
* charts missing (past visits neither charted, cancelled nor a no-show), for practitioners and
  admins (:func:`needleplan.services.visits.chart_missing`);
* the next free slots for a session and a consultation (find a slot), and, for admins, how many
  future bookings the calendar in force does not allow.

Every list of patients shown is audited as one ``calendar.read`` event listing them. A server
without records shows the tiles only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.domain.portal import CallbackRequest
from needleplan.domain.records import AppointmentStatus, Patient, RecallStatus
from needleplan.exceptions import NeedleplanError, NotFoundError
from needleplan.services import clinic_calendar, portal, visits
from needleplan.services.clinic_calendar_slots import find_free_slots
from needleplan.services.online_booking import booked_online
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit
from needleplan.web.deps import get_clinic
from needleplan.web.leads import LeadStore
from needleplan.web.routes.booking import local, patient_label, practitioner_names
from needleplan.web.routes.calendar_common import Entry, Lookup, session_text
from needleplan.web.routes.pages import ContactsDep, StaffDep, render
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)

#: A contact request is "new" on the home page for this many days.
NEW_LEAD_DAYS = 7
TODAY_STATUSES = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.PERFORMED,
    AppointmentStatus.MISSED,
)


def _day(request: Request, db: Database, user: StaffUser) -> dict[str, Any]:
    clinic = get_clinic(request)
    now = datetime.now(UTC)
    today = now.astimezone(clinic.tz).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=clinic.tz)
    names = practitioner_names(db)
    # A practitioner linked to her account sees her own column unless she asks for everyone's.
    mine = user.practitioner_id if user.practitioner_id in names else None
    if request.query_params.get("everyone") == "1":
        mine = None
    lookup = Lookup(db)
    clinical = user.can(Permission.CLINICAL)
    shown: set[int] = set()
    entries: list[Entry] = []
    if user.can(Permission.CALENDAR):
        todays = services.appointments_between(
            db,
            start.astimezone(UTC),
            (start + timedelta(days=1)).astimezone(UTC),
            statuses=TODAY_STATUSES,
            practitioner_id=mine,
        )
        online = booked_online(db, [a.id for a in todays])
        for a in todays:
            person = lookup.patient(a.patient_id)
            entries.append(
                Entry(
                    appointment=a,
                    start=local(a.start, clinic),
                    end=local(a.end, clinic),
                    patient=patient_label(person),
                    practitioner=names.get(a.practitioner_id, str(a.practitioner_id)),
                    session_text=session_text(a, lookup),
                    note=a.note if clinical else "",
                    phone=person.phone or "",
                    email=person.email or "",
                    online=a.id in online,
                )
            )
            shown.add(a.patient_id)
    recalls_today: list[tuple[object, str]] = []
    overdue = 0
    if user.can(Permission.RECALL):
        for r in services.recall_list(db, due_by=today, statuses=(RecallStatus.OPEN,)):
            if r.due_date == today:
                recalls_today.append((r, patient_label(lookup.patient(r.patient_id))))
                shown.add(r.patient_id)
            else:
                overdue += 1
    new_leads = []
    callbacks: list[tuple[CallbackRequest, Patient]] = []
    if user.can(Permission.CONTACTS):
        store: LeadStore = request.app.state.lead_store
        since = now - timedelta(days=NEW_LEAD_DAYS)
        new_leads = [
            lead
            for lead in store.list_leads()
            if lead.consented_at >= since and lead.status == "new"  # not yet handled
        ]
        new_leads.reverse()
        for request_ in portal.callbacks_open(db):
            callbacks.append((request_, lookup.patient(request_.patient_id)))
            shown.add(request_.patient_id)
    missing = []
    if user.role.value in ("practitioner", "admin"):
        missing = [
            (a, patient_label(lookup.patient(a.patient_id)), local(a.start, clinic))
            for a in visits.chart_missing(db, acting_account(db, user))
        ]
    free = {}
    own = names.get(mine, "") if mine is not None else ""
    known = {p.name for p in clinic.practitioners}
    if user.can(Permission.CALENDAR):
        for kind in ("session", "consultation"):
            free[kind] = [
                (s, local(s.start, clinic), local(s.end, clinic))
                for s in find_free_slots(
                    db,
                    clinic,
                    kind,
                    limit=4,
                    per_day=2,
                    practitioner=own if own in known else None,
                )
            ]
    conflicts = None
    if user.can(Permission.CONFIG):
        conflicts = len(clinic_calendar.affected_appointments(db, clinic))
    if shown:
        audit(
            db, user, "calendar.read", None, services.audit_patients_detail(f"today {today}", shown)
        )
    return {
        "today": today,
        "entries": entries,
        "recalls_today": recalls_today,
        "overdue": overdue,
        "new_leads": new_leads,
        "callbacks": callbacks,
        "tz": clinic.tz,
        "missing": missing,
        "free": free,
        "conflicts": conflicts,
        "zone": clinic.timezone,
        "clinical": clinical,
        "here": "/app/",
        "mine": own,
        "linked": user.practitioner_id in names,
    }


@router.get("/app/", response_class=HTMLResponse)
def staff_home(request: Request, user: StaffDep) -> HTMLResponse:
    """The signed-in role's day (the tiles only on a server without clinic records)."""
    request.state.user = user
    db: Database | None = request.app.state.db
    day: dict[str, Any] = {}
    if db is not None:
        try:
            day = _day(request, db, user)
        except NeedleplanError:
            day = {"day_error": True}
    return render(request, "app/home.html", Permission=Permission, **day)


@router.post("/app/callbacks/{request_id}/done")
def callback_done(
    request: Request,
    request_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    user: ContactsDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The desk called her back: the request leaves the Today page."""
    check_csrf(request, csrf_token)
    request.state.user = user
    db: Database | None = request.app.state.db
    if db is None:
        raise NotFoundError("this server keeps no clinic records")
    portal.callback_done(db, user, request_id)
    return RedirectResponse("/app/", status_code=303)


@router.get("/app", include_in_schema=False)
def staff_home_slash() -> Response:
    return RedirectResponse("/app/", status_code=308)

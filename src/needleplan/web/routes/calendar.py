"""The clinic calendar: day and week views per practitioner.

* ``GET  /app/calendar?view=week|day&date=YYYY-MM-DD&practitioner=ID`` — times in the clinic's
  time zone; each appointment shows the patient's name and "session n of N". Clinical notes are
  shown only to roles with the clinical permission.

The move and status pages are :mod:`.calendar_move`, the rebook pages :mod:`.calendar_rebook`.
Audit: every calendar view that shows patients writes one ``calendar.read`` event without a
patient id whose detail names the view and lists the patients shown (``patients=3,17,42``), so
the audit search by patient finds it; the move and rebook pages write ``appointment.read`` with
the patient's id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from needleplan import services
from needleplan.exceptions import InputError
from needleplan.web.auth import Permission
from needleplan.web.db_stores import audit
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import (
    CalendarDep,
    local,
    practitioner_names,
    zone_names,
)
from needleplan.web.routes.calendar_common import (
    SHOWN,
    Entry,
    calendar_url,
    day_notes,
    local_midnight,
    parse_day,
    planned_text,
)
from needleplan.web.routes.calendar_grid import build_grid
from needleplan.web.routes.calendar_waitlist import freed_offer
from needleplan.web.routes.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/app/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    user: CalendarDep,
    db: DbDep,
    clinic: ClinicDep,
    view: str = "week",
    on: Annotated[str | None, Query(alias="date", max_length=20)] = None,
    practitioner: str | None = None,
    moved: int | None = None,
    done: str | None = None,
    booked: int | None = None,
    freed: Annotated[str | None, Query(max_length=80)] = None,
    freed_kind: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    request.state.user = user
    if view not in ("week", "day"):
        raise InputError.one("view", view, "must be week or day")
    day = parse_day(on, clinic)
    names = practitioner_names(db)
    # A practitioner's own column by default (her account is linked to her); "all": everyone.
    who: int | None = user.practitioner_id if user.practitioner_id in names else None
    if practitioner == "all":
        who = None
    elif practitioner not in (None, ""):
        try:
            who = int(str(practitioner))
        except ValueError:
            raise InputError.one("practitioner", practitioner, "must be a number") from None
        if who not in names:
            raise InputError.one("practitioner", who, "is not a practitioner of this clinic")
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    count = 7 if view == "week" else 1
    days = [first + timedelta(days=i) for i in range(count)]
    start = local_midnight(days[0], clinic).astimezone(UTC)
    end = local_midnight(days[-1] + timedelta(days=1), clinic).astimezone(UTC)
    # One query: the appointments with the names, contacts, course sizes and online flags
    # their cards show (a clinic group's week is a thousand appointments; docs/scale.md).
    items = services.calendar_window(db, start, end, practitioner_id=who, statuses=SHOWN)
    clinical = user.can(Permission.CLINICAL)
    by_day: dict[date, list[Entry]] = {d: [] for d in days}
    for item in items:
        a = item.appointment
        s = local(a.start, clinic)
        if s.date() not in by_day:
            continue
        by_day[s.date()].append(
            Entry(
                appointment=a,
                start=s,
                end=local(a.end, clinic),
                patient=f"{item.given_name} {item.family_name}",
                phone=item.phone,
                email=item.email,
                practitioner=names.get(a.practitioner_id, str(a.practitioner_id)),
                session_text=planned_text(a, item.planned_sessions),
                note=a.note if clinical else "",
                rebook=services.can_rebook(a),
                rebooked_as=services.rebooked_as(a),
                online=item.online,
            )
        )
    shown = {e.appointment.patient_id for entries in by_day.values() for e in entries}
    if shown:
        scope = f"{view} {days[0].isoformat()}..{days[-1].isoformat()} practitioner={who or 'all'}"
        audit(db, user, "calendar.read", None, services.audit_patients_detail(scope, shown))
    grid = None
    if view == "day" or who is not None:
        entries = [e for d in days for e in by_day[d]]
        listed = [p.name for p in clinic.practitioners]
        people = (
            [names[who]]
            if who is not None
            else listed + sorted({e.practitioner for e in entries} - set(listed))
        )
        if view == "day":
            columns = [(day, name, name) for name in people]
        else:
            columns = [(d, d.strftime("%a %d %b"), people[0]) for d in days]
        grid = build_grid(clinic, columns, entries)
    step = timedelta(days=count)
    here = calendar_url(view, day, who)
    shown_names = {names[who]} if who is not None else set(names.values())
    return render(
        request,
        "app/calendar.html",
        view=view,
        day=day,
        days=days,
        by_day=by_day,
        day_notes={d: day_notes(clinic, d, shown_names) for d in days},
        today=datetime.now(clinic.tz).date(),
        practitioners=sorted(names.items(), key=lambda kv: kv[1]),
        practitioner=who,
        timezone=clinic.timezone,
        zone=zone_names(clinic, days[0], days[-1]),
        prev_url=calendar_url(view, day - step, who),
        next_url=calendar_url(view, day + step, who),
        today_url=calendar_url(view, datetime.now(clinic.tz).date(), who),
        week_url=calendar_url("week", day, who),
        day_url=lambda d: calendar_url("day", d, who),
        here=here,
        moved=moved,
        done=done,
        clinical=clinical,
        grid=grid,
        booked=booked,
        freed=freed_offer(db, clinic, user, freed, freed_kind),
    )

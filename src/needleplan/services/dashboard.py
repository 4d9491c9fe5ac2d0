"""The owner's dashboard: the business figures of a month and of the 12 months up to it.

Every figure is counted by the database (:mod:`needleplan.storage.repositories.figures`: one
grouped SQL aggregate per figure, at most 12 rows back) and combined with numpy; the open hours
come from the clinic calendar in force, one day at a time (at most 366 days per practitioner).
The definitions, which ``docs/dashboard.md`` states for the owner:

sessions delivered
    charted treatment sessions (``performed_sessions``) whose time falls in the month (clinic
    time); ``maintenance`` when recorded on a maintenance visit, ``initial`` otherwise.
revenue
    initial sessions x ``prices.initial_session`` + maintenance sessions x
    ``prices.maintenance_session`` from the clinic's settings (``None`` without prices).
new patients
    records registered in the month.
course completion
    of the courses that ended in the month (their final status set then), the share completed
    (the others lapsed or were cancelled).
no-show rate
    of the visits that started in the month and were neither cancelled nor still only booked,
    the share marked missed: missed / (missed + checked in + performed).
recall conversion
    of the recall entries due in the month, the share closed because the patient booked.
    Entries still open count as not (yet) booked, so a recent month's rate can still rise.
utilisation (per practitioner)
    minutes of her appointments that started in the month (every status but cancelled) /
    her open minutes in the month: the clinic's opening hours met with her working hours, on
    days that are not a public holiday, a clinic closure or her day off.
contact requests -> patients
    requests that arrived in the month, and how many of them were converted into a patient.
    A request deleted (on request, or by the retention period) is no longer counted.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from needleplan.domain.records import User
from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.calendar import closed_reason, working_spans
from needleplan.services._clock import add_months
from needleplan.services.audit import audited
from needleplan.services.practitioners import sync_practitioners
from needleplan.storage import Database

#: How many months the trend shows (the chosen month and the 11 before it).
TREND_MONTHS = 12
DASHBOARD_ACTION = "dashboard.read"


def parse_month(value: str, *, field: str = "month") -> date:
    """``YYYY-MM`` -> the month's first day (InputError naming ``field`` otherwise)."""
    text = str(value).strip()
    try:
        if len(text) != 7 or text[4] != "-":
            raise ValueError
        first = date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise InputError.one(field, text[:20], "must be a month like 2026-11") from None
    if not 2000 <= first.year <= 2100:
        raise InputError.one(field, text, "must be a month from 2000 to 2100")
    return first


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class PractitionerMonth:
    """One practitioner's booked and open time in one month [minutes]."""

    practitioner_id: int
    name: str
    booked_minutes: int
    open_minutes: int

    @property
    def utilisation(self) -> float | None:
        """booked / open (may exceed 1 when bookings overrun the hours); None when closed."""
        return _rate(self.booked_minutes, self.open_minutes)


@dataclass(frozen=True)
class MonthFigures:
    """The figures of one calendar month (see the module docstring for each definition)."""

    month: date
    initial_sessions: int
    maintenance_sessions: int
    revenue: float | None
    new_patients: int
    courses_completed: int
    courses_ended: int
    visits_kept: int
    no_shows: int
    recalls_due: int
    recalls_booked: int
    leads: int
    leads_converted: int
    practitioners: tuple[PractitionerMonth, ...]

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def sessions(self) -> int:
        return self.initial_sessions + self.maintenance_sessions

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.courses_completed, self.courses_ended)

    @property
    def no_show_rate(self) -> float | None:
        return _rate(self.no_shows, self.no_shows + self.visits_kept)

    @property
    def recall_conversion(self) -> float | None:
        return _rate(self.recalls_booked, self.recalls_due)

    @property
    def lead_conversion(self) -> float | None:
        return _rate(self.leads_converted, self.leads)

    @property
    def booked_minutes(self) -> int:
        return sum(p.booked_minutes for p in self.practitioners)

    @property
    def open_minutes(self) -> int:
        return sum(p.open_minutes for p in self.practitioners)

    @property
    def utilisation(self) -> float | None:
        """The whole clinic's: all booked minutes / all open minutes."""
        return _rate(self.booked_minutes, self.open_minutes)


@dataclass(frozen=True)
class Dashboard:
    """The chosen month (the last) and the 11 months before it, oldest first."""

    months: tuple[MonthFigures, ...]
    currency: str | None
    today: date

    @property
    def current(self) -> MonthFigures:
        return self.months[-1]


def _instant(day: date, clinic: ClinicConfig) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=clinic.tz).astimezone(UTC)


def open_minutes(clinic: ClinicConfig, name: str, first: date, end: date) -> int:
    """Minutes ``name`` can treat from ``first`` up to (not including) ``end``: the opening
    hours met with her hours, on days without a holiday, closure or day off."""
    person = clinic.practitioner(name)
    total, day = 0, first
    while day < end:
        if closed_reason(clinic, person, day) is None:
            total += sum(b - a for a, b in working_spans(clinic, person, day))
        day += timedelta(days=1)
    return total


def month_figures(
    db: Database,
    clinic: ClinicConfig,
    month: date,
    *,
    actor: User | None,
    today: date | None = None,
    months: int = TREND_MONTHS,
) -> Dashboard:
    """The dashboard for ``month`` (any day of it) and the ``months - 1`` months before it,
    read as ``actor`` (the reports permission; audited ``dashboard.read``, no patient data).
    """
    if not 1 <= months <= 60:
        raise InputError.one("months", months, "must be between 1 and 60")
    last = month.replace(day=1)
    firsts = [add_months(last, k - months + 1) for k in range(months + 1)]
    instants = [_instant(d, clinic) for d in firsts]
    ids = sync_practitioners(db, clinic)
    n = months
    with (
        audited(db, actor, DASHBOARD_ACTION, None, f"month={last:%Y-%m} months={n}"),
        db.transaction() as uow,
    ):
        sessions = uow.figures.sessions(instants)
        patients = uow.figures.new_patients(instants)
        endings = uow.figures.course_endings(instants)
        visits = uow.figures.visit_outcomes(instants)
        recalls = uow.figures.recalls_due(firsts)
        leads = uow.figures.leads(instants)
        booked = uow.figures.booked_minutes(instants)

    def arr(table: dict[str, list[int]], *keys: str) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        for key in keys:
            out += np.asarray(table.get(key, [0] * n), dtype=np.int64)
        return out

    initial, maint = arr(sessions, "initial"), arr(sessions, "maintenance")
    revenue = (
        None
        if clinic.prices is None
        else initial * clinic.prices.initial_session + maint * clinic.prices.maintenance_session
    )
    completed = arr(endings, "completed")
    ended = arr(endings, "completed", "lapsed", "cancelled")
    kept = arr(visits, "performed", "arrived")
    missed = arr(visits, "missed")
    due = arr(recalls, "open", "booked", "opted_out", "closed")
    due_booked = arr(recalls, "booked")
    lead_in = arr(leads, "new", "handled", "converted")
    lead_conv = arr(leads, "converted")
    people = sorted(ids.items(), key=lambda kv: kv[0])
    opened = {
        pid: [open_minutes(clinic, name, firsts[k], firsts[k + 1]) for k in range(n)]
        for name, pid in people
    }
    result = []
    for k in range(n):
        result.append(
            MonthFigures(
                month=firsts[k],
                initial_sessions=int(initial[k]),
                maintenance_sessions=int(maint[k]),
                revenue=None if revenue is None else round(float(revenue[k]), 2),
                new_patients=int(patients[k]),
                courses_completed=int(completed[k]),
                courses_ended=int(ended[k]),
                visits_kept=int(kept[k]),
                no_shows=int(missed[k]),
                recalls_due=int(due[k]),
                recalls_booked=int(due_booked[k]),
                leads=int(lead_in[k]),
                leads_converted=int(lead_conv[k]),
                practitioners=tuple(
                    PractitionerMonth(pid, name, booked.get(pid, [0] * n)[k], opened[pid][k])
                    for name, pid in people
                ),
            )
        )
    now = today or datetime.now(clinic.tz).date()
    currency = clinic.prices.currency if clinic.prices is not None else None
    return Dashboard(tuple(result), currency, now)


def month_choices(today: date, back: int = 36) -> list[date]:
    """The months the dashboard offers: this one and ``back`` before it, newest first."""
    first = today.replace(day=1)
    return [add_months(first, -k) for k in range(back + 1)]


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])

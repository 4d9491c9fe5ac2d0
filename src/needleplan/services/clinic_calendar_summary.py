"""A readable summary of a clinic calendar (the admin page and ``needleplan clinic show``).

Split out of :mod:`needleplan.services.clinic_calendar`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from needleplan.scheduling import ClinicConfig, Weekday
from needleplan.scheduling.calendar import working_spans


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    reason: str

    def __str__(self) -> str:
        if self.start == self.end:
            return f"{self.start} ({self.reason})"
        return f"{self.start} to {self.end} ({self.reason})"


@dataclass(frozen=True)
class PractitionerSummary:
    name: str
    #: working spans by weekday label (intersected with opening hours); "" = not working
    hours: dict[str, str]
    own_hours: bool
    days_off: list[Period]


@dataclass(frozen=True)
class ClinicSummary:
    """What a person needs to read a calendar at a glance (upcoming periods only)."""

    name: str
    timezone: str
    location: str
    opening_hours: dict[str, str]
    practitioners: list[PractitionerSummary]
    closures: list[Period]
    holidays: str
    upcoming_holidays: list[tuple[date, str]]
    session_minutes: dict[str, int]
    slot_minutes: int
    preferred_start: str
    first_session_search_days: int
    recall_threshold: float
    prices: str
    visit_minutes: dict[str, int] = field(default_factory=dict)


WEEKDAY_LABELS = {d: d.value.capitalize() for d in Weekday}


def _spans_text(spans: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans)


def clinic_summary(clinic: ClinicConfig, today: date, *, holiday_days: int = 365) -> ClinicSummary:
    """A readable summary: hours per weekday, practitioners with their hours and upcoming days
    off, upcoming closures and public holidays (within ``holiday_days``), session lengths,
    prices."""
    # A date of each weekday, to ask the calendar code for the working spans.
    monday = today - timedelta(days=today.weekday())
    week = {d: monday + timedelta(days=i) for i, d in enumerate(Weekday)}
    opening = {
        WEEKDAY_LABELS[d]: _spans_text([(s.start, s.end) for s in clinic.opening_hours.get(d, [])])
        for d in Weekday
    }
    people = [
        PractitionerSummary(
            name=p.name,
            hours={
                WEEKDAY_LABELS[d]: _spans_text(working_spans(clinic, p, week[d])) for d in Weekday
            },
            own_hours=p.hours is not None,
            days_off=sorted(
                (Period(o.start, o.last, o.reason) for o in p.days_off if o.last >= today),
                key=lambda o: o.start,
            ),
        )
        for p in clinic.practitioners
    ]
    holidays = ""
    upcoming: list[tuple[date, str]] = []
    if clinic.holidays is not None:
        holidays = clinic.holidays.country + (
            f"-{clinic.holidays.subdivision}" if clinic.holidays.subdivision else ""
        )
        for offset in range(holiday_days):
            day = today + timedelta(days=offset)
            name = clinic.holiday(day)
            if name is not None:
                upcoming.append((day, name))
    prices = ""
    if clinic.prices is not None:
        p = clinic.prices
        prices = (
            f"initial session {p.initial_session:.2f} {p.currency}, "
            f"maintenance session {p.maintenance_session:.2f} {p.currency}"
        )
    return ClinicSummary(
        name=clinic.name,
        timezone=clinic.timezone,
        location=clinic.location,
        opening_hours=opening,
        practitioners=people,
        closures=sorted(
            (Period(c.start, c.last, c.reason) for c in clinic.closures if c.last >= today),
            key=lambda c: c.start,
        ),
        holidays=holidays,
        upcoming_holidays=upcoming,
        session_minutes=dict(clinic.session_minutes),
        slot_minutes=clinic.slot_minutes,
        preferred_start=clinic.preferred_start.strftime("%H:%M"),
        first_session_search_days=clinic.first_session_search_days,
        recall_threshold=clinic.recall_threshold,
        prices=prices,
        visit_minutes=clinic.visit_minutes.model_dump(),
    )

"""Plain values the scheduler takes and returns (no I/O; the storage layer maps them to rows).

All datetimes are timezone-aware; a naive datetime raises
:class:`~needleplan.exceptions.InputError`. Intervals are half-open ``[start, end)``, so an
appointment ending at 10:00 does not collide with one starting at 10:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from needleplan.exceptions import InputError


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise InputError.one(name, value, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError.one(name, value.isoformat(), "must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Busy:
    """A period a practitioner is not free (an existing appointment, a meeting...).

    Attributes
    ----------
    practitioner : str
        The practitioner's name as in the clinic config.
    start, end : datetime
        Timezone-aware, ``start < end``; the period is ``[start, end)``.
    """

    practitioner: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("busy.start", self.start)
        _require_aware("busy.end", self.end)
        if self.end <= self.start:
            raise InputError.one("busy.end", self.end.isoformat(), "must be after busy.start")

    def overlaps(self, other: Busy | ScheduledSession) -> bool:
        """True when both belong to the same practitioner and their periods intersect."""
        return (
            self.practitioner == other.practitioner
            and self.start < other.end
            and other.start < self.end
        )


@dataclass(frozen=True, slots=True)
class ScheduledSession:
    """One dated session of a course.

    Attributes
    ----------
    number : int
        1-based position in the course.
    start, end : datetime
        Timezone-aware, in the clinic's time zone.
    practitioner : str
        Who treats.
    sequence : int
        iCalendar SEQUENCE: starts at 0 and goes up by one every time the session's time or
        practitioner changes.
    window : tuple[date, date] | None
        The earliest and latest day the protocol allows for this session (None for session 1).
    """

    number: int
    start: datetime
    end: datetime
    practitioner: str
    sequence: int = 0
    window: tuple[date, date] | None = None

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InputError.one("session.number", self.number, "must be 1 or more")
        _require_aware("session.start", self.start)
        _require_aware("session.end", self.end)
        if self.end <= self.start:
            raise InputError.one("session.end", self.end.isoformat(), "must be after start")

    def as_busy(self) -> Busy:
        return Busy(self.practitioner, self.start, self.end)

    def moved(self, start: datetime, end: datetime, practitioner: str) -> ScheduledSession:
        """This session at a new time; SEQUENCE goes up only when something changed."""
        changed = (start, end, practitioner) != (self.start, self.end, self.practitioner)
        return replace(
            self,
            start=start,
            end=end,
            practitioner=practitioner,
            sequence=self.sequence + 1 if changed else self.sequence,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "practitioner": self.practitioner,
            "sequence": self.sequence,
            "window": None
            if self.window is None
            else [self.window[0].isoformat(), self.window[1].isoformat()],
        }


@dataclass(frozen=True, slots=True)
class Alternative:
    """The nearest feasible slot for a session whose window has none."""

    session_number: int
    start: datetime
    end: datetime
    practitioner: str
    overrun_days: int

    def describe(self) -> str:
        return (
            f"nearest feasible: {self.start:%a %Y-%m-%d %H:%M} with {self.practitioner} "
            f"({self.overrun_days} day{'s' if self.overrun_days != 1 else ''} beyond the window)"
        )


@dataclass(frozen=True, slots=True)
class MaintenanceDue:
    """When to recall the patient for maintenance, and why that day.

    Attributes
    ----------
    due : date
        The recall date (within the protocol's maintenance bounds).
    forecast_due : date | None
        The unclamped day the forecast median falls to the threshold (None if it never rises
        above the threshold or never falls to it within the forecast horizon).
    reason : str
        ``"forecast"``, ``"earliest bound"`` or ``"latest bound"`` with an explanation.
    sequence : int
        iCalendar SEQUENCE for the recall item; goes up when ``due`` changes.
    """

    due: date
    forecast_due: date | None
    reason: str
    sequence: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat(),
            "forecast_due": None if self.forecast_due is None else self.forecast_due.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CourseSchedule:
    """A dated initial series: what :func:`~needleplan.scheduling.schedule_course` returns.

    Attributes
    ----------
    course_id : str
        The course's identity; iCalendar UIDs derive from it.
    timezone : str
        IANA zone of every datetime in the sessions.
    interval_days : tuple[int, int]
        The protocol's interval window (min, max) [days] the sessions were placed in.
    duration_minutes : int
        Length of each session [minutes].
    sessions : tuple[ScheduledSession, ...]
        In course order.
    warnings : tuple[str, ...]
        Things a practitioner should know (session 1 moved, overruns...).
    maintenance : MaintenanceDue | None
        The recall date, once computed.
    """

    course_id: str
    timezone: str
    interval_days: tuple[int, int]
    duration_minutes: int
    sessions: tuple[ScheduledSession, ...]
    warnings: tuple[str, ...] = ()
    maintenance: MaintenanceDue | None = None
    location: str = ""
    clinic_name: str = ""

    def session(self, number: int) -> ScheduledSession:
        for s in self.sessions:
            if s.number == number:
                return s
        raise InputError.one(
            "session_number", number, f"must be between 1 and {len(self.sessions)}"
        )

    @property
    def dates(self) -> list[date]:
        return [s.start.date() for s in self.sessions]

    def with_maintenance(self, due: MaintenanceDue) -> CourseSchedule:
        """This schedule with a (re)computed recall; its SEQUENCE goes up if the date moved."""
        if self.maintenance is not None:
            bump = 1 if due.due != self.maintenance.due else 0
            due = replace(due, sequence=self.maintenance.sequence + bump)
        return replace(self, maintenance=due)

    def to_json(self) -> dict[str, Any]:
        """The ``needleplan schedule --json`` shape."""
        return {
            "course_id": self.course_id,
            "timezone": self.timezone,
            "interval_days": list(self.interval_days),
            "duration_minutes": self.duration_minutes,
            "sessions": [s.to_json() for s in self.sessions],
            "maintenance_due": None
            if self.maintenance is None
            else self.maintenance.due.isoformat(),
            "maintenance": None if self.maintenance is None else self.maintenance.to_json(),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class GapReport:
    """What a gap longer than the protocol's window costs, from the patient's forecast.

    Attributes
    ----------
    session_number : int
        The session that comes late.
    gap_days, window_max_days, overrun_days : int
        Days since the previous session, the window's maximum, and the difference.
    noticeable_days_planned, noticeable_days_replanned : float | None
        Days of noticeable improvement (median above the recall threshold) after the last
        session in the original and the re-planned course; None without a forecast.
    peak_difference : float | None
        Re-planned minus planned peak median improvement [percentage points].
    extra_session_advised : bool
        True when the re-planned course loses more than the tolerance and the protocol's
        session range has room for one more session.
    explanation : str
        One readable sentence.
    """

    session_number: int
    gap_days: int
    window_max_days: int
    overrun_days: int
    noticeable_days_planned: float | None = None
    noticeable_days_replanned: float | None = None
    noticeable_days_with_extra: float | None = None
    peak_difference: float | None = None
    extra_session_advised: bool = False
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class Replan:
    """The result of :func:`~needleplan.scheduling.replan`."""

    schedule: CourseSchedule
    changed: tuple[int, ...]
    gaps: tuple[GapReport, ...] = field(default=())

    @property
    def extra_session_advised(self) -> bool:
        return any(g.extra_session_advised for g in self.gaps)

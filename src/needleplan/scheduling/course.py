"""Turn a protocol and a start date into dated sessions a clinic can book.

How a course is placed
----------------------
* Session 1 goes on the requested start date, or the first later day with a free slot (up to
  ``clinic.first_session_search_days``), at the start time nearest ``clinic.preferred_start``.
* Session *k* goes in its window: ``interval_days.min`` to ``interval_days.max`` days after
  session *k-1* (calendar days in the clinic's zone).
* Within a window each day with a free slot gets a cost, and the cheapest wins:

  - ``|offset - recommended|`` [days], where recommended is the middle of the window;
  - ``WEEKDAY_PENALTY`` when the weekday differs from session 1's;
  - ``HOUR_PENALTY`` per hour the start time differs from session 1's (wall clock);
  - ``PRACTITIONER_PENALTY`` when another practitioner than session 1's treats (only when no
    practitioner was asked for).

  Ties go to the later day (more healing time).
* The whole series is searched before anything is proposed: when a choice for session *k*
  leaves no slot for a later session, the next-best choice is tried (depth-first search with a
  memo of dead ends, so it is polynomial in sessions x window days).
* When no arrangement fits, :class:`SessionSchedulingError` names the session that could not be
  placed, why every day of its window fails, and the nearest feasible alternative beyond it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from needleplan.domain.protocol import Protocol
from needleplan.exceptions import BlockedError, InputError, SchedulingError
from needleplan.scheduling.calendar import (
    BusyIndex,
    DayOptions,
    LazyBusyIndex,
    SlotGrid,
    add_minutes,
    day_options,
)
from needleplan.scheduling.clinic import ClinicConfig, Practitioner
from needleplan.scheduling.models import Alternative, Busy, CourseSchedule, ScheduledSession

#: Cost [days] of a session on another weekday than session 1's.
WEEKDAY_PENALTY = 4.0
#: Cost [days] per hour a start time is away from session 1's.
HOUR_PENALTY = 0.25
#: Cost [days] of changing practitioner mid-course (when any practitioner may treat).
PRACTITIONER_PENALTY = 2.0
#: How far past a window to look for the nearest feasible alternative [days].
ALTERNATIVE_SEARCH_DAYS = 180

#: Namespace for course ids derived from names (``course_uuid``).
COURSE_NAMESPACE = uuid.UUID("6f1c1f44-3a51-5d0e-9a8e-6e6565646c65")


class SessionSchedulingError(SchedulingError):
    """No feasible slot for one session of a course.

    Attributes
    ----------
    session_number : int
        The session that could not be placed.
    reason : str
        Why each day of its window fails, summarised.
    window : tuple[date, date] | None
        The days searched.
    alternative : Alternative | None
        The nearest feasible slot beyond the window, when there is one.
    """

    def __init__(
        self,
        session_number: int,
        reason: str,
        window: tuple[date, date] | None,
        alternative: Alternative | None,
    ) -> None:
        self.session_number = session_number
        self.reason = reason
        self.window = window
        self.alternative = alternative
        text = f"session {session_number}: {reason}"
        if alternative is not None:
            text += f"; {alternative.describe()}"
        else:
            text += f"; nothing free within {ALTERNATIVE_SEARCH_DAYS} days after the window"
        super().__init__(text)


@dataclass(frozen=True)
class Anchor:
    """What later sessions try to match: session 1's weekday, start time and practitioner."""

    weekday: int | None
    minutes: int
    practitioner: str | None


@dataclass(frozen=True)
class Placement:
    start: datetime
    practitioner: str
    window: tuple[date, date] | None
    overrun_days: int = 0


@dataclass
class _Failure:
    number: int
    reason: str
    window: tuple[date, date] | None
    after: date


@dataclass
class Planner:
    """Searches slots for a course in one clinic (used by :func:`schedule_course` and ``replan``).

    Parameters
    ----------
    clinic : ClinicConfig
    practitioners : list[Practitioner]
        Who may treat (one when a practitioner was asked for).
    duration_minutes : int
        Session length [minutes].
    busy : BusyIndex or LazyBusyIndex
        Existing appointments (a lazy index is read a window at a time as the search goes).
    interval : tuple[int, int]
        The protocol's interval window (min, max) [days].
    grid : SlotGrid, optional
        The clinic's slot grid remembered between calls (see :class:`SlotGrid`).
    """

    clinic: ClinicConfig
    practitioners: list[Practitioner]
    duration_minutes: int
    busy: BusyIndex | LazyBusyIndex
    interval: tuple[int, int]
    grid: SlotGrid | None = None
    _cache: dict[date, list[DayOptions]] = field(default_factory=dict)
    _dead: set[tuple[int, date]] = field(default_factory=set)
    _best: dict[tuple[date, Anchor], tuple[datetime, str, float] | None] = field(
        default_factory=dict
    )
    failure: _Failure | None = None
    floor: date | None = None

    def reset(self) -> None:
        """Forget dead ends and the recorded failure (before a search with other rules)."""
        self._dead.clear()
        self.failure = None

    # -- one day ------------------------------------------------------------------------------
    def options(self, day: date) -> list[DayOptions]:
        cached = self._cache.get(day)
        if cached is None:
            cached = [
                day_options(self.clinic, p, day, self.duration_minutes, self.busy, self.grid)
                for p in self.practitioners
            ]
            self._cache[day] = cached
        return cached

    def best_slot(self, day: date, anchor: Anchor) -> tuple[datetime, str, float] | None:
        """The cheapest free start on ``day`` for the anchor: (start, practitioner, cost)."""
        key = (day, anchor)
        if key in self._best:
            return self._best[key]
        best: tuple[datetime, str, float] | None = None
        for opts in self.options(day):
            if not opts.starts:
                continue
            minutes = np.array([s.hour * 60 + s.minute for s in opts.starts], dtype=float)
            cost = np.abs(minutes - anchor.minutes) / 60.0 * HOUR_PENALTY
            if anchor.practitioner is not None and opts.practitioner != anchor.practitioner:
                cost = cost + PRACTITIONER_PENALTY
            i = int(np.argmin(cost))
            if best is None or float(cost[i]) < best[2]:
                best = (opts.starts[i], opts.practitioner, float(cost[i]))
        self._best[key] = best
        return best

    def day_reason(self, day: date) -> str:
        reasons = [o.reason for o in self.options(day)]
        if len(set(reasons)) == 1:
            return str(reasons[0])
        return "no practitioner free"

    def window(self, prev: date) -> tuple[date, date]:
        return prev + timedelta(days=self.interval[0]), prev + timedelta(days=self.interval[1])

    # -- explanation -------------------------------------------------------------------------
    def explain(self, lo: date, hi: date) -> str:
        counts: Counter[str] = Counter(
            self.day_reason(lo + timedelta(days=i)) for i in range((hi - lo).days + 1)
        )
        parts = [f"{reason} ({n} day{'s' if n != 1 else ''})" for reason, n in counts.most_common()]
        return "; ".join(parts)

    def alternative(self, number: int, after: date, anchor: Anchor) -> Alternative | None:
        """The earliest day after ``after`` with a free slot (best slot for the anchor)."""
        for i in range(1, ALTERNATIVE_SEARCH_DAYS + 1):
            day = after + timedelta(days=i)
            best = self.best_slot(day, anchor)
            if best is not None:
                start, who, _ = best
                return Alternative(number, start, add_minutes(start, self.duration_minutes), who, i)
        return None

    def _fail(
        self, number: int, reason: str, window: tuple[date, date] | None, after: date
    ) -> None:
        if self.failure is None or number > self.failure.number:
            self.failure = _Failure(number, reason, window, after)

    # -- the series ---------------------------------------------------------------------------
    def ranked_days(self, prev: date, anchor: Anchor) -> list[tuple[date, datetime, str]]:
        """Days of the window after ``prev`` with a free slot, best first."""
        lo, hi = self.window(prev)
        width = self.interval[1] - self.interval[0]
        mid = (self.interval[0] + self.interval[1]) / 2
        self.busy.prefetch(max(lo, self.floor or lo), hi)  # the window's bookings in one read
        ranked: list[tuple[float, int, date, datetime, str]] = []
        for i in range(width + 1):
            day = lo + timedelta(days=i)
            if self.floor is not None and day < self.floor:
                continue
            best = self.best_slot(day, anchor)
            if best is None:
                continue
            start, who, slot_cost = best
            offset = self.interval[0] + i
            cost = abs(offset - mid) + slot_cost
            if anchor.weekday is not None and day.weekday() != anchor.weekday:
                cost += WEEKDAY_PENALTY
            ranked.append((cost, -day.toordinal(), day, start, who))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [(d, s, w) for _, _, d, s, w in ranked]

    def place_rest(
        self, number: int, last: int, prev: date, anchor: Anchor, *, allow_overrun: bool
    ) -> list[Placement] | None:
        """Place sessions ``number..last`` after a session on ``prev``; None when impossible."""
        if number > last:
            return []
        if (number, prev) in self._dead:
            return None
        window = self.window(prev)
        ranked = self.ranked_days(prev, anchor)
        for day, start, who in ranked:
            rest = self.place_rest(number + 1, last, day, anchor, allow_overrun=allow_overrun)
            if rest is not None:
                return [Placement(start, who, window), *rest]
        if not ranked:
            self._fail(number, f"no free slot {self._window_text(prev, window)}", window, prev)
            if allow_overrun:
                after = window[1]
                if self.floor is not None and self.floor - timedelta(days=1) > after:
                    after = self.floor - timedelta(days=1)
                alt = self.alternative(number, after, anchor)
                if alt is not None:
                    rest = self.place_rest(
                        number + 1, last, alt.start.date(), anchor, allow_overrun=allow_overrun
                    )
                    if rest is not None:
                        overrun = (alt.start.date() - window[1]).days
                        return [Placement(alt.start, alt.practitioner, window, overrun), *rest]
        self._dead.add((number, prev))
        return None

    def _window_text(self, prev: date, window: tuple[date, date]) -> str:
        lo, hi = window
        return (
            f"between {lo:%Y-%m-%d} and {hi:%Y-%m-%d} ({self.interval[0]}-{self.interval[1]} days "
            f"after the previous session on {prev:%Y-%m-%d}): {self.explain(lo, hi)}"
        )

    def raise_failure(self, anchor: Anchor) -> SchedulingError:
        failure = self.failure
        if failure is None:  # pragma: no cover - place_rest always records why it failed
            return SchedulingError("no feasible schedule")
        after = failure.window[1] if failure.window is not None else failure.after
        alt = self.alternative(failure.number, after, anchor)
        return SessionSchedulingError(failure.number, failure.reason, failure.window, alt)

    def place_first(
        self,
        start: date,
        last: int,
        preferred_minutes: int,
        practitioner: str | None,
        *,
        allow_overrun: bool,
    ) -> list[Placement] | None:
        """Session 1 on ``start`` or the first feasible day after it, then the rest."""
        seed = Anchor(None, preferred_minutes, practitioner)
        horizon = self.clinic.first_session_search_days
        for i in range(horizon + 1):
            day = start + timedelta(days=i)
            best = self.best_slot(day, seed)
            if best is None:
                continue
            first, who, _ = best
            anchor = Anchor(day.weekday(), first.hour * 60 + first.minute, who)
            rest = self.place_rest(2, last, day, anchor, allow_overrun=allow_overrun)
            if rest is not None:
                return [Placement(first, who, None), *rest]
        end = start + timedelta(days=horizon)
        any_slot = any(self.best_slot(start + timedelta(days=i), seed) for i in range(horizon + 1))
        self._fail(
            1,
            f"no start from {start:%Y-%m-%d} to {end:%Y-%m-%d} lets the whole series fit"
            if any_slot
            else f"no free slot from {start:%Y-%m-%d} to {end:%Y-%m-%d}: {self.explain(start, end)}",
            (start, end),
            start,
        )
        return None


def course_uuid(name: str) -> str:
    """A stable course id derived from a name (same name, same id)."""
    return str(uuid.uuid5(COURSE_NAMESPACE, name))


def check_protocol(protocol: Protocol) -> None:
    """Raise BlockedError for a blocked protocol, InputError for one that cannot be dated."""
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons or ["the protocol is blocked"])
    if protocol.initial_sessions < 1:
        raise InputError.one(
            "protocol.initial_sessions", protocol.initial_sessions, "must be 1 or more to schedule"
        )
    if protocol.interval_days.min < 1:
        raise InputError.one(
            "protocol.interval_days.min", protocol.interval_days.min, "must be 1 day or more"
        )


def make_planner(
    protocol: Protocol,
    clinic: ClinicConfig,
    practitioner: str | None,
    busy: Sequence[Busy] | BusyIndex | LazyBusyIndex,
    duration_minutes: int | None,
    grid: SlotGrid | None = None,
) -> Planner:
    practitioners = (
        [clinic.practitioner(practitioner)]
        if practitioner is not None
        else list(clinic.practitioners)
    )
    if duration_minutes is None:
        duration_minutes = clinic.session_duration_minutes(list(protocol.areas))
    elif not 5 <= duration_minutes <= 8 * 60:
        raise InputError.one("session_duration", duration_minutes, "must be 5-480 minutes")
    return Planner(
        clinic,
        practitioners,
        duration_minutes,
        busy if isinstance(busy, BusyIndex | LazyBusyIndex) else BusyIndex.build(busy),
        (protocol.interval_days.min, protocol.interval_days.max),
        grid,
    )


def to_sessions(
    placements: Sequence[Placement], duration_minutes: int, first_number: int = 1
) -> tuple[ScheduledSession, ...]:
    return tuple(
        ScheduledSession(
            number=first_number + i,
            start=p.start,
            end=add_minutes(p.start, duration_minutes),
            practitioner=p.practitioner,
            window=p.window,
        )
        for i, p in enumerate(placements)
    )


def placement_warnings(
    placements: Sequence[Placement], first_number: int, interval: tuple[int, int]
) -> list[str]:
    out: list[str] = []
    for i, p in enumerate(placements):
        if p.overrun_days:
            out.append(
                f"session {first_number + i} is {p.overrun_days} day"
                f"{'s' if p.overrun_days != 1 else ''} later than the protocol's "
                f"{interval[1]}-day maximum interval"
            )
    return out


def schedule_course(
    protocol: Protocol,
    start: date,
    clinic: ClinicConfig,
    *,
    practitioner: str | None = None,
    busy: Sequence[Busy] | BusyIndex | LazyBusyIndex = (),
    session_duration: int | None = None,
    course_id: str | None = None,
    sessions: int | None = None,
    allow_overrun: bool = False,
    grid: SlotGrid | None = None,
) -> CourseSchedule:
    """Date a protocol's initial series in a clinic's calendar.

    Parameters
    ----------
    protocol : Protocol
        Gives the number of initial sessions, the interval window [days] and the areas.
    start : date
        Requested day of session 1 (local to the clinic).
    clinic : ClinicConfig
        Opening hours, holidays, closures, practitioners, session lengths.
    practitioner : str, optional
        Who treats; None lets any practitioner treat (continuity preferred).
    busy : sequence of Busy, BusyIndex or LazyBusyIndex
        Existing appointments per practitioner; no session overlaps them (a caller dating
        many courses may keep one :class:`BusyIndex` and extend it; a :class:`LazyBusyIndex`
        reads them from a store a window of days at a time as the search reaches them).
    session_duration : int, optional
        Session length [minutes]; default from ``clinic.session_minutes`` for the areas.
    course_id : str, optional
        The course's identity for iCalendar UIDs; a new random id when None.
    sessions : int, optional
        Number of sessions; default ``protocol.initial_sessions``.
    allow_overrun : bool
        When a window has no slot, place the session at the nearest feasible day beyond it
        (with a warning) instead of raising.
    grid : SlotGrid, optional
        The clinic's slot grid remembered between calls; the schedule is the same without it.

    Returns
    -------
    CourseSchedule

    Raises
    ------
    BlockedError
        The protocol is blocked by an absolute contraindication.
    SessionSchedulingError
        (a SchedulingError) No arrangement fits; names the session, why, and the nearest
        feasible alternative.
    InputError
        Unknown practitioner, bad duration or session count.
    """
    check_protocol(protocol)
    count = protocol.initial_sessions if sessions is None else sessions
    if count < 1:
        raise InputError.one("sessions", count, "must be 1 or more")
    planner = make_planner(protocol, clinic, practitioner, busy, session_duration, grid)
    preferred = clinic.preferred_start.hour * 60 + clinic.preferred_start.minute
    placements = planner.place_first(start, count, preferred, practitioner, allow_overrun=False)
    if placements is None and allow_overrun:
        planner.reset()
        placements = planner.place_first(start, count, preferred, practitioner, allow_overrun=True)
    if placements is None:
        raise planner.raise_failure(Anchor(None, preferred, practitioner))
    warnings = placement_warnings(placements, 1, planner.interval)
    if placements[0].start.date() != start:
        seed = Anchor(None, preferred, practitioner)
        why = (
            planner.day_reason(start)
            if planner.best_slot(start, seed) is None
            else "to let the whole series fit"
        )
        warnings.insert(
            0,
            f"session 1 starts on {placements[0].start:%a %Y-%m-%d}, not the requested "
            f"{start:%a %Y-%m-%d} ({why})",
        )
    return CourseSchedule(
        course_id=course_id if course_id is not None else str(uuid.uuid4()),
        timezone=clinic.timezone,
        interval_days=planner.interval,
        duration_minutes=planner.duration_minutes,
        sessions=to_sessions(placements, planner.duration_minutes),
        warnings=tuple(warnings),
        location=clinic.location,
        clinic_name=clinic.name,
    )

"""Re-planning a course when a session is missed or moved.

Sessions before the changed one stay as they are. The changed session takes its new time
(moved) or the first feasible slot from ``not_before`` on (missed), and every later session is
placed again inside its window after its (new) predecessor, keeping session 1's weekday, time
and practitioner where possible. Sessions whose time or practitioner changes get their
iCalendar SEQUENCE raised by one; UIDs never change.

When a gap between two sessions ends up longer than the protocol's maximum interval, a
:class:`~needleplan.scheduling.models.GapReport` says what it costs: with the patient's
assessment, the forecast of the re-planned course is compared with the original plan (days of
noticeable improvement after the last session, peak), and one extra session is advised when the
loss exceeds ``extra_session_tolerance_days``, one more session wins back time, and the
protocol's session range has room for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import pairwise

import numpy as np

from needleplan.domain.assessment import Assessment
from needleplan.domain.protocol import Protocol
from needleplan.exceptions import InputError, SchedulingError
from needleplan.scheduling.calendar import add_minutes, slot_problem
from needleplan.scheduling.clinic import ClinicConfig
from needleplan.scheduling.course import (
    Anchor,
    Placement,
    check_protocol,
    make_planner,
    placement_warnings,
)
from needleplan.scheduling.models import (
    Busy,
    CourseSchedule,
    GapReport,
    Replan,
    ScheduledSession,
)
from needleplan.scheduling.recall import (
    Forecaster,
    default_forecaster,
    forecast_years,
    maintenance_due,
    noticeable_days,
    session_days,
)

#: Loss of noticeable improvement [days] above which one extra session is advised.
EXTRA_SESSION_TOLERANCE_DAYS = 30.0


def _own(schedule: CourseSchedule, busy: Sequence[Busy]) -> list[Busy]:
    """``busy`` without this course's own sessions (callers may pass every appointment)."""
    own = {(s.practitioner, s.start, s.end) for s in schedule.sessions}
    return [b for b in busy if (b.practitioner, b.start, b.end) not in own]


def _anchor(session: ScheduledSession, tz_start: datetime) -> Anchor:
    return Anchor(tz_start.weekday(), tz_start.hour * 60 + tz_start.minute, session.practitioner)


def replan(
    schedule: CourseSchedule,
    session_number: int,
    clinic: ClinicConfig,
    protocol: Protocol,
    *,
    new_start: datetime | None = None,
    missed: bool = False,
    not_before: date | None = None,
    practitioner: str | None = None,
    busy: Sequence[Busy] = (),
    assessment: Assessment | None = None,
    forecaster: Forecaster | None = None,
    extra_session_tolerance_days: float = EXTRA_SESSION_TOLERANCE_DAYS,
) -> Replan:
    """Re-anchor a course after session ``session_number`` was moved or missed.

    Parameters
    ----------
    schedule : CourseSchedule
        The course as planned.
    session_number : int
        The session that moved or was missed (1-based).
    clinic, protocol :
        As for :func:`~needleplan.scheduling.schedule_course`.
    new_start : datetime, optional
        Timezone-aware new start of the session (a move). Exactly one of ``new_start`` and
        ``missed`` must be given.
    missed : bool
        The session did not happen; it is rebooked at the best feasible slot from
        ``not_before`` (default: the day after it was due).
    practitioner : str, optional
        Who treats the moved/rebooked and later sessions; default: as planned (a move) or any,
        preferring the planned one.
    busy : sequence of Busy
        Existing appointments; entries identical to this course's own sessions are ignored.
    assessment : Assessment, optional
        With it, gaps longer than the window are costed with the forecast model and the
        maintenance recall is recomputed.
    forecaster : callable, optional
        Defaults to :func:`needleplan.forecasting.chain.forecast`.
    extra_session_tolerance_days : float
        Loss of noticeable improvement [days] tolerated before an extra session is advised.

    Returns
    -------
    Replan
        The new schedule (same course id and UIDs), the numbers of changed sessions, and gap
        reports.

    Raises
    ------
    SchedulingError
        The new time is not possible (closed, outside hours, double booked), or later sessions
        cannot be placed even beyond their windows.
    InputError
        Bad session number, both or neither of ``new_start`` and ``missed``, naive datetime.
    """
    check_protocol(protocol)
    old = schedule.session(session_number)
    if (new_start is None) == (not missed):
        raise InputError.one(
            "replan", "new_start/missed", "give exactly one of new_start or missed"
        )
    if new_start is not None and (new_start.tzinfo is None or new_start.utcoffset() is None):
        raise InputError.one("new_start", new_start.isoformat(), "must be timezone-aware")
    if practitioner is not None:
        clinic.practitioner(practitioner)  # raises InputError for an unknown name
    tz = clinic.tz
    others = _own(schedule, busy)
    planner = make_planner(protocol, clinic, practitioner, others, schedule.duration_minutes)
    planner.interval = schedule.interval_days
    last = schedule.sessions[-1].number
    before = [s for s in schedule.sessions if s.number < session_number]
    prev_day = before[-1].start.astimezone(tz).date() if before else None
    if (
        new_start is not None
        and prev_day is not None
        and new_start.astimezone(tz).date() <= prev_day
    ):
        raise InputError.one(
            "new_start",
            new_start.isoformat(),
            f"session {session_number} must come after session {before[-1].number} "
            f"({before[-1].start.astimezone(tz):%Y-%m-%d})",
        )
    first = schedule.sessions[0]

    placements: list[Placement]
    if new_start is not None:
        who = practitioner if practitioner is not None else old.practitioner
        local = new_start.astimezone(tz)
        problem = slot_problem(
            clinic, clinic.practitioner(who), local, schedule.duration_minutes, planner.busy
        )
        if problem is not None:
            raise SchedulingError(
                f"session {session_number} cannot move to {local:%Y-%m-%d %H:%M}: {problem}"
            )
        window = planner.window(prev_day) if prev_day is not None else None
        anchor = _anchor(first, local if session_number == 1 else first.start.astimezone(tz))
        rest = planner.place_rest(
            session_number + 1, last, local.date(), anchor, allow_overrun=False
        )
        if rest is None:
            planner.reset()
            rest = planner.place_rest(
                session_number + 1, last, local.date(), anchor, allow_overrun=True
            )
        if rest is None:
            raise planner.raise_failure(anchor)
        overrun = 0 if window is None else max(0, (local.date() - window[1]).days)
        placements = [Placement(local, who, window, overrun), *rest]
    else:
        floor = (
            not_before
            if not_before is not None
            else old.start.astimezone(tz).date() + timedelta(days=1)
        )
        planner.floor = floor
        anchor = _anchor(first, first.start.astimezone(tz))
        if prev_day is None:
            found = planner.place_first(
                floor, last, anchor.minutes, practitioner or first.practitioner, allow_overrun=False
            )
            if found is None:
                planner.reset()
                found = planner.place_first(
                    floor,
                    last,
                    anchor.minutes,
                    practitioner or first.practitioner,
                    allow_overrun=True,
                )
        else:
            found = planner.place_rest(session_number, last, prev_day, anchor, allow_overrun=False)
            if found is None:
                planner.reset()
                found = planner.place_rest(
                    session_number, last, prev_day, anchor, allow_overrun=True
                )
        if found is None:
            raise planner.raise_failure(anchor)
        placements = found

    new_sessions = list(before)
    changed: list[int] = []
    for offset, p in enumerate(placements):
        number = session_number + offset
        current = schedule.session(number)
        end = add_minutes(p.start, schedule.duration_minutes)
        moved = replace(current.moved(p.start, end, p.practitioner), window=p.window)
        if moved.sequence != current.sequence:
            changed.append(number)
        new_sessions.append(moved)

    warnings = [w for w in schedule.warnings if not w.startswith("session ")]
    warnings += placement_warnings(placements, session_number, schedule.interval_days)
    if missed:
        warnings.append(f"session {session_number} was missed and is rebooked")
    for a, b in pairwise(new_sessions):
        gap = (b.start.astimezone(tz).date() - a.start.astimezone(tz).date()).days
        if gap < schedule.interval_days[0]:
            warnings.append(
                f"session {b.number} is only {gap} days after session {a.number} "
                f"(the protocol's minimum is {schedule.interval_days[0]}: skin may not have healed)"
            )
    new_schedule = replace(schedule, sessions=tuple(new_sessions), warnings=tuple(warnings))
    gaps = gap_reports(
        schedule,
        new_schedule,
        clinic,
        protocol,
        assessment,
        forecaster,
        extra_session_tolerance_days,
    )
    if assessment is not None:
        due = maintenance_due(
            assessment, new_schedule.dates, clinic, protocol, forecaster=forecaster
        )
        new_schedule = new_schedule.with_maintenance(due)
    return Replan(new_schedule, tuple(changed), gaps)


def gap_reports(
    planned: CourseSchedule,
    replanned: CourseSchedule,
    clinic: ClinicConfig,
    protocol: Protocol,
    assessment: Assessment | None,
    forecaster: Forecaster | None,
    tolerance_days: float,
) -> tuple[GapReport, ...]:
    """A report for each gap longer than the protocol's maximum interval in ``replanned``."""
    tz = clinic.tz
    dates = [s.start.astimezone(tz).date() for s in replanned.sessions]
    long_gaps = [
        (replanned.sessions[i].number, (dates[i] - dates[i - 1]).days)
        for i in range(1, len(dates))
        if (dates[i] - dates[i - 1]).days > replanned.interval_days[1]
    ]
    if not long_gaps:
        return ()
    window_max = replanned.interval_days[1]
    if assessment is None:
        return tuple(
            GapReport(
                number,
                gap,
                window_max,
                gap - window_max,
                explanation=(
                    f"session {number} comes {gap - window_max} days after the window closes; "
                    "pass the assessment to cost the gap with the forecast"
                ),
            )
            for number, gap in long_gaps
        )
    fn = forecaster if forecaster is not None else default_forecaster()
    planned_dates = [s.start.astimezone(tz).date() for s in planned.sessions]
    extra_dates = [*dates, dates[-1] + timedelta(days=protocol.recommended_interval_days)]
    horizon_end = max(planned_dates[-1], extra_dates[-1]) + timedelta(days=5 * 365)
    start = min(planned_dates[0], dates[0])

    def measure(course: list[date]) -> tuple[float, float]:
        days = [float((d - start).days) for d in course]
        session_days(course)  # validates order
        years = forecast_years([start], horizon_end)
        # Every session of a (re-planned) course is its initial series.
        result = fn(
            assessment,
            [d - days[0] for d in days],
            years=years,
            draws=400,
            seed=0,
            n_initial=len(days),
        )
        day = np.asarray(result.day, dtype=np.float64) + days[0]
        median = np.asarray(result.median, dtype=np.float64)
        lasting = noticeable_days(day, median, days[-1], clinic.recall_threshold)
        return lasting, float(np.max(median))

    planned_lasting, planned_peak = measure(planned_dates)
    replanned_lasting, replanned_peak = measure(dates)
    extra_lasting, _ = measure(extra_dates)
    # The result of a course is how long it stays noticeable once the course is over, so the
    # durations are counted from each variant's own last session (a delay that merely moves
    # the whole curve later is not a gain).
    loss = planned_lasting - replanned_lasting
    room = len(replanned.sessions) < protocol.session_range.max
    advised = bool(loss > tolerance_days and extra_lasting > replanned_lasting and room)
    reports = []
    for number, gap in long_gaps:
        text = (
            f"session {number} comes {gap - window_max} days after the window closes; the "
            f"forecast median stays noticeable for {replanned_lasting:.0f} days after the last "
            f"session instead of {planned_lasting:.0f}, peak "
            f"{replanned_peak - planned_peak:+.1f} points"
        )
        if advised:
            text += (
                f"; one extra session is advised (noticeable for {extra_lasting:.0f} days after it)"
            )
        elif loss > tolerance_days and not room:
            text += "; the protocol's session range has no room for an extra session"
        else:
            text += "; no extra session needed"
        reports.append(
            GapReport(
                session_number=number,
                gap_days=gap,
                window_max_days=window_max,
                overrun_days=gap - window_max,
                noticeable_days_planned=planned_lasting,
                noticeable_days_replanned=replanned_lasting,
                noticeable_days_with_extra=extra_lasting,
                peak_difference=replanned_peak - planned_peak,
                extra_session_advised=advised,
                explanation=text,
            )
        )
    return tuple(reports)

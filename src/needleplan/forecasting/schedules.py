"""Schedules and the validated range: session days of a series with upkeep, input checks.

Days count from the first session (day 0). Outside the validated range the functions raise
``ModelRangeError``; malformed input raises ``InputError`` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.domain import Assessment
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.params import DAYS_PER_MONTH, DAYS_PER_YEAR

#: Validated range of the model (outside it the forecast raises ModelRangeError).
MAX_YEARS = 15.0
MIN_SESSION_GAP_DAYS = 7.0
MAX_SESSIONS = 60
INITIAL_INTERVAL_DAYS = (14.0, 90.0)
MAINTENANCE_MONTHS = (3.0, 24.0)
MAX_INITIAL_SESSIONS = 20
MAX_DRAWS = 100_000
VALIDATED_AGE = (18, 90)


def horizon_days(years: float) -> int:
    """Last day of a ``years`` horizon on the daily grid [days]."""
    return math.floor(years * DAYS_PER_YEAR + 1e-9)


def _check_years(years: float) -> None:
    if not isinstance(years, int | float) or isinstance(years, bool) or not years == years:
        raise InputError.one("years", years, "must be a number")
    if years <= 0:
        raise InputError.one("years", years, "must be > 0")
    if years > MAX_YEARS:
        raise ModelRangeError(
            f"years: {years} is outside the model's validated horizon (at most {MAX_YEARS:g} "
            "years); the model does not extrapolate"
        )


def series_days(
    n_sessions: int,
    interval_days: float,
    *,
    maintenance_months: float | None = None,
    years: float = 10.0,
) -> NDArray[np.float64]:
    """Session days of an initial series, then maintenance every ``M`` months to the horizon.

    Parameters
    ----------
    n_sessions : int
        Initial sessions (1-20).
    interval_days : float
        Days between initial sessions [days] (validated range 14-90).
    maintenance_months : float, optional
        Months between maintenance sessions after the series [months] (validated range 3-24);
        ``None`` for no maintenance.
    years : float
        Horizon [years] (at most 15).

    Returns
    -------
    ndarray
        Session days from the first session [days], rounded to whole days; maintenance sessions
        start ``M`` months after the last initial session and stop at the horizon.

    Raises
    ------
    InputError, ModelRangeError
    """
    _check_years(years)
    if isinstance(n_sessions, bool) or not isinstance(n_sessions, int):
        raise InputError.one("sessions", n_sessions, "must be a whole number")
    if not 1 <= n_sessions <= MAX_INITIAL_SESSIONS:
        raise InputError.one("sessions", n_sessions, f"must be 1-{MAX_INITIAL_SESSIONS}")
    lo, hi = INITIAL_INTERVAL_DAYS
    if n_sessions > 1 and not lo <= interval_days <= hi:
        raise ModelRangeError(
            f"interval_days: {interval_days:g} is outside the validated range {lo:g}-{hi:g} days"
        )
    initial = np.round(np.arange(n_sessions, dtype=np.float64) * float(interval_days))
    end = horizon_days(years)
    if initial[-1] > end:
        raise InputError.one(
            "years", years, f"the initial series (to day {initial[-1]:g}) must fit the horizon"
        )
    if maintenance_months is None:
        return initial
    mlo, mhi = MAINTENANCE_MONTHS
    if not mlo <= maintenance_months <= mhi:
        raise ModelRangeError(
            f"maintenance_months: {maintenance_months:g} is outside the validated range "
            f"{mlo:g}-{mhi:g} months"
        )
    return np.concatenate([initial, _upkeep_days(float(initial[-1]), maintenance_months, end)])


def _upkeep_days(last_initial: float, maintenance_months: float, end: int) -> NDArray[np.float64]:
    """Maintenance days every ``M`` months after ``last_initial`` up to ``end`` [days]."""
    step = maintenance_months * DAYS_PER_MONTH
    count = math.floor((end - last_initial) / step + 1e-9)
    maint = np.round(last_initial + step * np.arange(1, count + 1, dtype=np.float64))
    return np.asarray(maint[maint <= end], dtype=np.float64)


def upkeep_grid(maintenance_months: float) -> list[int]:
    """Whole-month upkeep intervals behind the headline months for upkeep every ``M`` months.

    Every whole number of months from the shortest validated interval (3) to ``M`` rounded up:
    the headline is the least time noticeable over these schedules (see
    :func:`forecast`), so it never grows when ``M`` grows.
    """
    lo = math.ceil(MAINTENANCE_MONTHS[0])
    return list(range(lo, max(lo, math.ceil(maintenance_months - 1e-9)) + 1))


def check_initial_count(n_initial: object, n_sessions: int) -> int:
    """The caller's count of initial-series sessions, checked (never inferred from the gaps).

    Raises
    ------
    InputError
        when ``n_initial`` is missing (``None``), not a whole number, or not within
        ``1-n_sessions``. The model does not guess which sessions are the series: a gap rule
        reads frequent maintenance as part of the series and reports nonsense durations.
    """
    if n_initial is None:
        raise InputError.one(
            "n_initial",
            None,
            "must be given: how many of the sessions are the initial series (the rest are "
            "maintenance); the model does not infer it from the gaps",
        )
    if isinstance(n_initial, bool) or not isinstance(n_initial, int | np.integer):
        raise InputError.one("n_initial", n_initial, "must be a whole number")
    if not 1 <= int(n_initial) <= n_sessions:
        raise InputError.one("n_initial", n_initial, f"must be 1-{n_sessions}")
    return int(n_initial)


def _check_age(assessment: Assessment) -> None:
    lo, hi = VALIDATED_AGE
    if not lo <= assessment.age <= hi:
        raise ModelRangeError(
            f"age: {assessment.age} is outside the model's validated range {lo}-{hi} years"
        )


def _check_sessions(session_days: Sequence[float] | ArrayLike, end: int) -> NDArray[np.float64]:
    try:
        s = np.asarray(session_days, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError.one("session_days", session_days, "must be numbers") from None
    if s.ndim != 1 or s.size == 0:
        raise InputError.one("session_days", s.tolist(), "must be a non-empty list of days")
    if not np.all(np.isfinite(s)):
        raise InputError.one("session_days", s.tolist(), "must be finite numbers")
    if s[0] != 0:
        raise InputError.one("session_days", float(s[0]), "the first session must be day 0")
    if s.size > MAX_SESSIONS:
        raise ModelRangeError(
            f"session_days: {s.size} sessions is outside the validated range (at most "
            f"{MAX_SESSIONS})"
        )
    gaps = np.diff(s)
    if np.any(gaps <= 0):
        raise InputError.one("session_days", s.tolist(), "must be strictly increasing")
    if np.any(gaps < MIN_SESSION_GAP_DAYS):
        raise ModelRangeError(
            f"session_days: sessions {float(gaps.min()):g} days apart are outside the validated "
            f"range (at least {MIN_SESSION_GAP_DAYS:g} days)"
        )
    if s[-1] > end:
        raise InputError.one(
            "session_days", float(s[-1]), f"must fall inside the horizon (day {end})"
        )
    return s

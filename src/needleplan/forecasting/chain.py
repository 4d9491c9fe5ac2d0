"""Assessment + schedule -> firmness curves, uncertainty band, milestones and scenarios.

The public entry points are :func:`forecast`, :func:`series_days` and :func:`compare_scenarios`.
Improvement is in % of the patient's own pre-treatment firmness; days count from the first
session (day 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.domain import Assessment
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.models import (
    CurveInputs,
    ageing_rate,
    conditional_persistence,
    improvement,
    patient_modifiers,
    persistence_from,
    random_effects,
    session_doses,
)
from needleplan.forecasting.params import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    ModelParams,
    default_params,
)

if TYPE_CHECKING:
    pass

#: Validated range of the model (outside it the forecast raises ModelRangeError).
MAX_YEARS = 15.0
MIN_SESSION_GAP_DAYS = 7.0
MAX_SESSIONS = 60
INITIAL_INTERVAL_DAYS = (14.0, 90.0)
MAINTENANCE_MONTHS = (3.0, 24.0)
MAX_INITIAL_SESSIONS = 20
MAX_DRAWS = 100_000
QUANTILES = (0.10, 0.50, 0.90)
#: Days after each session on which the band's knots are weekly (then every 28 days) [days].
KNOT_DENSE_DAYS = 63.0
KNOT_EARLY_DAYS = np.array([2.0, 4.0, 10.0])
VALIDATED_AGE = (18, 90)


# --------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------
def curve_inputs(
    assessment: Assessment,
    session_days: NDArray[np.float64],
    z: ArrayLike,
    params: ModelParams,
    persistence: ArrayLike | None = None,
) -> CurveInputs:
    """Model inputs for ``n`` curves of one patient, one per random-effect pair.

    ``z`` holds her response effects ``u_R`` and ``persistence`` her persistence effects
    ``u_P`` (same length); without ``persistence``, ``u_P`` is its mean given ``u_R``
    (``rho u_R``). Combines the typical-patient parameters, the assessment's covariate
    multipliers and the random effects into session doses, fading rates, capacity and ageing.
    """
    zz = np.atleast_1d(np.asarray(z, dtype=np.float64))[:, None]
    up = (
        conditional_persistence(zz, params)
        if persistence is None
        else np.atleast_1d(np.asarray(persistence, dtype=np.float64))[:, None]
    )
    if up.shape != zz.shape:
        raise InputError.one("persistence", up.shape, f"must match the response effects {zz.shape}")
    mods = patient_modifiers(assessment)
    re = random_effects(zz, up, params)
    gain = params.gain * mods.response * re.response
    doses = session_doses(
        session_days,
        gain,
        age=float(assessment.age),
        heal_days=params.heal_days * mods.heal,
        age_response_per_decade=params.age_response_per_decade,
    )
    return CurveInputs(
        session_days=session_days,
        doses=doses,
        k_build=params.k_build,
        k_fast=params.k_fast * mods.fade * re.fade,
        k_slow=params.k_slow * mods.fade * re.fade,
        remodelled_fraction=params.remodelled_fraction,
        capacity=params.capacity * mods.capacity,
        ageing_rate=ageing_rate(
            params.ageing_rate_per_year,
            float(assessment.age),
            params.age_ageing_per_decade,
            mods.ageing * re.ageing,
        ),
    )


def simulate(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    z: ArrayLike,
    *,
    years: float = 10.0,
    params: ModelParams | None = None,
    persistence: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Improvement curves for given random effects, every day (no shortcut).

    ``z`` are response effects ``u_R``; ``persistence`` the matching ``u_P`` (default: its
    mean given ``u_R``, ``rho u_R``; see :func:`curve_inputs`).

    Returns
    -------
    day : ndarray, shape (D,)
        Daily grid from 0 [days].
    curves : ndarray, shape (n, D)
        Improvement [% of pre-treatment firmness] for each ``z``.
    """
    _check_years(years)
    _check_age(assessment)
    p = default_params() if params is None else params
    end = horizon_days(years)
    s = _check_sessions(session_days, end)
    day = np.arange(end + 1, dtype=np.float64)
    return day, improvement(day, curve_inputs(assessment, s, z, p, persistence))


def _first_drop(
    day: NDArray[np.float64], curves: NDArray[np.float64], threshold: float, start: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Moment each curve first falls below ``threshold`` after grid index ``start``.

    Linear interpolation between days; ``day[-1]`` and censored=True if it never does.
    """
    n_days = day.size
    if start + 1 >= n_days:  # nothing after the start: noticeable or not, it is censored
        return np.full(curves.shape[0], day[-1]), np.ones(curves.shape[0], dtype=bool)
    below = curves[:, start + 1 :] < threshold
    ends = below.any(axis=1)
    end_idx = np.where(ends, start + 1 + np.argmax(below, axis=1), n_days - 1)
    rows = np.arange(curves.shape[0])
    prev = np.maximum(end_idx - 1, 0)
    v0 = curves[rows, prev]
    v1 = curves[rows, end_idx]
    drop = v0 - v1
    frac = np.where(drop > 0, (v0 - threshold) / np.where(drop > 0, drop, 1.0), 1.0)
    crossing = day[prev] + np.clip(frac, 0.0, 1.0) * (day[end_idx] - day[prev])
    return (
        np.asarray(np.where(ends, crossing, day[-1]), dtype=np.float64),
        np.asarray(~ends, dtype=bool),
    )


def noticeable_span(
    day: NDArray[np.float64],
    curves: NDArray[np.float64],
    threshold: float,
    from_day: float,
    anchor_day: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """How long each curve stays noticeable, without a break, after ``from_day`` [days].

    A curve noticeable at ``anchor_day`` (``forecast`` uses the typical response peak after the
    last initial session, :func:`response_peak_days`) stays noticeable until it first falls
    below ``threshold`` after the anchor; a curve noticeable at ``from_day`` but not at the
    anchor, until it first falls below after ``from_day``; otherwise the span is 0. Without an
    anchor, each curve is judged from its own first noticeable day after ``from_day``. A dip below the
    threshold before a maintenance session ends the span even if the session lifts it again.
    The anchor does not depend on the curve, so a curve that is higher on every day never gets
    a shorter span (the monotonicity the band and the Hypothesis properties rely on).

    Returns
    -------
    span : ndarray, shape (n,)
        Days from ``from_day`` to the end of the unbroken noticeable improvement [days].
    censored : ndarray of bool, shape (n,)
        True where the curve is still noticeable on the horizon's last day (a lower bound).
    """
    last = day.size - 1
    i_from = min(int(np.searchsorted(day, from_day, side="left")), last)
    if anchor_day is None:
        # Each curve judged from its own first noticeable day: not monotone (a late riser can
        # outlast a higher curve that dipped earlier), kept for single curves only.
        above = (curves >= threshold) & (np.arange(day.size) >= i_from)[None, :]
        has = above.any(axis=1)
        first = np.argmax(above, axis=1)
        ends = np.empty(curves.shape[0])
        cens = np.zeros(curves.shape[0], dtype=bool)
        for row in range(curves.shape[0]):  # loop over curves (a handful), not days
            e, c = _first_drop(day, curves[row : row + 1], threshold, int(first[row]))
            ends[row], cens[row] = e[0], c[0]
        span = np.where(has, np.maximum(ends - from_day, 0.0), 0.0)
        return np.asarray(span, dtype=np.float64), np.asarray(has & cens, dtype=bool)
    anchor = max(anchor_day, from_day)
    i_anchor = min(int(np.searchsorted(day, anchor, side="left")), last)
    at_anchor = curves[:, i_anchor] >= threshold
    at_from = curves[:, i_from] >= threshold
    end_a, cens_a = _first_drop(day, curves, threshold, i_anchor)
    end_f, cens_f = _first_drop(day, curves, threshold, i_from)
    end = np.where(at_anchor, end_a, np.where(at_from, end_f, from_day))
    censored = np.asarray(np.where(at_anchor, cens_a, at_from & cens_f), dtype=bool)
    span = np.asarray(np.maximum(end - from_day, 0.0), dtype=np.float64)
    return span, censored


def noticeable_time(
    day: NDArray[np.float64],
    curves: NDArray[np.float64],
    threshold: float,
    from_day: float,
    anchor_day: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Time each curve is noticeable between ``from_day`` and the horizon, breaks excluded [days].

    The headline "months noticeable" (see docs/model.md, "Headline metrics"): every stretch at
    or above ``threshold`` from ``from_day`` (the last initial session) to the last grid day
    counts, a dip before a maintenance session does not end the count, and the build-up from
    ``from_day`` to ``anchor_day`` (the typical response peak) counts in full when the curve is
    noticeable at the anchor. Linear between grid days, so a crossing is counted to the
    interpolated moment. Without maintenance it equals :func:`noticeable_span` (the curve falls
    through the threshold once); with maintenance it never grows when upkeep becomes less
    frequent (a Hypothesis property over 3-24 months), unlike the time to the first dip, which
    is a sawtooth in the interval. A curve that is higher on every day never gets less time.

    Returns
    -------
    time : ndarray, shape (n,)
        Days noticeable from ``from_day`` to the horizon [days].
    censored : ndarray of bool, shape (n,)
        True where the curve is still noticeable on the last grid day (the time is a lower
        bound: the horizon cut it).
    """
    last = day.size - 1
    n = curves.shape[0]
    i_from = min(int(np.searchsorted(day, from_day, side="left")), last)
    i_anchor = min(int(np.searchsorted(day, max(anchor_day, from_day), side="left")), last)
    width = np.diff(day)
    seg = np.arange(last)
    # the weight of each segment in the count before and after the anchor
    w_pre = np.where((seg >= i_from) & (seg < i_anchor), width, 0.0)
    w_post = np.where(seg >= i_anchor, width, 0.0)
    up = curves >= threshold
    both = up[:, :-1] & up[:, 1:]
    # whole segments at or above the threshold (no per-day loop)
    pre: NDArray[np.float64] = np.asarray(both @ w_pre, dtype=np.float64)
    post: NDArray[np.float64] = np.asarray(both @ w_post, dtype=np.float64)
    rows, cols = np.nonzero(up[:, :-1] ^ up[:, 1:])  # the few segments that cross it
    if rows.size:
        v0 = curves[rows, cols]
        v1 = curves[rows, cols + 1]
        frac = np.clip((np.maximum(v0, v1) - threshold) / np.abs(v1 - v0), 0.0, 1.0)
        pre = pre + np.bincount(rows, frac * w_pre[cols], minlength=n)
        post = post + np.bincount(rows, frac * w_post[cols], minlength=n)
    at_anchor = up[:, i_anchor]
    pre = np.where(at_anchor, day[i_anchor] - day[i_from], pre)
    return (
        np.asarray(pre + post, dtype=np.float64),
        np.asarray(up[:, last], dtype=bool),
    )


def response_peak_days(params: ModelParams) -> float:
    """Days from a session to the peak of the typical fast response ``ln(k_b/k_f)/(k_b-k_f)``."""
    kb, kf = params.k_build, params.k_fast
    return float(math.log(kb / kf) / (kb - kf))


def _quantile_positions(n: int, q: float) -> tuple[int, int, float]:
    """Order-statistic indices and weight of numpy's default ('linear') sample quantile."""
    h = (n - 1) * q
    j = math.floor(h)
    return j, min(j + 1, n - 1), h - j


@dataclass(frozen=True)
class Band:
    """The typical patient's value (``median``) and the 80 % band across the population draws.

    ``p10_censored`` / ``p90_censored`` mark a quantile that the horizon cut off: the patients at
    that quantile are still noticeable on the last day, so the value is a lower bound.
    """

    median: float
    p10: float
    p90: float
    p10_censored: bool = False
    p90_censored: bool = False

    def to_json(self, ndigits: int = 2) -> dict[str, float | bool]:
        return {
            "median": round(self.median, ndigits),
            "p10": round(self.p10, ndigits),
            "p90": round(self.p90, ndigits),
            "p10_censored": self.p10_censored,
            "p90_censored": self.p90_censored,
        }


@dataclass(frozen=True)
class Milestones:
    """Landmarks of a forecast (days from the first session).

    Attributes
    ----------
    peak_day : int
        Day of the highest median improvement [days].
    peak_improvement : float
        Median improvement on that day [% of pre-treatment firmness].
    noticeable_months_after_last_initial : Band
        Months from the last initial session until the improvement first falls below the
        noticeable threshold (judged from the typical response peak on, see
        :func:`noticeable_span`), across draws (p10 is the slow responder) [months].
    noticeable_censored : bool
        True if the median is still noticeable at the horizon (the months are a lower bound).
    back_to_baseline_day : int or None
        First day after the peak on which the median improvement is back to 0 (the
        pre-treatment level) [days]; None if not within the horizon.
    last_initial_day : int
        Day of the last session of the initial series [days].
    noticeable_years_total : float
        Time the median curve spends at or above the threshold over the horizon [years].
    noticeable_months_population_median : float
        Median over the draws of each patient's noticeable months (the band's median is the
        typical patient's) [months].
    """

    peak_day: int
    peak_improvement: float
    noticeable_months_after_last_initial: Band
    noticeable_censored: bool
    back_to_baseline_day: int | None
    last_initial_day: int
    noticeable_years_total: float
    noticeable_months_population_median: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "peak_day": self.peak_day,
            "peak_improvement": round(self.peak_improvement, 3),
            "noticeable_months_after_last_initial": {
                **self.noticeable_months_after_last_initial.to_json(),
                "censored_at_horizon": self.noticeable_censored,
            },
            "back_to_baseline_day": self.back_to_baseline_day,
            "last_initial_day": self.last_initial_day,
            "noticeable_years_total": round(self.noticeable_years_total, 3),
            "noticeable_months_population_median": round(
                self.noticeable_months_population_median, 2
            ),
        }


@dataclass(frozen=True)
class ForecastResult:
    """Population forecast for one patient and one schedule.

    Attributes
    ----------
    day : ndarray
        Daily grid from the first session [days].
    median, p10, p90 : ndarray
        Improvement across draws on each day [% of pre-treatment firmness].
    noticeable_threshold : float
        Just-noticeable improvement [% of pre-treatment firmness].
    session_days : ndarray
        Session days [days].
    n_initial : int
        Sessions in the initial series (the rest are maintenance).
    milestones : Milestones
    anchor_days : float
        Days after the last initial session at which "noticeable" is first judged (the typical
        response peak, see :func:`noticeable_span`) [days].
    years, draws, seed :
        The horizon [years] and Monte Carlo settings used.
    """

    day: NDArray[np.float64]
    median: NDArray[np.float64]
    p10: NDArray[np.float64]
    p90: NDArray[np.float64]
    noticeable_threshold: float
    session_days: NDArray[np.float64]
    n_initial: int
    milestones: Milestones
    years: float
    draws: int
    seed: int
    factors: tuple[str, ...] = field(default_factory=tuple)
    anchor_days: float = 0.0

    @property
    def last_initial_day(self) -> float:
        return float(self.session_days[self.n_initial - 1])

    def improvement_on(self, day: float) -> float:
        """Median improvement on ``day`` (linear between grid days) [% of pre-treatment]."""
        return float(np.interp(day, self.day, self.median))

    def to_json(self, *, ndigits: int = 3) -> dict[str, Any]:
        """The ``needleplan forecast --json`` document."""
        return {
            "session_days": [
                int(d) if float(d).is_integer() else float(d) for d in self.session_days
            ],
            "initial_sessions": self.n_initial,
            "noticeable_threshold": self.noticeable_threshold,
            "years": self.years,
            "draws": self.draws,
            "seed": self.seed,
            "factors": list(self.factors),
            "milestones": self.milestones.to_json(),
            "curve": {
                "day": [int(d) for d in self.day],
                "median": np.round(self.median, ndigits).tolist(),
                "p10": np.round(self.p10, ndigits).tolist(),
                "p90": np.round(self.p90, ndigits).tolist(),
            },
        }


def _milestones(
    day: NDArray[np.float64],
    median: NDArray[np.float64],
    spans: Band,
    censored: bool,
    threshold: float,
    last_initial: float,
    population_months: float,
) -> Milestones:
    peak = int(np.argmax(median))
    after = np.nonzero(median[peak:] <= 0.0)[0]
    back = int(day[peak + after[0]]) if after.size else None
    above = median >= threshold
    return Milestones(
        peak_day=int(day[peak]),
        peak_improvement=float(median[peak]),
        noticeable_months_after_last_initial=spans,
        noticeable_censored=censored,
        back_to_baseline_day=back,
        last_initial_day=round(last_initial),
        noticeable_years_total=float(np.count_nonzero(above)) / DAYS_PER_YEAR,
        noticeable_months_population_median=population_months,
    )


def knot_days(
    session_days: NDArray[np.float64], end: int, extra: Sequence[float] = ()
) -> NDArray[np.float64]:
    """Days on which every draw is evaluated for the band [days].

    Every session day, days 2, 4 and 10 after it (where the new response bends most), every 7
    days for 9 weeks after each session (the build-up; later the curves bend slowly), every 28 days
    elsewhere, the horizon's last day and ``extra`` (e.g. the noticeable anchor). Between knots
    the band is linear; the curves are smooth there (a test bounds the error against every
    day of every draw).
    """
    pts = [np.arange(0.0, end + 1.0, 28.0), np.asarray(session_days, dtype=np.float64)]
    for s0 in session_days:
        pts.append(s0 + KNOT_EARLY_DAYS)
        pts.append(s0 + np.arange(7.0, KNOT_DENSE_DAYS + 1.0, 7.0))
    pts.append(np.asarray([float(end), *extra], dtype=np.float64))
    k = np.unique(np.concatenate(pts))
    return np.asarray(k[(k >= 0) & (k <= end)], dtype=np.float64)


def _sample_band(
    values: NDArray[np.float64], censored: NDArray[np.bool_] | None = None
) -> tuple[NDArray[np.float64], ...]:
    """numpy's default sample p10 and p90 across draws (axis 0) and, with ``censored``, whether
    both order statistics behind each are censored."""
    n = values.shape[0]
    pos = [_quantile_positions(n, q) for q in (QUANTILES[0], QUANTILES[2])]
    kth = sorted({i for j, k, _ in pos for i in (j, k)})
    out: list[NDArray[np.float64]] = []
    flags: list[NDArray[np.float64]] = []
    if censored is None:
        srt = np.partition(values, kth, axis=0)  # O(n) per column, the order statistics only
    else:
        order = np.argsort(values, axis=0, kind="stable")
        srt = np.take_along_axis(values, order, axis=0)
        c = np.take_along_axis(censored, order, axis=0)
    for j, k, w in pos:
        out.append(np.asarray(srt[j] + w * (srt[k] - srt[j]), dtype=np.float64))
        if censored is not None:
            flags.append(np.asarray(c[j] & c[k], dtype=np.float64))
    return (*out, *flags)


def forecast(
    assessment: Assessment,
    session_days: Sequence[float] | NDArray[np.float64],
    *,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
    n_initial: int | None = None,
    z_transform: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
    band: bool = True,
    maintenance_months: float | None = None,
) -> ForecastResult:
    """Forecast the improvement for a patient and a schedule, with the population band.

    Parameters
    ----------
    assessment : Assessment
        The patient (age 18-90; factors set response, fading, ageing and healing).
    session_days : sequence of float
        Session days from the first session [days]; first 0, ascending, at least 7 days apart,
        inside the horizon.
    years : float
        Horizon [years], at most 15.
    draws : int
        Population draws (patients like her) for the p10-p90 band.
    seed : int
        Seed of the ``numpy.random.Generator`` (reproducible).
    params : ModelParams, optional
        Parameters (default: the shipped calibration).
    n_initial : int
        Sessions in the initial series (the rest are maintenance). Required: ``None`` raises
        ``InputError`` (the model never infers the series from the gaps).
    z_transform : callable, optional
        A monotone increasing map applied to the standard-normal draws of her response effect
        ``u_R`` (and to its median 0): a patient's posterior over ``u_R``
        (:meth:`needleplan.forecasting.learning.ZPosterior.transform`) instead of the
        population prior. Her persistence effect follows its prior given ``u_R``.
    band : bool
        False skips the draws: the typical patient only, the band collapsed onto it (for
        searches that read the central curve, such as the optimiser's).
    maintenance_months : float, optional
        The caller's statement that the sessions after the series are upkeep every ``M``
        months (as :func:`series_days` lays them out; anything else raises ``InputError``).
        Then the headline months (the typical patient's) are the least over upkeep every
        3, 4, ... ``ceil(M)`` months (:func:`upkeep_grid`): "at least this long if she comes
        back at least every ``ceil(M)`` months", which never grows when upkeep becomes less
        frequent. Without it the headline is this schedule's own time noticeable.

    Returns
    -------
    ForecastResult

    Raises
    ------
    InputError
        for malformed input; ``ModelRangeError`` outside the validated range.

    Notes
    -----
    The central curve (``median``) is the **typical patient**'s curve: both random effects at
    their median (``u_R = 0`` or its posterior median, ``u_P`` its mean given ``u_R``), every
    day, exactly. The band (``p10``, ``p90``) is the daily sample quantile across ``draws``
    patients, each with her own pair ``(u_R, u_P)``: ``u_R`` is the first ``draws`` standard
    normals of the seeded generator, ``u_P = rho u_R + sqrt(1 - rho^2) e`` with ``e`` the next
    ``draws``. The draws are evaluated on :func:`knot_days` and the quantiles interpolated
    linearly between knots (a test bounds the difference to the quantiles of every day). The
    noticeable months' band is the sample p10/p90 of each draw's duration on the knots; its
    median is the typical patient's; the population median of the durations is reported too.
    """
    _check_years(years)
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise InputError.one("draws", draws, f"must be a whole number 1-{MAX_DRAWS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError.one("seed", seed, "must be a whole number >= 0")
    _check_age(assessment)
    p = default_params() if params is None else params
    end = horizon_days(years)
    s = _check_sessions(session_days, end)
    n_init = check_initial_count(n_initial, int(s.size))
    rng = np.random.default_rng(seed)
    u_r = rng.standard_normal(draws)
    e = rng.standard_normal(draws)
    centre = np.zeros(1)
    if z_transform is not None:
        u_r = np.asarray(z_transform(u_r), dtype=np.float64)
        centre = np.asarray(z_transform(centre), dtype=np.float64)
    u_p = persistence_from(u_r, e, p)
    day = np.arange(end + 1, dtype=np.float64)
    last_initial = float(s[n_init - 1])
    anchor = last_initial + response_peak_days(p)
    mods = patient_modifiers(assessment)
    threshold = p.noticeable_threshold * mods.threshold  # her goal sets what she notices
    # The typical patient, every day.
    median = improvement(day, curve_inputs(assessment, s, centre, p))[0]
    span_mid, cens_mid = noticeable_time(day, median[None, :], threshold, last_initial, anchor)
    if band:  # every draw on the knots
        knots = knot_days(s, end, (anchor,))
        curves = improvement(knots, curve_inputs(assessment, s, u_r, p, u_p))
        k10, k90 = _sample_band(curves)
        p10 = np.minimum(np.interp(day, knots, k10), median)
        p90 = np.maximum(np.interp(day, knots, k90), median)
        span, cens = noticeable_time(knots, curves, threshold, last_initial, anchor)
        s10, s90, c10, c90 = _sample_band(span[:, None], cens[:, None])
    else:
        p10, p90, span = median, median, span_mid
        s10 = s90 = span_mid
        c10 = c90 = cens_mid.astype(np.float64)
    head, head_cens = float(span_mid[0]), bool(cens_mid[0])
    if maintenance_months is not None:
        head, head_cens = _upkeep_envelope(
            assessment, s, n_init, maintenance_months, end, p, centre, threshold, anchor
        )
    months = Band(
        median=head / DAYS_PER_MONTH,
        p10=min(float(s10[0]), head) / DAYS_PER_MONTH,
        p90=max(float(s90[0]), head) / DAYS_PER_MONTH,
        p10_censored=bool(c10[0]),
        p90_censored=bool(c90[0]),
    )
    return ForecastResult(
        day=day,
        median=median,
        p10=p10,
        p90=p90,
        noticeable_threshold=threshold,
        session_days=s,
        n_initial=n_init,
        milestones=_milestones(
            day,
            median,
            months,
            head_cens,
            threshold,
            last_initial,
            float(np.median(span)) / DAYS_PER_MONTH,
        ),
        years=float(years),
        draws=draws,
        seed=seed,
        factors=mods.factors,
        anchor_days=response_peak_days(p),
    )


def _upkeep_envelope(
    assessment: Assessment,
    s: NDArray[np.float64],
    n_init: int,
    maintenance_months: float,
    end: int,
    p: ModelParams,
    centre: NDArray[np.float64],
    threshold: float,
    anchor: float,
) -> tuple[float, bool]:
    """The typical patient's least time noticeable over upkeep every 3..ceil(M) months [days].

    Also whether that least value is censored by the horizon (a lower bound).
    """
    m = maintenance_months
    if isinstance(m, bool) or not isinstance(m, int | float) or not m == m:
        raise InputError.one("maintenance_months", m, "must be a number")
    mlo, mhi = MAINTENANCE_MONTHS
    if not mlo <= m <= mhi:
        raise ModelRangeError(
            f"maintenance_months: {m:g} is outside the validated range {mlo:g}-{mhi:g} months"
        )
    last_initial = float(s[n_init - 1])
    if not np.array_equal(s[n_init:], _upkeep_days(last_initial, float(m), end)):
        raise InputError.one(
            "maintenance_months",
            m,
            "must describe the sessions after the initial series (upkeep every M months from "
            "the last initial session to the horizon)",
        )
    day = np.arange(end + 1, dtype=np.float64)
    best, best_cens = math.inf, False
    for g in upkeep_grid(float(m)):  # at most 22 schedules, the typical patient only
        sd = np.concatenate([s[:n_init], _upkeep_days(last_initial, float(g), end)])
        curve = improvement(day, curve_inputs(assessment, sd, centre, p))
        t, c = noticeable_time(day, curve, threshold, last_initial, anchor)
        if float(t[0]) < best:
            best, best_cens = float(t[0]), bool(c[0])
    return best, best_cens

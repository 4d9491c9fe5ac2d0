"""Each patient's planned course: her initial series, then maintenance when recall falls due.

The recall rule is the clinic's (:mod:`needleplan.scheduling.recall`): after each session, the
recall falls on the day her forecast median improvement drops to the clinic's recall threshold
after the peak that follows the session (:func:`~needleplan.scheduling.recall.threshold_crossing`,
linear between whole days), kept within her protocol's maintenance window
(``maintenance_interval_months``, counted here in model months of 30.44 days) from that session
(:func:`~needleplan.scheduling.recall.recall_day`), and rounded down to a whole day
(:func:`~needleplan.scheduling.recall.maintenance_due`). Her forecast median is the one the
clinic sees: the typical patient for her assessment (both random effects at their median, 0),
exactly as :func:`~needleplan.forecasting.chain.forecast` computes its central curve, not her own
random effects, which nobody knows in advance.

The maintenance session is planned on the recall day; the next recall follows from the course
including that session, until her horizon. The plan assumes every visit is kept; missed visits
are applied afterwards (:mod:`needleplan.cohort.engine`), so recall days do not move when she
misses one. The plan depends only on her profile and age, so it is computed once per distinct
(profile, age), vectorised over them, with a loop over maintenance rounds only.

Finding the crossing without evaluating every day
-------------------------------------------------
After a session the treatment dose is ``Z(tau) = a e^{-k_f tau} + b e^{-k_s tau} - c e^{-k_b tau}``
with ``a, b, c >= 0`` when ``k_b > k_f, k_s``. Then ``Z' e^{k_b tau}`` is decreasing, so ``Z``
rises to one peak ``tau_Z`` (found by bisection) and falls, and ``Z'' < 0`` while it rises. The
improvement ``I = C (1 - e^{-Z/C}) - 100 (1 - e^{-r t})`` falls wherever ``Z`` falls, and while
``Z`` rises the ratio ``rho = e^{-Z/C} Z' / (100 r e^{-r t})`` decreases whenever ``rho >= 1``
(its log-derivative is ``-Z'/C + Z''/Z' + r < 0`` there, because ``Z'/C > r`` when
``C < 100 e^{-r t}``), so ``I`` rises at most once and then falls for good. The median is a
weighted mean of two such curves, so it only falls after ``P = max(tau_Z)`` of the two: its
peak lies in ``[0, P]`` (evaluated day by day) and after ``P`` the first day at or below the
threshold is found by bisection over whole days. Rows where the conditions do not hold are
evaluated day by day over the whole window. ``exhaustive=True`` evaluates every row day by day
(the tests check that both give the same days).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.curve import MedianCurve, median_values
from needleplan.cohort.model import (
    PatientRates,
    age_factor,
    improvement_from,
    patient_rates,
    propagate,
    session_doses,
    session_states,
)
from needleplan.cohort.profiles import (
    AGEING,
    CAPACITY,
    FADE,
    HEAL,
    INTERVAL,
    MAINT_MAX,
    MAINT_MIN,
    N_INITIAL,
    RESPONSE,
)
from needleplan.forecasting.chain import MAINTENANCE_MONTHS
from needleplan.forecasting.models import ageing_decline, saturate
from needleplan.forecasting.params import DAYS_PER_MONTH, ModelParams

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@cache
def recall_draws() -> tuple[int, int]:
    """Draws and seed the clinic's recall forecast uses (the defaults of ``maintenance_due``)."""
    from needleplan.scheduling.recall import maintenance_due

    sig = inspect.signature(maintenance_due).parameters
    return int(sig["draws"].default), int(sig["seed"].default)


@cache
def median_z() -> tuple[float, float, float]:
    """The response effects behind the forecast's central curve, and their weight.

    :func:`~needleplan.forecasting.chain.forecast`'s central curve is the typical patient's
    (``u_R = 0``, ``u_P`` its mean given ``u_R``, also 0), whatever the draws and seed: both
    curves are at 0 and the weight is 0 (kept as a pair so the crossing search below stays
    general).
    """
    return 0.0, 0.0, 0.0


def max_rounds(last_day: int) -> int:
    """Most maintenance recalls that fit ``last_day`` days (at the shortest validated interval)."""
    return math.floor(last_day / (MAINTENANCE_MONTHS[0] * DAYS_PER_MONTH)) + 1


def initial_days(n_initial: FloatArray, interval: FloatArray) -> FloatArray:
    """Initial series days ``round(k * interval)`` [days], NaN after her last, ``(n, max n)``.

    As :func:`needleplan.forecasting.chain.series_days`.
    """
    width = int(n_initial.max()) if n_initial.size else 1
    k = np.arange(width, dtype=np.float64)[None, :]
    return np.asarray(
        np.where(k < n_initial[:, None], np.round(k * interval[:, None]), np.nan),
        dtype=np.float64,
    )


#: Longest recall window [days] and the bisection steps that narrow it below one day.
_MAX_SPAN = math.ceil(MAINTENANCE_MONTHS[1] * DAYS_PER_MONTH) + 1
_BISECTIONS = math.ceil(math.log2(_MAX_SPAN)) + 1
#: Bisection steps of the rough first bound of the median (most rows never rise to the
#: threshold, and a bound from a window of about three weeks shows it).
_ROUGH_STEPS = 4
#: A bound of the median this far below the threshold [% of pre-treatment] settles the row
#: (rounding in the model's sums is about 1e-13 here).
_MARGIN = 1e-9


@dataclass(frozen=True)
class Plans:
    """Planned maintenance (= recall) days [days from her first session], one row per plan.

    Attributes
    ----------
    maintenance : ndarray, shape (U, R)
        Recall days in order; NaN once past the row's last day.
    forecast_recall : ndarray, shape (U, R)
        The unclamped day her forecast median falls to the threshold; NaN where it does not
        within the window.
    """

    maintenance: FloatArray
    forecast_recall: FloatArray


@dataclass(frozen=True)
class _Round:
    """The median curve of each row after its latest planned session.

    ``rates`` and the states hold ``U`` rows when the two median curves coincide (the forecast's
    central curve, :func:`median_z`), else ``2U`` rows: ``z_lo`` then ``z_hi``.
    """

    rates: PatientRates
    p: FloatArray
    cf: FloatArray
    cs: FloatArray
    last: FloatArray  # (U,)
    weight: float
    params: ModelParams
    curve: MedianCurve | None = None  # the regrouped median (single curve only)

    @classmethod
    def after(
        cls,
        rates: PatientRates,
        p: FloatArray,
        cf: FloatArray,
        cs: FloatArray,
        last: FloatArray,
        weight: float,
        params: ModelParams,
    ) -> _Round:
        """The round after a session on day ``last`` with the state ``(P, C_f, C_s)``."""
        single = int(p.shape[0]) == int(last.size)
        curve = MedianCurve.of(p, cf, cs, last, rates, params) if single else None
        return cls(rates, p, cf, cs, last, weight, params, curve)

    @property
    def single(self) -> bool:
        return int(self.p.shape[0]) == int(self.last.size)

    def take(self, rows: NDArray[np.int64]) -> _Round:
        """The same rounds for a subset of rows (each row's figures depend on it alone)."""
        both = rows if self.single else np.concatenate([rows, rows + self.last.size])
        return _Round(
            self.rates.rows(both),
            self.p[both],
            self.cf[both],
            self.cs[both],
            self.last[rows],
            self.weight,
            self.params,
            None if self.curve is None else self.curve.take(rows),
        )

    def median(self, tau: FloatArray) -> FloatArray:
        """Median improvement ``tau`` days after the last session, ``tau`` (1, T) or (U, T)."""
        u = self.last.size
        if self.curve is not None:
            return median_values(self.curve, tau, self.p, self.cf, self.cs, self.rates, self.params)
        if self.single:
            day = self.last[:, None] + tau
            return improvement_from(self.p, self.cf, self.cs, tau, day, self.rates, self.params)
        t = tau if tau.shape[0] == 1 else np.concatenate([tau, tau])
        day = np.concatenate([self.last, self.last])[:, None] + t
        curves = improvement_from(self.p, self.cf, self.cs, t, day, self.rates, self.params)
        lo, hi = curves[:u], curves[u:]
        return np.asarray(lo + self.weight * (hi - lo), dtype=np.float64)

    def at(self, tau: FloatArray) -> FloatArray:
        """Median improvement of each row on its own day ``tau`` [days after the session], (U,)."""
        return self.median(tau[:, None])[:, 0]

    def unimodal(self, span: FloatArray) -> BoolArray:
        """Where the conditions of the module docstring hold (the median rises at most once,
        then falls for good), per row: the cheap part of :meth:`dose_peak_bound`."""
        kb = self.params.k_build
        r = self.rates
        u = self.last.size
        span2 = span if self.single else np.concatenate([span, span])
        last2 = self.last if self.single else np.concatenate([self.last, self.last])
        ok = (
            (r.k_fast[:, 0] < kb * (1 - 1e-3))
            & (r.k_slow[:, 0] < kb * (1 - 1e-3))
            & (r.capacity[:, 0] < 100.0 * np.exp(-r.ageing_rate[:, 0] * (last2 + span2)))
        )
        return np.asarray(ok if self.single else ok[:u] & ok[u:])

    def quick_bound(self) -> FloatArray:
        """An upper bound of the median after the session, in closed form [% of pre-treatment].

        ``Z = a e^{-k_f t} + b e^{-k_s t} - c e^{-k_b t} <= (a + b) e^{-k_s t} - c e^{-k_b t}``
        (``k_s <= k_f``), whose peak is at ``t* = ln(c k_b / ((a + b) k_s)) / (k_b - k_s)``
        (at 0 when that is negative); then as :meth:`dose_peak_bound`. Only for rows where
        :meth:`unimodal` holds (``a, b, c >= 0``, ``k_b > k_f, k_s``); others get ``inf``.
        """
        kb, phi = self.params.k_build, self.params.remodelled_fraction
        r = self.rates
        kf, ks = r.k_fast[:, 0], r.k_slow[:, 0]
        p, cf, cs = self.p[:, 0], self.cf[:, 0], self.cs[:, 0]
        ok = (kf < kb * (1 - 1e-3)) & (ks < kb * (1 - 1e-3)) & (ks <= kf)
        gf = np.where(ok, kb - kf, 1.0)
        gs = np.where(ok, kb - ks, 1.0)
        ab = cf + cs + p * ((1 - phi) * kb / gf + phi * kb / gs)
        c = p * ((1 - phi) * kb / gf + phi * kb / gs)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.log(np.where(ok & (ab > 0), c * kb / (ab * ks), 1.0)) / gs
        t = np.maximum(np.where(np.isfinite(t), t, 0.0), 0.0)
        z_top = ab * np.exp(-ks * t) - c * np.exp(-kb * t)
        last2 = self.last if self.single else np.concatenate([self.last, self.last])
        top = saturate(z_top, r.capacity[:, 0]) - ageing_decline(last2, r.ageing_rate[:, 0])
        top = np.where(ok, top, np.inf)
        u = self.last.size
        return np.asarray(top if self.single else np.maximum(top[:u], top[u:]))

    def dose_peak_bound(
        self, span: FloatArray, steps: int = _BISECTIONS
    ) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Upper bound ``P`` of where the median can still rise [days], whether it holds, and
        an upper bound of the median over the window [% of pre-treatment firmness].

        ``P = ceil(max tau_Z) + 1`` over the two curves, capped at ``span``; ``False`` where the
        conditions of the module docstring fail (evaluate those rows day by day). The bound of
        the median: ``Z`` is concave while it rises, so its peak is at most
        ``Z(t_0) + Z'(t_0) (t_1 - t_0)`` for the last bisection step ``t_0`` where it still
        rises and the first ``t_1`` where it no longer does (``Z(0)`` when it never rises,
        ``Z(span)`` when it still rises at the end); the visible gain ``C (1 - e^{-Z/C})``
        increases with ``Z`` and the ageing decline is smallest at the session. With fewer
        bisection ``steps`` the bound of the median is looser (still a bound) and ``P`` is not
        to be used.
        """
        kb, phi = self.params.k_build, self.params.remodelled_fraction
        r = self.rates
        kf, ks = r.k_fast[:, 0], r.k_slow[:, 0]
        p, cf, cs = self.p[:, 0], self.cf[:, 0], self.cs[:, 0]
        u = self.last.size
        k = 1 if self.single else 2
        span2 = span if self.single else np.concatenate([span, span])
        last2 = self.last if self.single else np.concatenate([self.last, self.last])
        end = last2 + span2
        ok = (
            (kf < kb * (1 - 1e-3))
            & (ks < kb * (1 - 1e-3))
            & (r.capacity[:, 0] < 100.0 * np.exp(-r.ageing_rate[:, 0] * end))
        )
        gf = np.where(ok, kb - kf, 1.0)
        gs = np.where(ok, kb - ks, 1.0)
        a = cf + p * (1 - phi) * kb / gf
        b = cs + p * phi * kb / gs
        c = p * ((1 - phi) * kb / gf + phi * kb / gs)

        def slope(t: FloatArray) -> FloatArray:  # Z'(t)
            return np.asarray(
                -kf * a * np.exp(-kf * t) - ks * b * np.exp(-ks * t) + kb * c * np.exp(-kb * t)
            )

        lo, hi = np.zeros(k * u), span2.copy()
        rising_at_end = slope(hi) > 0
        for _ in range(steps):  # the same for every row, whoever shares its batch
            mid = 0.5 * (lo + hi)
            up = slope(mid) > 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        rises_at_start = slope(np.zeros(k * u)) > 0
        tau_z = np.where(rises_at_start, hi, 0.0)
        tau_z = np.where(rising_at_end, span2, tau_z)
        peak_z = tau_z if self.single else np.maximum(tau_z[:u], tau_z[u:])
        bound = np.minimum(np.ceil(peak_z) + 1.0, span)

        def dose(t: FloatArray) -> FloatArray:  # Z(t)
            return np.asarray(a * np.exp(-kf * t) + b * np.exp(-ks * t) - c * np.exp(-kb * t))

        z_top = np.where(rises_at_start, dose(lo) + slope(lo) * (hi - lo), cf + cs)
        z_top = np.where(rising_at_end, dose(span2), z_top)
        cap = r.capacity[:, 0]
        top = saturate(z_top, cap) - ageing_decline(last2, r.ageing_rate[:, 0])
        top = top if self.single else np.maximum(top[:u], top[u:])
        return bound, ok if self.single else ok[:u] & ok[u:], np.asarray(top)


@dataclass(frozen=True)
class _Found:
    """Per row: whether the median rises above the threshold, the first whole day ``j`` after
    its peak at or below it (``found``), and the median on days ``j - 1`` and ``j``."""

    rises: BoolArray
    found: BoolArray
    j: FloatArray
    m0: FloatArray
    m1: FloatArray


def _daily(rnd: _Round, span: FloatArray, threshold: float) -> _Found:
    """Evaluate every whole day ``0..span`` of each row (the reference search)."""
    u = rnd.last.size
    rows = np.arange(u)
    tau = np.arange(int(span.max()) + 1 if u else 1, dtype=np.float64)[None, :]
    m = rnd.median(tau)
    valid = tau <= span[:, None]
    peak = np.argmax(np.where(valid, m, -np.inf), axis=1)
    rises = m[rows, peak] > threshold
    below = valid & (m <= threshold) & (tau >= peak[:, None])
    found = below.any(axis=1)
    j = np.where(found, np.argmax(below, axis=1), 1)
    return _Found(rises, found, j.astype(np.float64), m[rows, np.maximum(j - 1, 0)], m[rows, j])


def _bisected(rnd: _Round, bound: FloatArray, span: FloatArray, threshold: float) -> _Found:
    """The same days by bisection, for rows whose median rises at most once and then falls.

    The peak is the first whole day ``t`` in ``[0, bound]`` with ``m(t + 1) <= m(t)`` (``bound``
    when there is none): before it the median rises, from it on it falls. The first day at or
    below the threshold after the peak is then found by bisection over ``[peak, span]``, on the
    rows that fall below it within the window only. Each row's steps depend on its own values
    only.
    """
    u = rnd.last.size
    lo, hi = np.zeros(u), bound.copy()  # invariant: rising before lo; hi is at or past the peak
    while np.any(hi > lo):
        mid = np.floor(0.5 * (lo + hi))
        m = rnd.median(np.column_stack([mid, mid + 1.0]))
        falls = (m[:, 1] <= m[:, 0]) & (hi > lo)
        rising = ~falls & (hi > lo)
        hi = np.where(falls, mid, hi)
        lo = np.where(rising, mid + 1.0, lo)
    peak = lo
    m_peak = rnd.at(peak)
    rises = m_peak > threshold
    search = rises & (rnd.at(span) <= threshold)  # it falls below within the window
    j, m0, m1 = span.copy(), np.zeros(u), np.zeros(u)
    rows = np.nonzero(search)[0]
    if rows.size:
        sub = rnd.take(rows)
        lo, hi = peak[rows], span[rows]  # m(lo) > threshold >= m(hi)
        while np.any(hi - lo > 1):
            mid = np.floor(0.5 * (lo + hi))
            below_mid = sub.at(mid) <= threshold
            narrow = hi - lo > 1
            lo = np.where(~below_mid & narrow, mid, lo)
            hi = np.where(below_mid & narrow, mid, hi)
        m = sub.median(np.column_stack([hi - 1.0, hi]))
        j[rows], m0[rows], m1[rows] = hi, m[:, 0], m[:, 1]
    return _Found(rises, search, j, m0, m1)


def _searched(rnd: _Round, span: FloatArray, threshold: float) -> _Found:
    """:func:`_bisected` for rows whose median rises at most once and then falls, with the
    median at the window's end evaluated first: where it is still above the threshold, the
    peak (the highest value of the window) is above it too and no day after the peak is at or
    below it, so only the other rows (most rows never fall below it within their window) are
    searched; where an upper bound of the median over the window
    (:meth:`_Round.dose_peak_bound`) is below the threshold, it never rises above it. The same
    days as the exhaustive search (:func:`_daily`)."""
    u = rnd.last.size
    f = _Found(
        np.ones(u, dtype=bool), np.zeros(u, dtype=bool), np.ones(u), np.zeros(u), np.zeros(u)
    )
    # Never above the threshold (with a margin far above rounding): it does not rise. A rough
    # bound (few bisection steps) settles most rows; the others get the tight one.
    rows = np.nonzero(rnd.quick_bound() >= threshold - _MARGIN)[0]
    if rows.size:
        _, _, top = rnd.take(rows).dose_peak_bound(span[rows], _ROUGH_STEPS)
        rows = rows[top >= threshold - _MARGIN]
    f.rises[:] = False
    if rows.size:
        sub = rnd.take(rows)
        bound, _, top = sub.dose_peak_bound(span[rows])
        keep = top >= threshold - _MARGIN
        rows, bound = rows[keep], bound[keep]
        f.rises[rows] = True
    if rows.size:
        above = rnd.take(rows).at(span[rows]) > threshold
        rows, bound = rows[~above], bound[~above]
    if rows.size:
        part = _bisected(rnd.take(rows), bound, span[rows], threshold)
        for name in ("rises", "found", "j", "m0", "m1"):
            getattr(f, name)[rows] = getattr(part, name)
    return f


def _recall(
    rnd: _Round,
    lo_days: FloatArray,
    hi_days: FloatArray,
    threshold: float,
    exhaustive: bool,
) -> tuple[FloatArray, FloatArray]:
    """Recall day (clamped, unrounded) and the forecast crossing (NaN if none) of each row."""
    u = rnd.last.size
    span = np.ceil(hi_days) + 1.0  # each row looks this far past the session [days]
    if exhaustive:
        f = _daily(rnd, span, threshold)
    else:
        fast = rnd.unimodal(span)
        f = _Found(
            np.zeros(u, dtype=bool), np.zeros(u, dtype=bool), np.ones(u), np.zeros(u), np.zeros(u)
        )
        for rows, search in (
            (np.nonzero(fast)[0], True),
            (np.nonzero(~fast)[0], False),
        ):
            if not rows.size:
                continue
            sub = rnd.take(rows)
            part = (
                _searched(sub, span[rows], threshold)
                if search
                else _daily(sub, span[rows], threshold)
            )
            for name in ("rises", "found", "j", "m0", "m1"):
                getattr(f, name)[rows] = getattr(part, name)
    falls = f.rises & f.found
    crossing = (
        rnd.last + (f.j - 1.0) + (f.m0 - threshold) / np.where(f.m0 != f.m1, f.m0 - f.m1, 1.0)
    )
    earliest, latest = rnd.last + lo_days, rnd.last + hi_days
    # recall_day: earliest when it never rises, latest when it never falls, else clamped.
    day = np.where(~f.rises, earliest, np.where(~falls, latest, crossing.clip(earliest, latest)))
    return day, np.where(falls, crossing, np.nan)


def plan_courses(
    age: FloatArray,
    values: FloatArray,
    *,
    params: ModelParams,
    recall_threshold: float,
    last_day: FloatArray,
    rounds: int,
    exhaustive: bool = False,
) -> Plans:
    """Recall (planned maintenance) days for each (profile, age) row.

    Parameters
    ----------
    age : ndarray, shape (U,)
        Age at the first session [years].
    values : ndarray, shape (U, 9)
        Profile values (:data:`needleplan.cohort.profiles.PROFILE_FIELDS`).
    params : ModelParams
    recall_threshold : float
        The clinic's recall threshold [% of pre-treatment firmness].
    last_day : ndarray, shape (U,)
        Plan each row up to this day from her first session [days].
    rounds : int
        At most this many recalls (:func:`max_rounds`).
    exhaustive : bool
        Evaluate every day of every window (slow; for tests).

    Returns
    -------
    Plans
    """
    u = age.size
    maintenance = np.full((u, rounds), np.nan)
    forecast_recall = np.full((u, rounds), np.nan)
    if u == 0 or rounds == 0:
        return Plans(maintenance, forecast_recall)
    # The two clinic-median curves per row: rows 0..U-1 at z_lo, U..2U-1 at z_hi.
    # When the two coincide (the forecast's central curve), one row per plan is enough.
    z_lo, z_hi, w = median_z()
    if z_lo == z_hi:
        both, z = np.arange(u), np.full(u, z_lo)
    else:
        both = np.concatenate([np.arange(u), np.arange(u)])
        z = np.concatenate([np.full(u, z_lo), np.full(u, z_hi)])
    rates = patient_rates(
        params,
        age=age[both],
        response=values[both, RESPONSE],
        fade=values[both, FADE],
        ageing=values[both, AGEING],
        heal=values[both, HEAL],
        capacity=values[both, CAPACITY],
        z=z,
    )
    initial = initial_days(values[:, N_INITIAL], values[:, INTERVAL])
    has = ~np.isnan(initial)
    last = np.nanmax(initial, axis=1)
    # Pad each row with its last initial day (zero dose, zero gap: the state is unchanged).
    padded = np.where(has, initial, last[:, None])[both]
    states = session_states(padded, session_doses(padded, has[both], rates, params), rates, params)
    rnd = _Round.after(
        rates, states.p[:, -1:], states.cf[:, -1:], states.cs[:, -1:], last, w, params
    )
    lo_days = values[:, MAINT_MIN] * DAYS_PER_MONTH
    hi_days = values[:, MAINT_MAX] * DAYS_PER_MONTH
    rows = np.arange(u)  # the rows still planning; a row past its last day drops out
    for r in range(rounds):  # loop over maintenance rounds, not days or patients
        day, crossing = _recall(rnd, lo_days[rows], hi_days[rows], recall_threshold, exhaustive)
        session = np.floor(day)
        keep = session <= last_day[rows]
        if not keep.any():
            break
        if not keep.all():
            sel = np.nonzero(keep)[0]
            rnd, rows, session, crossing = rnd.take(sel), rows[sel], session[sel], crossing[sel]
        maintenance[rows, r] = session
        forecast_recall[rows, r] = crossing
        # Add the maintenance session to both curves' states.
        rates = rnd.rates
        pair = np.arange(rows.size) if rnd.single else np.tile(np.arange(rows.size), 2)
        gap = (session - rnd.last)[pair][:, None]
        p, cf, cs = propagate(rnd.p, rnd.cf, rnd.cs, gap, rates, params)
        s2 = session[pair][:, None]
        p = p + rates.gain * -np.expm1(-gap / rates.heal_days) * age_factor(rates, s2, params)
        rnd = _Round.after(rates, p, cf, cs, session, w, params)
    return Plans(maintenance, forecast_recall)

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

from needleplan.cohort.model import (
    PatientRates,
    age_factor,
    improvement_from,
    patient_rates,
    propagate,
    session_doses,
    session_states,
)
from needleplan.cohort.population import (
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
    """The median curve of each row after its latest planned session."""

    rates: PatientRates  # 2U rows: z_lo then z_hi
    p: FloatArray
    cf: FloatArray
    cs: FloatArray
    last: FloatArray  # (U,)
    weight: float
    params: ModelParams

    def median(self, tau: FloatArray) -> FloatArray:
        """Median improvement ``tau`` days after the last session, ``tau`` (1, T) or (U, T)."""
        u = self.last.size
        t = tau if tau.shape[0] == 1 else np.concatenate([tau, tau])
        day = np.concatenate([self.last, self.last])[:, None] + t
        curves = improvement_from(self.p, self.cf, self.cs, t, day, self.rates, self.params)
        lo, hi = curves[:u], curves[u:]
        return np.asarray(lo + self.weight * (hi - lo), dtype=np.float64)

    def dose_peak_bound(self, span: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Upper bound ``P`` of where the median can still rise [days], and whether it holds.

        ``P = ceil(max tau_Z) + 1`` over the two curves, capped at ``span``; ``False`` where the
        conditions of the module docstring fail (evaluate those rows day by day).
        """
        kb, phi = self.params.k_build, self.params.remodelled_fraction
        r = self.rates
        kf, ks = r.k_fast[:, 0], r.k_slow[:, 0]
        p, cf, cs = self.p[:, 0], self.cf[:, 0], self.cs[:, 0]
        u = self.last.size
        span2 = np.concatenate([span, span])
        end = np.concatenate([self.last, self.last]) + span2
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

        lo, hi = np.zeros(2 * u), span2.copy()
        rising_at_end = slope(hi) > 0
        for _ in range(_BISECTIONS):  # the same for every row, whoever shares its batch
            mid = 0.5 * (lo + hi)
            up = slope(mid) > 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        tau_z = np.where(slope(np.zeros(2 * u)) > 0, hi, 0.0)
        tau_z = np.where(rising_at_end, span2, tau_z)
        bound = np.minimum(np.ceil(np.maximum(tau_z[:u], tau_z[u:])) + 1.0, span)
        return bound, ok[:u] & ok[u:]


def _recall(
    rnd: _Round,
    lo_days: FloatArray,
    hi_days: FloatArray,
    threshold: float,
    exhaustive: bool,
) -> tuple[FloatArray, FloatArray]:
    """Recall day (clamped, unrounded) and the forecast crossing (NaN if none) of each row."""
    u = rnd.last.size
    rows = np.arange(u)
    span = np.ceil(hi_days) + 1.0  # each row looks this far past the session [days]
    if exhaustive:
        bound, fast = span, np.zeros(u, dtype=bool)
    else:
        bound, fast = rnd.dose_peak_bound(span)
        bound = np.where(fast, bound, span)
    tau = np.arange(int(bound.max()) + 1, dtype=np.float64)[None, :]
    m = rnd.median(tau)
    valid = tau <= bound[:, None]
    peak = np.argmax(np.where(valid, m, -np.inf), axis=1)
    rises = m[rows, peak] > threshold
    below = valid & (m <= threshold) & (tau >= peak[:, None])
    found = below.any(axis=1)
    j = np.where(found, np.argmax(below, axis=1), 1).astype(np.float64)
    m0 = m[rows, np.maximum(j.astype(np.int64) - 1, 0)]
    m1 = m[rows, j.astype(np.int64)]
    # After the bound the median only falls: bisect over whole days for its first day <= threshold.
    search = fast & rises & ~found
    if search.any():
        at_end = rnd.median(span[:, None])[:, 0]
        search &= at_end <= threshold
        lo, hi = bound.copy(), span.copy()
        while np.any(search & (hi - lo > 1)):
            mid = np.floor(0.5 * (lo + hi))
            below_mid = rnd.median(mid[:, None])[:, 0] <= threshold
            lo = np.where(search & ~below_mid, mid, lo)
            hi = np.where(search & below_mid, mid, hi)
        m_hi = rnd.median(hi[:, None])[:, 0]
        m_prev = rnd.median((hi - 1.0)[:, None])[:, 0]
        j = np.where(search, hi, j)
        m0 = np.where(search, m_prev, m0)
        m1 = np.where(search, m_hi, m1)
        found = found | search
    falls = rises & found
    crossing = rnd.last + (j - 1.0) + (m0 - threshold) / np.where(m0 != m1, m0 - m1, 1.0)
    earliest, latest = rnd.last + lo_days, rnd.last + hi_days
    # recall_day: earliest when it never rises, latest when it never falls, else clamped.
    day = np.where(~rises, earliest, np.where(~falls, latest, crossing.clip(earliest, latest)))
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
        Profile values (:data:`needleplan.cohort.population.PROFILE_FIELDS`).
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
    z_lo, z_hi, w = median_z()
    both = np.concatenate([np.arange(u), np.arange(u)])
    rates = patient_rates(
        params,
        age=age[both],
        response=values[both, RESPONSE],
        fade=values[both, FADE],
        ageing=values[both, AGEING],
        heal=values[both, HEAL],
        capacity=values[both, CAPACITY],
        z=np.concatenate([np.full(u, z_lo), np.full(u, z_hi)]),
    )
    initial = initial_days(values[:, N_INITIAL], values[:, INTERVAL])
    has = ~np.isnan(initial)
    last = np.nanmax(initial, axis=1)
    # Pad each row with its last initial day (zero dose, zero gap: the state is unchanged).
    padded = np.where(has, initial, last[:, None])[both]
    states = session_states(padded, session_doses(padded, has[both], rates, params), rates, params)
    rnd = _Round(rates, states.p[:, -1:], states.cf[:, -1:], states.cs[:, -1:], last, w, params)
    lo_days = values[:, MAINT_MIN] * DAYS_PER_MONTH
    hi_days = values[:, MAINT_MAX] * DAYS_PER_MONTH
    active = np.ones(u, dtype=bool)
    for r in range(rounds):  # loop over maintenance rounds, not days or patients
        day, crossing = _recall(rnd, lo_days, hi_days, recall_threshold, exhaustive)
        session = np.floor(day)
        active &= session <= last_day
        if not active.any():
            break
        maintenance[:, r] = np.where(active, session, np.nan)
        forecast_recall[:, r] = np.where(active, crossing, np.nan)
        # Add the maintenance session to both curves' states.
        gap = (session - rnd.last)[both][:, None]
        p, cf, cs = propagate(rnd.p, rnd.cf, rnd.cs, gap, rates, params)
        s2 = session[both][:, None]
        p = p + rates.gain * -np.expm1(-gap / rates.heal_days) * age_factor(rates, s2, params)
        rnd = _Round(rates, p, cf, cs, session, w, params)
    return Plans(maintenance, forecast_recall)

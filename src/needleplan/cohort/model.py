"""The firmness model for many patients at once, each with her own session days.

:mod:`needleplan.forecasting.models` evaluates ``n`` curves that share one schedule (one patient,
many random-effect draws). A cohort needs ``n`` patients with ``n`` schedules: different initial
counts, intervals, start days, dropped and missed sessions. This module evaluates the model
through the functions of :mod:`needleplan.forecasting.models` (the spacing factor with a
given-mask, the age factor, the ageing rate, the state propagation and the treatment dose of
``models.firmness``, the capacity and the ageing decline), each equation existing once, on a
session matrix of shape ``(n, S)``; what stays here is the bookkeeping of per-patient schedules:

- each row holds one patient's session days in ascending order [days from her first session],
  padded at the end with days past the horizon;
- a session that does not happen (dropped, missed, padding) stays in the matrix with dose 0. The
  model is linear in the doses and its between-session propagation is exact, so a zero-dose
  session changes nothing, and the next real session's spacing factor is measured from the last
  real one.

A test checks these curves against :func:`needleplan.forecasting.chain.simulate` on the real
sessions only. Loops run over session slots (tens), never over days or patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.models import (
    age_response_factor,
    ageing_decline,
    ageing_rate,
    conditional_persistence,
    random_effects,
    saturate,
    spacing_factor,
)
from needleplan.forecasting.models.firmness import dose_from_state, propagate_state
from needleplan.forecasting.models.healing import kernel_from_exponentials
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class PatientRates:
    """Per-patient model rates, each of shape ``(n, 1)`` so they broadcast over time.

    Attributes
    ----------
    gain : ndarray
        Dose of a fully healed session at age 50 (covariates and random effect included)
        [% of pre-treatment firmness].
    heal_days : ndarray
        Healing recovery time constant ``tau_h`` (covariate-adjusted) [days].
    age : ndarray
        Age at the first session [years].
    k_fast, k_slow : ndarray
        Fading rates of the fast and remodelled collagen [1/day].
    capacity : ndarray
        Ceiling of treatment-induced firmness [% of pre-treatment firmness].
    ageing_rate : ndarray
        Age-related decline rate ``r`` [1/day].
    """

    gain: FloatArray
    heal_days: FloatArray
    age: FloatArray
    k_fast: FloatArray
    k_slow: FloatArray
    capacity: FloatArray
    ageing_rate: FloatArray

    @property
    def n(self) -> int:
        return int(self.gain.shape[0])

    def rows(self, rows: slice | NDArray[np.int64]) -> PatientRates:
        """The rates of some rows (a slice or an index array)."""
        return PatientRates(*(getattr(self, f)[rows] for f in _RATE_FIELDS))


_RATE_FIELDS = ("gain", "heal_days", "age", "k_fast", "k_slow", "capacity", "ageing_rate")


def _col(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def patient_rates(
    params: ModelParams,
    *,
    age: ArrayLike,
    response: ArrayLike,
    fade: ArrayLike,
    ageing: ArrayLike,
    heal: ArrayLike,
    capacity: ArrayLike,
    z: ArrayLike,
    persistence: ArrayLike | None = None,
) -> PatientRates:
    """Rates for ``n`` patients from their covariate multipliers and random effects.

    Parameters
    ----------
    params : ModelParams
    age : array_like, shape (n,)
        Age at the first session [years] (validated range 18-90).
    response, fade, ageing, heal, capacity : array_like, shape (n,)
        Covariate multipliers (:func:`needleplan.forecasting.models.patient_modifiers`) [-].
    z : array_like, shape (n,)
        Her response effect ``u_R`` [-], ``N(0, 1)`` in the population.
    persistence : array_like, shape (n,), optional
        Her persistence effect ``u_P`` [-] (default: its mean given ``u_R``, ``rho u_R``).

    Notes
    -----
    The same combination as :func:`needleplan.forecasting.chain.curve_inputs`:
    ``G = G_0 m_G e^{omega_G u_R}``, ``k_f = k_{f,0} m_F e^{-omega_F u_P}`` (likewise ``k_s``),
    ``C = C_0 m_C`` and ``r = r_0 e^{beta_r (a - 50)/10} m_r e^{-omega_r u_P} / 365.25``
    (:func:`needleplan.forecasting.models.ageing_rate`, the same function, vectorised over age).
    """
    u_r = _col(z)
    u_p = conditional_persistence(u_r, params) if persistence is None else _col(persistence)
    re = random_effects(u_r, u_p, params)
    a = _col(age)
    return PatientRates(
        gain=params.gain * _col(response) * re.response,
        heal_days=params.heal_days * _col(heal),
        age=a,
        k_fast=params.k_fast * _col(fade) * re.fade,
        k_slow=params.k_slow * _col(fade) * re.fade,
        capacity=params.capacity * _col(capacity),
        ageing_rate=ageing_rate(
            params.ageing_rate_per_year, a, params.age_ageing_per_decade, _col(ageing) * re.ageing
        ),
    )


def age_factor(rates: PatientRates, session_days: FloatArray, params: ModelParams) -> FloatArray:
    """Response multiplier for her age at each session (the model's
    :func:`~needleplan.forecasting.models.age_response_factor`, per patient)."""
    return age_response_factor(rates.age, session_days, params.age_response_per_decade)


def session_doses(
    session_days: FloatArray, given: BoolArray, rates: PatientRates, params: ModelParams
) -> FloatArray:
    """Dose of each session slot ``g_k = G q_k a_k`` (0 where the session is not given).

    Parameters
    ----------
    session_days : ndarray, shape (n, S)
        Session days per patient, ascending along each row [days].
    given : ndarray of bool, shape (n, S)
        Whether each session takes place.

    Notes
    -----
    The spacing factor ``q_k = 1 - exp(-(s_k - s_prev)/tau_h)`` counts from the previous session
    that took place (``q = 1`` for her first), as
    :func:`needleplan.forecasting.models.spacing_factor` does on her real sessions.
    """
    q = spacing_factor(session_days, rates.heal_days, given)
    return np.asarray(rates.gain * q * age_factor(rates, session_days, params), dtype=np.float64)


@dataclass(frozen=True)
class SessionStates:
    """Signal ``P`` and collagen ``C_f``, ``C_s`` just after each session slot, each ``(n, S)``."""

    session_days: FloatArray
    p: FloatArray
    cf: FloatArray
    cs: FloatArray

    def rows(self, rows: slice) -> SessionStates:
        return SessionStates(self.session_days[rows], self.p[rows], self.cf[rows], self.cs[rows])


def propagate(
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    dt: FloatArray,
    rates: PatientRates,
    params: ModelParams,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Advance the state ``(P, C_f, C_s)`` by ``dt`` days without a session (exact): the
    model's own :func:`~needleplan.forecasting.models.firmness.propagate_state` with her rates."""
    return propagate_state(
        p, cf, cs, dt, params.k_build, rates.k_fast, rates.k_slow, params.remodelled_fraction
    )


def session_states(
    session_days: FloatArray, doses: FloatArray, rates: PatientRates, params: ModelParams
) -> SessionStates:
    """The state just after every session slot (loop over slots only)."""
    n, n_slots = session_days.shape
    # Slot-major (S, n) while the loop runs: each slot's values are contiguous.
    days_t = np.ascontiguousarray(session_days.T)
    doses_t = np.ascontiguousarray(doses.T)
    p = np.zeros((n_slots, n))
    cf = np.zeros((n_slots, n))
    cs = np.zeros((n_slots, n))
    p[0] = doses_t[0]
    kb, phi = params.k_build, params.remodelled_fraction
    kf, ks = rates.k_fast[:, 0], rates.k_slow[:, 0]
    # kernel_from_exponentials' factors k_b/(k_b - k), once per row instead of once per slot;
    # rows with a rate within 0.1 % of k_b take the stable kernel, as there.
    near = (np.abs(kb - kf) < 1e-3 * kb) | (np.abs(kb - ks) < 1e-3 * kb)
    ratio_f = kb / np.where(near, 1.0, kb - kf)
    ratio_s = kb / np.where(near, 1.0, kb - ks)
    rows = np.nonzero(near)[0]
    e_b, e_f, e_s, tmp, share = (np.empty(n) for _ in range(5))
    for k in range(1, n_slots):
        # propagate() from the exponentials it needs anyway (kernel_from_exponentials):
        # B = k_b/(k_b - k) (e^{-k dt} - e^{-k_b dt}).
        dt = days_t[k] - days_t[k - 1]
        np.multiply(-kb, dt, out=e_b)
        np.exp(e_b, out=e_b)
        np.multiply(kf, dt, out=e_f)
        np.negative(e_f, out=e_f)
        np.exp(e_f, out=e_f)
        np.multiply(ks, dt, out=e_s)
        np.negative(e_s, out=e_s)
        np.exp(e_s, out=e_s)
        prev = p[k - 1]
        np.multiply(prev, e_b, out=p[k])
        p[k] += doses_t[k]
        # C_f <- C_f e_f + (P (1 - phi)) B_f, in this order (the same numbers as propagate()).
        np.multiply(cf[k - 1], e_f, out=cf[k])
        np.subtract(e_f, e_b, out=tmp)
        tmp *= ratio_f
        np.multiply(prev, 1.0 - phi, out=share)
        tmp *= share
        cf[k] += tmp
        np.multiply(cs[k - 1], e_s, out=cs[k])
        np.subtract(e_s, e_b, out=tmp)
        tmp *= ratio_s
        np.multiply(prev, phi, out=share)
        tmp *= share
        cs[k] += tmp
        if rows.size:
            d = dt[rows, None]
            b_f = kernel_from_exponentials(
                e_f[rows, None], e_b[rows, None], d, kb, rates.k_fast[rows]
            )
            b_s = kernel_from_exponentials(
                e_s[rows, None], e_b[rows, None], d, kb, rates.k_slow[rows]
            )
            cf[k, rows] = cf[k - 1, rows] * e_f[rows] + prev[rows] * (1.0 - phi) * b_f[:, 0]
            cs[k, rows] = cs[k - 1, rows] * e_s[rows] + prev[rows] * phi * b_s[:, 0]
    p, cf, cs = (np.ascontiguousarray(a.T) for a in (p, cf, cs))
    return SessionStates(session_days, p, cf, cs)


def improvement_from(
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    tau: FloatArray,
    day: FloatArray,
    rates: PatientRates,
    params: ModelParams,
) -> FloatArray:
    """Improvement ``tau`` days after a state ``(P, C_f, C_s)``, on day ``day`` of her course.

    Parameters
    ----------
    p, cf, cs : ndarray, shape (n, 1) or (n, T)
        State just after her last session on or before ``day``.
    tau : ndarray, shape (1, T) or (n, T)
        Days since that session [days], >= 0.
    day : ndarray, shape (n, T)
        Days since her first session [days], >= 0 (for the ageing decline).

    Returns
    -------
    ndarray, shape (n, T)
        ``I = C (1 - e^{-Z/C}) - 100 (1 - e^{-r t})`` with
        ``Z = C_f e^{-k_f tau} + C_s e^{-k_s tau} + P ((1-phi) B_f(tau) + phi B_s(tau))``
        [% of pre-treatment firmness] (:func:`~needleplan.forecasting.models.improvement`).

    Notes
    -----
    Four exponentials per value (``e^{-k_f tau}``, ``e^{-k_s tau}`` and the two in
    :func:`saturate` and :func:`ageing_decline`) plus ``e^{-k_b tau}``, which is shared by all
    rows when ``tau`` is.
    """
    z = dose_from_state(
        p, cf, cs, tau, params.k_build, rates.k_fast, rates.k_slow, params.remodelled_fraction
    )
    return np.asarray(
        saturate(z, rates.capacity) - ageing_decline(day, rates.ageing_rate), dtype=np.float64
    )


def improvement(
    day: FloatArray, states: SessionStates, rates: PatientRates, params: ModelParams
) -> FloatArray:
    """Improvement on her own course days ``day`` [% of pre-treatment firmness], ``(n, T)``.

    Parameters
    ----------
    day : ndarray, shape (n, T)
        Days from each patient's first session [days]; before her first session (day < 0) the
        improvement is 0.
    states : SessionStates
        From :func:`session_states`; the first slot of each row is day 0.

    Notes
    -----
    Each value is propagated from the last session slot on or before it. The slot is found for
    all rows in one ``searchsorted`` by shifting row ``i`` by ``i * span``, which keeps the
    flattened session days sorted.
    """
    s = states.session_days
    n, n_slots = s.shape
    span = 2.0 * (max(float(np.max(np.abs(s))), float(np.max(np.abs(day)))) + 2.0)
    offset = span * np.arange(n, dtype=np.float64)[:, None]
    flat = np.searchsorted((s + offset).ravel(), (day + offset).ravel(), side="right")
    idx = flat.reshape(day.shape) - (n_slots * np.arange(n))[:, None] - 1
    started = idx >= 0
    safe = np.maximum(idx, 0)
    tau = day - np.take_along_axis(s, safe, axis=1)
    value = improvement_from(
        np.take_along_axis(states.p, safe, axis=1),
        np.take_along_axis(states.cf, safe, axis=1),
        np.take_along_axis(states.cs, safe, axis=1),
        np.maximum(tau, 0.0),
        np.maximum(day, 0.0),
        rates,
        params,
    )
    return np.asarray(np.where(started, value, 0.0), dtype=np.float64)


def improvement_on_days(
    days: FloatArray,
    start: FloatArray,
    states: SessionStates,
    rates: PatientRates,
    params: ModelParams,
) -> FloatArray:
    """Improvement on shared calendar days [% of pre-treatment firmness], ``(n, T)``.

    Parameters
    ----------
    days : ndarray, shape (T,)
        Calendar days of the cohort, ascending, e.g. the 15th of each month [days from its start].
    start : ndarray, shape (n,)
        Each patient's first session [days from the cohort's start]; before it her improvement
        is 0.
    states : SessionStates
        From :func:`session_states`, in her own days.

    Notes
    -----
    The same values as :func:`improvement` on her own days ``days - start``. The last session
    on or before each day is found without a search per value: each session is placed on the
    first shared day at or after it (one ``searchsorted`` into the ``T`` days), and a running
    count along the days gives the slot, so the cost per value is the model's exponentials.
    """
    s = states.session_days
    n = s.shape[0]
    t = days.size
    first = np.searchsorted(days, start[:, None] + s, side="left")  # (n, S) in 0..T
    counts = np.bincount(
        (first + (t + 1) * np.arange(n)[:, None]).ravel(), minlength=n * (t + 1)
    ).reshape(n, t + 1)
    idx = np.cumsum(counts[:, :t], axis=1) - 1
    started = idx >= 0
    flat = np.maximum(idx, 0) + s.shape[1] * np.arange(n)[:, None]  # into the raveled (n, S)

    def at_slot(a: FloatArray) -> FloatArray:
        return np.asarray(np.ravel(a)[flat], dtype=np.float64)

    day = days[None, :] - start[:, None]
    value = improvement_from(
        at_slot(states.p),
        at_slot(states.cf),
        at_slot(states.cs),
        np.maximum(day - at_slot(s), 0.0),
        np.maximum(day, 0.0),
        rates,
        params,
    )
    return np.asarray(np.where(started, value, 0.0), dtype=np.float64)

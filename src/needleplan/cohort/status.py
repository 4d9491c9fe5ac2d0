"""Whether each patient is noticeably firmer on shared days: float32, checked in float64.

The monthly status is the cohort's largest single piece of arithmetic (a million patients x
120 months, five exponentials each). It is evaluated in single precision, where numpy's
exponential is several times faster than in double precision, and every value that single
precision cannot decide is evaluated again in double precision by the model's own
:func:`~needleplan.cohort.model.improvement_from`. The result is therefore *exactly* the
double-precision one (a test checks it on cohorts whose values sit on the threshold).

Error bound
-----------
After her last session ``k`` before a day, ``Z = A_k e^{-k_f tau} + B_k e^{-k_s tau} -
C_k e^{-k_b tau}`` (coefficients combined in double precision on the ``(n, S)`` session states,
then rounded once to single precision) and ``I = cap (1 - e^{-Z/cap}) - 100 (1 - e^{-r t})``.
Days and ``tau`` are whole numbers, exact in single precision. With ``u = 2^-24`` and an
exponential accurate to a few ``u`` (numpy's is within 4 ulp), each term ``A e^{-x}`` is off by
at most ``|A| (x e^{-x} 2u + 8u) <= 9u |A|``, the sum by ``2u (|A| + |B| + |C|)`` more,
``cap (1 - e^{-Z/cap})`` passes an error in ``Z`` on with a factor ``e^{-Z/cap} <= 1`` (``Z >=
0`` up to that error) and adds ``10u cap``, the ageing term at most ``12u 100``, the last
subtraction ``u |I|``: in all well below ``16u (|A| + |B| + |C| + cap + 100 + |I|)``. Values
within ``MARGIN_ULPS u`` times that sum of the threshold (``MARGIN_ULPS`` = 128, eight times
the bound) are recomputed in double precision; so are all values of a row whose fading rate is
within 0.1 % of ``k_b`` (the regrouped coefficients lose digits there).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.model import PatientRates, SessionStates, improvement_from
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Rows evaluated together: the (rows x days) single-precision temporaries stay in cache.
TILE = 1024
#: Half-width of the band around the threshold that is recomputed in double precision, in
#: units of ``2^-24`` times the magnitude of the terms (see the module docstring).
MARGIN_ULPS = 128.0
_U = 2.0**-24


def _first_days(days: FloatArray, start: FloatArray, s: FloatArray) -> NDArray[np.int64]:
    """For each session, the index of the first shared day at or after it, ``(n, S)`` in
    ``0..T``: from a table over whole days when the session days are whole (they are: series
    days are rounded, recalls floored), else by ``searchsorted``."""
    when = start[:, None] + s
    top = float(when.max()) if when.size else 0.0
    whole = when.astype(np.intp)
    if when.size and float(when.min()) >= 0.0 and top < 1e6 and np.array_equal(whole, when):
        table = np.searchsorted(days, np.arange(int(top) + 1, dtype=np.float64), side="left")
        return np.asarray(table[whole], dtype=np.int64)
    return np.asarray(np.searchsorted(days, when, side="left"), dtype=np.int64)


def noticeable_on_days(
    days: FloatArray,
    start: FloatArray,
    states: SessionStates,
    rates: PatientRates,
    params: ModelParams,
    threshold: float,
) -> BoolArray:
    """Whether her improvement is at least ``threshold`` on each shared day, ``(n, T)``.

    Parameters
    ----------
    days : ndarray, shape (T,)
        Calendar days of the cohort, ascending, whole numbers [days from its start].
    start : ndarray, shape (n,)
        Each patient's first session, a whole day [days from the cohort's start]; before it her
        improvement is 0.
    states : SessionStates
        From :func:`~needleplan.cohort.model.session_states`, in her own (whole) days.
    rates : PatientRates
    params : ModelParams
    threshold : float
        [% of pre-treatment firmness].

    Returns
    -------
    ndarray of bool
        ``improvement_on_days(days, start, states, rates, params) >= threshold``
        (:func:`~needleplan.cohort.model.improvement_on_days`), bit for bit the same decisions.
    """
    s = states.session_days
    n, n_slots = s.shape
    t = days.size
    out = np.empty((n, t), dtype=bool)
    if n == 0:
        return out
    kb, phi = params.k_build, params.remodelled_fraction
    kf, ks = rates.k_fast, rates.k_slow
    close = ((np.abs(kb - kf) < 1e-3 * kb) | (np.abs(kb - ks) < 1e-3 * kb))[:, 0]
    a_f = (1.0 - phi) * kb / np.where(close[:, None], 1.0, kb - kf)
    a_s = phi * kb / np.where(close[:, None], 1.0, kb - ks)
    coef_f = states.cf + states.p * a_f
    coef_s = states.cs + states.p * a_s
    coef_b = states.p * (a_f + a_s)
    cap = rates.capacity[:, 0]
    size = (
        np.abs(coef_f).max(axis=1)
        + np.abs(coef_s).max(axis=1)
        + np.abs(coef_b).max(axis=1)
        + np.abs(cap)
        + 100.0
    )
    margin = np.where(close, np.inf, MARGIN_ULPS * _U * size)
    f32 = np.float32
    cf32, cs32, cb32 = (c.astype(f32).ravel() for c in (coef_f, coef_s, coef_b))
    s32 = s.astype(f32).ravel()
    nkf, nks = (-kf).astype(f32), (-ks).astype(f32)
    nkb = f32(-kb)
    cap32 = rates.capacity.astype(f32)
    nr32 = (-rates.ageing_rate).astype(f32)
    days32 = days.astype(f32)[None, :]
    start32 = start.astype(f32)[:, None]
    thr = f32(threshold)
    before = bool(threshold <= 0.0)  # her improvement before her first session is 0
    # Each session placed on the first shared day at or after it; the days are walked in
    # order, and on each day only the patients with a new session get their coefficients
    # (a tenth of them a month), so nothing of size (n, T) is gathered.
    first = _first_days(days, start, s)
    # Of several sessions of a patient placed on the same day, the last (highest slot) counts;
    # sessions past the last day are never needed.
    keep = first < t
    keep[:, :-1] &= first[:, :-1] != first[:, 1:]
    placed_row, placed_slot = np.nonzero(keep)  # patient by patient
    placed = placed_row * n_slots + placed_slot
    day_of = first[placed_row, placed_slot].astype(np.int16 if t < 2**15 else np.int64)
    perm = np.argsort(day_of, kind="stable")  # by day, then patient (a radix sort)
    bounds = np.searchsorted(day_of[perm], np.arange(t + 1))
    who_all = placed_row[perm]
    # Gathered patient by patient (in memory order), then put in day order.
    ev_a, ev_b, ev_c, ev_s = (np.take(x, placed)[perm] for x in (cf32, cs32, cb32, s32))
    # Before her first session her values stay 0 here: A = B = C = 0 and, when that session
    # is on her start day (as in the engine), since = tau = 0, so Z = 0 and the improvement is
    # exactly 0 in single precision too. Otherwise (or if the threshold rounds to another sign
    # in single precision) those days are set afterwards.
    a_, b_, c_, s_ = (np.zeros(n, dtype=f32) for _ in range(4))
    g, e, z, tau, since = (np.empty(n, dtype=f32) for _ in range(5))
    res = np.empty((t, n), dtype=bool)
    sure = np.empty((t, n), dtype=bool)
    nkf, nks, nr32 = nkf[:, 0], nks[:, 0], nr32[:, 0]
    cap32 = cap32[:, 0]
    start32 = start.astype(f32)
    margin32 = margin.astype(f32)
    np.nan_to_num(margin32, copy=False, posinf=np.inf)
    for k in range(t):
        if bounds[k + 1] > bounds[k]:
            ev = slice(bounds[k], bounds[k + 1])
            who = who_all[ev]
            for dst, src in ((a_, ev_a), (b_, ev_b), (c_, ev_c), (s_, ev_s)):
                np.put(dst, who, src[ev])
        np.subtract(days32[0, k], start32, out=since)
        np.maximum(since, 0.0, out=since)
        np.subtract(since, s_, out=tau)
        np.maximum(tau, 0.0, out=tau)
        # Z = A e^{-k_f tau} + B e^{-k_s tau} - C e^{-k_b tau}
        np.multiply(nkf, tau, out=e)
        np.exp(e, out=e)
        np.multiply(a_, e, out=z)
        np.multiply(nks, tau, out=e)
        np.exp(e, out=e)
        np.multiply(b_, e, out=g)
        z += g
        np.multiply(nkb, tau, out=e)
        np.exp(e, out=e)
        np.multiply(c_, e, out=g)
        z -= g
        # cap (1 - e^{-Z/cap}) - 100 (1 - e^{-r t})
        np.divide(z, cap32, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.multiply(e, cap32, out=e)
        np.subtract(cap32, e, out=z)
        np.multiply(nr32, since, out=e)
        np.exp(e, out=e)
        np.multiply(e, 100.0, out=e)
        np.subtract(100.0, e, out=e)
        z -= e
        np.greater_equal(z, thr, out=res[k])
        np.subtract(z, thr, out=e)
        np.abs(e, out=e)
        np.greater(e, margin32, out=sure[k])  # NaN counts as undecided
    if not (np.all(s[:, 0] == 0.0) and bool(f32(0.0) >= thr) == before):
        not_yet = np.arange(t)[:, None] < first[:, 0][None, :]
        res[not_yet] = before
        sure |= not_yet
    # Undecided in single precision: recomputed in double precision, all at once; her session
    # slot on a day is the number of her sessions placed on or before it, less one.
    t_i, r_i = np.divmod(np.flatnonzero(~sure), n)
    if r_i.size:
        slot = (first[r_i] <= t_i[:, None]).sum(axis=1) - 1
        on = slot >= 0
        exact = _exact(days, start, states, rates, params, r_i[on], t_i[on], slot[on])
        decided = np.full(r_i.size, before)
        decided[on] = exact >= threshold
        res[t_i, r_i] = decided
    return res.T


def _exact(
    days: FloatArray,
    start: FloatArray,
    states: SessionStates,
    rates: PatientRates,
    params: ModelParams,
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    slots: NDArray[np.int64],
) -> FloatArray:
    """Improvement in double precision at (row, day) pairs whose last session slot is known,
    as :func:`~needleplan.cohort.model.improvement_on_days` computes it, ``(m,)``."""

    def col(a: FloatArray) -> FloatArray:
        return np.asarray(a[rows, slots][:, None], dtype=np.float64)

    day = (days[cols] - start[rows])[:, None]
    value = improvement_from(
        col(states.p),
        col(states.cf),
        col(states.cs),
        np.maximum(day - col(states.session_days), 0.0),
        np.maximum(day, 0.0),
        rates.rows(rows),
        params,
    )
    return np.asarray(value[:, 0], dtype=np.float64)

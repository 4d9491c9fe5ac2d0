"""The firmness index over time: superposition of session responses, capacity, ageing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.models.ageing import ageing_decline
from needleplan.forecasting.models.capacity import saturate
from needleplan.forecasting.models.healing import healing_kernel, kernel_from_exponentials


@dataclass(frozen=True)
class CurveInputs:
    """Everything the firmness equations need for ``n`` curves (one per patient draw).

    Attributes
    ----------
    session_days : ndarray, shape (S,)
        Session days from the first session [days], ascending, first 0.
    doses : ndarray, shape (n, S)
        Dose of each session ``g_k`` [% of pre-treatment firmness].
    k_build : float or ndarray, shape (n, 1)
        Build-up rate ``k_b`` [1/day] (per curve when the population parameters are drawn).
    k_fast, k_slow : ndarray, shape (n, 1)
        Fading rates of the fast and remodelled parts [1/day].
    remodelled_fraction : float or ndarray, shape (n, 1)
        ``phi`` [-].
    capacity : float or ndarray, shape (n, 1)
        Ceiling ``C`` [% of pre-treatment firmness].
    ageing_rate : ndarray, shape (n, 1)
        ``r`` [1/day].
    """

    session_days: NDArray[np.float64]
    doses: NDArray[np.float64]
    k_build: float | NDArray[np.float64]
    k_fast: NDArray[np.float64]
    k_slow: NDArray[np.float64]
    remodelled_fraction: float | NDArray[np.float64]
    capacity: float | NDArray[np.float64]
    ageing_rate: NDArray[np.float64]


FloatArray = NDArray[np.float64]


def propagate_state(
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    dt: ArrayLike,
    k_build: float | FloatArray,
    k_fast: ArrayLike,
    k_slow: ArrayLike,
    remodelled_fraction: float | FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Advance the state ``(P, C_f, C_s)`` by ``dt`` days without a session (exact).

    Parameters
    ----------
    p, cf, cs : ndarray
        Signal and fast and remodelled collagen [% of pre-treatment firmness].
    dt : array_like
        Days to advance [days], >= 0 (broadcasts).
    k_build : float
        ``k_b`` [1/day].
    k_fast, k_slow : array_like
        ``k_f``, ``k_s`` [1/day], e.g. ``(n, 1)`` per patient or draw.
    remodelled_fraction : float
        ``phi`` [-].

    Notes
    -----
    ``P <- P e^{-k_b dt}``, ``C_f <- C_f e^{-k_f dt} + (1-phi) P B(dt; k_b, k_f)`` and
    ``C_s <- C_s e^{-k_s dt} + phi P B(dt; k_b, k_s)``: the closed-form solution of the linear
    system between sessions. Used by the single forecast and by the cohort alike.
    """
    kf = np.asarray(k_fast, dtype=np.float64)
    ks = np.asarray(k_slow, dtype=np.float64)
    t = np.asarray(dt, dtype=np.float64)
    phi = remodelled_fraction
    new_cf = cf * np.exp(-kf * t) + p * (1.0 - phi) * healing_kernel(t, k_build, kf)
    new_cs = cs * np.exp(-ks * t) + p * phi * healing_kernel(t, k_build, ks)
    return np.asarray(p * np.exp(-k_build * t), dtype=np.float64), new_cf, new_cs


def dose_from_state(
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    tau: FloatArray,
    k_build: float | FloatArray,
    k_fast: FloatArray,
    k_slow: FloatArray,
    remodelled_fraction: float | FloatArray,
) -> FloatArray:
    """Treatment dose ``Z`` ``tau`` days after a state ``(P, C_f, C_s)`` [% of pre-treatment].

    Notes
    -----
    ``Z = C_f e^{-k_f tau} + C_s e^{-k_s tau} + P ((1-phi) B_f(tau) + phi B_s(tau))``, with the
    kernels built from the same exponentials (:func:`kernel_from_exponentials`) and
    ``e^{-k_b tau}`` shared by every row when ``tau`` is. Shapes broadcast (rates ``(n, 1)``).
    """
    phi = remodelled_fraction
    e_b = np.exp(-k_build * tau)
    e_f = np.exp(-k_fast * tau)
    e_s = np.exp(-k_slow * tau)
    shape = np.broadcast_shapes(np.shape(p), np.shape(cf), np.shape(cs), e_b.shape, e_f.shape)
    if len(shape) != 2 or e_f.shape != shape or e_s.shape != shape:
        return _dose_from_exponentials(p, cf, cs, tau, e_b, e_f, e_s, k_build, k_fast, k_slow, phi)
    # The same sum in place, row by row the same whatever else is in the call:
    # Z = C_f e_f + C_s e_s + P ((1-phi) k_b/(k_b-k_f) (e_f - e_b) + phi k_b/(k_b-k_s) (e_s - e_b));
    # rows with a rate within 0.1 % of k_b are recomputed with the stable kernels.
    n = shape[0]
    kf = np.broadcast_to(np.asarray(k_fast, dtype=np.float64), (n, 1))
    ks = np.broadcast_to(np.asarray(k_slow, dtype=np.float64), (n, 1))
    close = (np.abs(k_build - kf) < 1e-3 * k_build) | (np.abs(k_build - ks) < 1e-3 * k_build)
    rows = np.nonzero(close[:, 0])[0]
    out = cf * e_f
    out += cs * e_s
    e_f -= e_b
    e_f *= (1.0 - phi) * (k_build / np.where(close, 1.0, k_build - kf))
    e_s -= e_b
    e_s *= phi * (k_build / np.where(close, 1.0, k_build - ks))
    e_f += e_s
    e_f *= p
    out += e_f
    if rows.size:

        def sub(a: ArrayLike) -> FloatArray:
            return np.asarray(
                np.broadcast_to(np.asarray(a, dtype=np.float64), shape)[rows], dtype=np.float64
            )

        def col(a: float | FloatArray) -> FloatArray:
            """A per-row parameter (a scalar, or one value per row: per-draw parameters)."""
            return np.broadcast_to(np.asarray(a, dtype=np.float64), (n, 1))[rows]

        t = sub(tau)
        kb, ph = col(k_build), col(phi)
        out[rows] = _dose_from_exponentials(
            sub(p),
            sub(cf),
            sub(cs),
            t,
            np.exp(-kb * t),
            np.exp(-kf[rows] * t),
            np.exp(-ks[rows] * t),
            kb,
            kf[rows],
            ks[rows],
            ph,
        )
    return np.asarray(out, dtype=np.float64)


def _dose_from_exponentials(
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    tau: FloatArray,
    e_b: FloatArray,
    e_f: FloatArray,
    e_s: FloatArray,
    k_build: float | FloatArray,
    k_fast: FloatArray,
    k_slow: FloatArray,
    phi: float | FloatArray,
) -> FloatArray:
    """:func:`dose_from_state` with the kernels of :func:`kernel_from_exponentials`."""
    z = cf * e_f
    z = z + cs * e_s
    z = z + p * (
        (1.0 - phi) * kernel_from_exponentials(e_f, e_b, tau, k_build, k_fast)
        + phi * kernel_from_exponentials(e_s, e_b, tau, k_build, k_slow)
    )
    return np.asarray(z, dtype=np.float64)


def session_states(
    inputs: CurveInputs,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Signal ``P`` and collagen ``C_f``, ``C_s`` just after each session, each ``(n, S)``.

    Notes
    -----
    Between sessions the state evolves in closed form (see :func:`treatment_dose`); at a
    session the dose is added to the signal, ``P(s_k^+) = P(s_k^-) + g_k``. The loop runs over
    sessions only.
    """
    n, n_s = inputs.doses.shape
    if n * n_s * n_s <= SMALL_STATE_SIZE:
        return _session_states_closed(inputs)
    n, n_s = inputs.doses.shape
    p = np.zeros((n, n_s))
    cf = np.zeros((n, n_s))
    cs = np.zeros((n, n_s))
    p[:, 0] = inputs.doses[:, 0]
    # The step factors of propagate_state depend on the gap only: a course has few distinct
    # gaps (the series interval, the upkeep interval), so each is computed once.
    steps: dict[float, tuple[FloatArray, ...]] = {}
    kb, phi = inputs.k_build, inputs.remodelled_fraction
    kf = np.asarray(inputs.k_fast, dtype=np.float64)
    ks = np.asarray(inputs.k_slow, dtype=np.float64)
    for k in range(1, n_s):
        dt = float(inputs.session_days[k] - inputs.session_days[k - 1])
        if dt not in steps:
            steps[dt] = (
                np.exp(-kb * np.float64(dt)),
                np.exp(-kf * dt),
                healing_kernel(np.float64(dt), kb, kf),
                np.exp(-ks * dt),
                healing_kernel(np.float64(dt), kb, ks),
            )
        e_b, e_f, b_f, e_s, b_s = steps[dt]
        prev = p[:, k - 1 : k]
        # as propagate_state: C <- C e^{-k dt} + P (1-phi or phi) B(dt), P <- P e^{-k_b dt}
        cf[:, k] = (cf[:, k - 1 : k] * e_f + prev * (1.0 - phi) * b_f)[:, 0]
        cs[:, k] = (cs[:, k - 1 : k] * e_s + prev * phi * b_s)[:, 0]
        p[:, k] = (prev * e_b)[:, 0] + inputs.doses[:, k]
    return p, cf, cs


#: Above this many (curve, session, session) triples the states are propagated session by
#: session; below it, in one closed-form sum (the same numbers, fewer Python steps).
SMALL_STATE_SIZE = 20_000


def _session_states_closed(
    inputs: CurveInputs,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`session_states` as one sum over earlier sessions (no loop over sessions).

    ``P_k = sum_{j<=k} g_j e^{-k_b (s_k - s_j)}``, ``C_{f,k} = sum_{j<=k} g_j (1-phi)
    B(s_k - s_j; k_b, k_f)`` and likewise ``C_{s,k}`` with ``phi`` and ``k_s``: the linear
    system's solution at each session, each ``(n, S)``.
    """
    s = inputs.session_days
    dt = s[:, None] - s[None, :]  # (S_k, S_j)
    mask = dt >= 0
    dtc = np.where(mask, dt, 0.0)[None, :, :]
    g = inputs.doses[:, None, :]  # (n, 1, S_j)

    def col(x: float | FloatArray) -> FloatArray:
        return np.asarray(x, dtype=np.float64).reshape(-1, 1, 1)

    kb, kf, ks = col(inputs.k_build), col(inputs.k_fast), col(inputs.k_slow)
    phi = col(inputs.remodelled_fraction)
    w = np.where(mask[None, :, :], g, 0.0)
    p = np.sum(w * np.exp(-kb * dtc), axis=2)
    cf = np.sum(w * (1.0 - phi) * healing_kernel(dtc, kb, kf), axis=2)
    cs = np.sum(w * phi * healing_kernel(dtc, kb, ks), axis=2)
    n = inputs.doses.shape[0]
    return (
        np.asarray(np.broadcast_to(p, (n, s.size)), dtype=np.float64),
        np.asarray(np.broadcast_to(cf, (n, s.size)), dtype=np.float64),
        np.asarray(np.broadcast_to(cs, (n, s.size)), dtype=np.float64),
    )


def treatment_dose(day: NDArray[np.float64], inputs: CurveInputs) -> NDArray[np.float64]:
    """Collagen-induction dose in the skin on each day ``Z(t)`` [% of pre-treatment], ``(n, D)``.

    Notes
    -----
    The superposition of every session's response,

    .. math::

        Z(t) = \\sum_{s_k \\le t} g_k \\left[(1-\\phi) B(t - s_k; k_b, k_f)
               + \\phi B(t - s_k; k_b, k_s)\\right],

    is evaluated exactly by propagating the linear state from the last session before ``t``:
    with ``tau = t - s_k`` and the state ``(P_k, C_{f,k}, C_{s,k})`` just after session ``k``,

    .. math::

        C_f(t) = C_{f,k} e^{-k_f \\tau} + (1-\\phi) P_k B(\\tau; k_b, k_f), \\quad
        C_s(t) = C_{s,k} e^{-k_s \\tau} + \\phi P_k B(\\tau; k_b, k_s),

    and ``Z = C_f + C_s``. One evaluation per day and curve, whatever the number of sessions.
    """
    return _dose_from_states(day, inputs, *session_states(inputs))


def _dose_from_states(
    day: NDArray[np.float64],
    inputs: CurveInputs,
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
) -> NDArray[np.float64]:
    """:func:`treatment_dose` from the session states ``(P, C_f, C_s)``, each ``(n, S)``."""
    idx = np.searchsorted(inputs.session_days, day, side="right") - 1
    started = idx >= 0
    idx = np.maximum(idx, 0)
    tau = np.where(started, day - inputs.session_days[idx], 0.0)[None, :]
    kb, phi = inputs.k_build, inputs.remodelled_fraction
    kf = np.broadcast_to(np.asarray(inputs.k_fast, dtype=np.float64), (p.shape[0], 1))
    ks = np.broadcast_to(np.asarray(inputs.k_slow, dtype=np.float64), (p.shape[0], 1))
    if not (np.any(np.abs(kb - kf) < 1e-3 * kb) or np.any(np.abs(kb - ks) < 1e-3 * kb)):
        # The same sum regrouped per exponential, the coefficients combined on the (n, S)
        # session states before they are spread over the days: two exponentials per value
        # (e^{-k_b tau} is shared by every row), three products.
        a_f = (1.0 - phi) * kb / (kb - kf)
        a_s = phi * kb / (kb - ks)
        z = (cf + p * a_f)[:, idx] * np.exp(-kf * tau)
        z += (cs + p * a_s)[:, idx] * np.exp(-ks * tau)
        z -= (p * (a_f + a_s))[:, idx] * np.exp(-kb * tau)
        on_session = np.nonzero(tau[0] == 0.0)[0]  # B(0) = 0 exactly, not a rounding residue
        z[:, on_session] = (cf + cs)[:, idx[on_session]]
        return np.asarray(np.where(started[None, :], z, 0.0), dtype=np.float64)
    z = dose_from_state(
        p[:, idx],
        cf[:, idx],
        cs[:, idx],
        tau,
        inputs.k_build,
        inputs.k_fast,
        inputs.k_slow,
        inputs.remodelled_fraction,
    )
    return np.asarray(np.where(started[None, :], z, 0.0), dtype=np.float64)


def improvement(day: NDArray[np.float64], inputs: CurveInputs) -> NDArray[np.float64]:
    """Improvement over the pre-treatment level on each day [% of pre-treatment firmness].

    Parameters
    ----------
    day : ndarray, shape (D,)
        Days from the first session [days], ascending.
    inputs : CurveInputs
        Doses, rates and capacity for ``n`` curves.

    Returns
    -------
    ndarray, shape (n, D)
        ``I(t) = F(t) - 100`` where ``F(t) = 100 e^{-r t} + C (1 - e^{-Z(t)/C})``.

    Notes
    -----
    Firmness is the patient's own untreated, ageing level plus the visible part of the
    treatment dose; improvement subtracts her pre-treatment level (100), so ageing during the
    forecast counts against it. Evaluated in blocks of rows into scratch buffers that every
    block reuses (:func:`_improvement_fused`): the same operations in the same order as
    :func:`treatment_dose`, :func:`~needleplan.forecasting.models.capacity.saturate` and
    :func:`~needleplan.forecasting.models.ageing.ageing_decline`, so the same numbers, without a
    fresh day-sized temporary per operation (each one is page faults on a loaded machine).
    """
    p, cf, cs = session_states(inputs)
    n = p.shape[0]
    d = np.asarray(day, dtype=np.float64)
    kb = inputs.k_build
    kf = np.broadcast_to(np.asarray(inputs.k_fast, dtype=np.float64), (n, 1))
    ks = np.broadcast_to(np.asarray(inputs.k_slow, dtype=np.float64), (n, 1))
    close = ((np.abs(kb - kf) < 1e-3 * kb) | (np.abs(kb - ks) < 1e-3 * kb))[:, 0]
    if not np.any(close):
        return _improvement_fused(d, inputs, p, cf, cs, kf, ks)
    if not np.all(close):
        # Rows are independent: the few rows with a fading rate near k_b take the stable path
        # below, the others the fused one (the same numbers as each path gives them alone).
        far = np.nonzero(~close)[0]
        near = np.nonzero(close)[0]
        out = np.empty((n, d.size))
        sub = _take_rows(inputs, far, n)
        out[far] = _improvement_fused(d, sub, p[far], cf[far], cs[far], kf[far], ks[far])
        out[near] = improvement(d, _take_rows(inputs, near, n))
        return out
    out = np.empty((n, d.size))
    for i in range(0, n, ROW_CHUNK):  # row blocks: the day-sized temporaries stay in cache
        j = min(i + ROW_CHUNK, n)
        part = CurveInputs(
            session_days=inputs.session_days,
            doses=inputs.doses[i:j],
            k_build=_rows(inputs.k_build, i, j),
            k_fast=_rows(inputs.k_fast, i, j),
            k_slow=_rows(inputs.k_slow, i, j),
            remodelled_fraction=_rows(inputs.remodelled_fraction, i, j),
            capacity=_rows(inputs.capacity, i, j),
            ageing_rate=_rows(inputs.ageing_rate, i, j),
        )
        z = _dose_from_states(d, part, p[i:j], cf[i:j], cs[i:j])
        out[i:j] = saturate(z, part.capacity) - ageing_decline(d, part.ageing_rate)
    return out


#: Curves evaluated together over the days in :func:`improvement` (one block of rows).
ROW_CHUNK = 200
#: Values (rows x days) per block of the fused evaluation: three such blocks (the output rows
#: and two scratch buffers) stay in the CPU's cache.
FUSED_BLOCK_VALUES = 32_768


def _per_row(x: float | FloatArray, n: int) -> FloatArray:
    """A shared or per-curve ``(n, 1)`` parameter as an ``(n, 1)`` array (a view)."""
    return np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1, 1), (n, 1))


def _improvement_fused(
    day: FloatArray,
    inputs: CurveInputs,
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    kf: FloatArray,
    ks: FloatArray,
) -> FloatArray:
    """:func:`improvement` when no fading rate is within 0.1 % of ``k_b`` (the usual case).

    Per block of rows, in place: ``Z = A_k e^{-k_f tau} + B_k e^{-k_s tau} - C_k e^{-k_b tau}``
    (the coefficients combined on the session states, see :func:`_dose_from_states`), exactly
    ``C_f + C_s`` on session days and 0 before the first session; then ``C - C e^{-Z/C}`` and
    minus ``100 - 100 e^{-r t}``.
    """
    n, d = p.shape[0], day.size
    s = inputs.session_days
    idx = np.searchsorted(s, day, side="right") - 1
    started = idx >= 0
    idx = np.maximum(idx, 0)
    tau = np.where(started, day - s[idx], 0.0)[None, :]
    on_session = np.nonzero(tau[0] == 0.0)[0]
    not_started = np.nonzero(~started)[0]
    kb, phi = inputs.k_build, inputs.remodelled_fraction
    a_f = (1.0 - phi) * kb / (kb - kf)
    a_s = phi * kb / (kb - ks)
    coef_f = cf + p * a_f
    coef_s = cs + p * a_s
    coef_b = p * (a_f + a_s)
    on_day = cf + cs
    neg_kf, neg_ks, neg_kb = -kf, -ks, -_per_row(kb, n)
    cap = _per_row(inputs.capacity, n)
    neg_r = -_per_row(inputs.ageing_rate, n)
    out = np.empty((n, d))
    rows = max(1, min(n, FUSED_BLOCK_VALUES // max(d, 1)))
    gathered = np.empty((rows, d))
    scratch = np.empty((rows, d))
    for i in range(0, n, rows):
        j = min(i + rows, n)
        z, g, e = out[i:j], gathered[: j - i], scratch[: j - i]
        np.take(coef_f[i:j], idx, axis=1, out=g, mode="clip")
        np.multiply(neg_kf[i:j], tau, out=e)
        np.exp(e, out=e)
        np.multiply(g, e, out=z)
        np.take(coef_s[i:j], idx, axis=1, out=g, mode="clip")
        np.multiply(neg_ks[i:j], tau, out=e)
        np.exp(e, out=e)
        np.multiply(g, e, out=g)
        z += g
        np.take(coef_b[i:j], idx, axis=1, out=g, mode="clip")
        np.multiply(neg_kb[i:j], tau, out=e)
        np.exp(e, out=e)
        np.multiply(g, e, out=g)
        z -= g
        if on_session.size:  # B(0) = 0 exactly, not a rounding residue
            z[:, on_session] = on_day[i:j][:, idx[on_session]]
        if not_started.size:
            z[:, not_started] = 0.0
        # saturate: C - C e^{-Z/C}
        c = cap[i:j]
        np.negative(z, out=e)
        np.divide(e, c, out=e)
        np.exp(e, out=e)
        np.multiply(c, e, out=e)
        np.subtract(c, e, out=z)
        # minus the ageing decline 100 - 100 e^{-r t}
        np.multiply(neg_r[i:j], day[None, :], out=e)
        np.exp(e, out=e)
        np.multiply(100.0, e, out=e)
        np.subtract(100.0, e, out=e)
        z -= e
    return out


def _take_rows(inputs: CurveInputs, rows: NDArray[np.intp], n: int) -> CurveInputs:
    """The curves ``rows`` of ``n`` (per-curve values indexed, shared values as they are)."""

    def pick(x: Any) -> Any:
        a = np.asarray(x)
        return x if a.ndim == 0 or a.shape[0] == 1 else np.asarray(a[rows], dtype=np.float64)

    return CurveInputs(
        session_days=inputs.session_days,
        doses=np.asarray(np.broadcast_to(inputs.doses, (n, inputs.doses.shape[-1]))[rows]),
        k_build=pick(inputs.k_build),
        k_fast=pick(inputs.k_fast),
        k_slow=pick(inputs.k_slow),
        remodelled_fraction=pick(inputs.remodelled_fraction),
        capacity=pick(inputs.capacity),
        ageing_rate=pick(inputs.ageing_rate),
    )


def _rows(x: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a per-curve ``(n, 1)`` value; a shared value as it is."""
    a = np.asarray(x)
    return x if a.ndim == 0 or a.shape[0] == 1 else a[start:stop]

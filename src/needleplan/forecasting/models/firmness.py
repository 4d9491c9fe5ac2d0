"""The firmness index over time: superposition of session responses, capacity, ageing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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
    k_build : float
        Build-up rate ``k_b`` [1/day].
    k_fast, k_slow : ndarray, shape (n, 1)
        Fading rates of the fast and remodelled parts [1/day].
    remodelled_fraction : float
        ``phi`` [-].
    capacity : float
        Ceiling ``C`` [% of pre-treatment firmness].
    ageing_rate : ndarray, shape (n, 1)
        ``r`` [1/day].
    """

    session_days: NDArray[np.float64]
    doses: NDArray[np.float64]
    k_build: float
    k_fast: NDArray[np.float64]
    k_slow: NDArray[np.float64]
    remodelled_fraction: float
    capacity: float
    ageing_rate: NDArray[np.float64]


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
    p = np.zeros((n, n_s))
    cf = np.zeros((n, n_s))
    cs = np.zeros((n, n_s))
    phi = inputs.remodelled_fraction
    kf, ks = inputs.k_fast, inputs.k_slow
    dt = np.diff(inputs.session_days)[None, :]  # (1, S-1) [days]
    # One-step propagators over each gap, computed at once: (n, S-1) each.
    keep_p = np.exp(-inputs.k_build * dt)
    keep_f, keep_s = np.exp(-kf * dt), np.exp(-ks * dt)
    into_f = (1.0 - phi) * healing_kernel(dt, inputs.k_build, kf)
    into_s = phi * healing_kernel(dt, inputs.k_build, ks)
    p[:, 0] = inputs.doses[:, 0]
    for k in range(1, n_s):
        j = k - 1
        p0 = p[:, j]
        p[:, k] = p0 * keep_p[:, j] + inputs.doses[:, k]
        cf[:, k] = cf[:, j] * keep_f[:, j] + p0 * into_f[:, j]
        cs[:, k] = cs[:, j] * keep_s[:, j] + p0 * into_s[:, j]
    return p, cf, cs


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
    p, cf, cs = session_states(inputs)
    idx = np.searchsorted(inputs.session_days, day, side="right") - 1
    started = idx >= 0
    idx = np.maximum(idx, 0)
    tau = np.where(started, day - inputs.session_days[idx], 0.0)[None, :]
    phi = inputs.remodelled_fraction
    kb = inputs.k_build
    kf, ks = inputs.k_fast, inputs.k_slow
    e_b = np.exp(-kb * tau)  # shared by every curve
    e_f = np.exp(-kf * tau)
    e_s = np.exp(-ks * tau)
    z = cf[:, idx] * e_f
    z += cs[:, idx] * e_s
    z += p[:, idx] * (
        (1.0 - phi) * kernel_from_exponentials(e_f, e_b, tau, kb, kf)
        + phi * kernel_from_exponentials(e_s, e_b, tau, kb, ks)
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
    forecast counts against it.
    """
    z = treatment_dose(day, inputs)
    return saturate(z, inputs.capacity) - ageing_decline(day, inputs.ageing_rate)

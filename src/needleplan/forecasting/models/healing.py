"""Each session's wound-healing response: build-up over weeks, a fast and a remodelled part."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.params import DAYS_PER_YEAR


def healing_kernel(
    tau: ArrayLike, k_build: float | NDArray[np.float64], k_fade: ArrayLike
) -> NDArray[np.float64]:
    """Collagen laid down per unit dose, ``tau`` days after a session [-].

    Parameters
    ----------
    tau : array_like
        Days since the session [days]; values < 0 give 0 (the session has not happened).
    k_build : float
        Build-up rate ``k_b`` [1/day] (the wound-healing signal decays into new collagen).
    k_fade : array_like
        Fading rate of that collagen ``k`` [1/day] (broadcasts, e.g. ``(n, 1)``).

    Returns
    -------
    ndarray
        ``B(tau) = k_b/(k_b - k) (e^{-k tau} - e^{-k_b tau})`` for ``tau >= 0``, else 0.

    Notes
    -----
    ``B`` solves ``dP/dt = -k_b P``, ``dC/dt = k_b P - k C`` with ``P(0) = 1``, ``C(0) = 0``:
    a session puts a dose of wound-healing signal ``P`` into the skin; fibroblasts turn it into
    collagen over weeks (time constant ``1/k_b``) and the collagen fades with rate ``k``. It
    rises from 0, peaks at ``ln(k_b/k)/(k_b - k)`` and decays. It is evaluated in the stable
    form ``k_b tau e^{-k tau} (1 - e^{-x})/x`` with ``x = (k_b - k) tau`` (finite as
    ``k -> k_b``). ``B`` decreases in ``k`` at every ``tau``.
    """
    t = np.maximum(np.asarray(tau, dtype=np.float64), 0.0)
    k = np.asarray(k_fade, dtype=np.float64)
    x = (k_build - k) * t
    small = np.abs(x) < 1e-8
    safe_x = np.where(small, 1.0, x)
    rel = np.where(small, 1.0 - 0.5 * x, -np.expm1(-safe_x) / safe_x)
    out = k_build * t * np.exp(-k * t) * rel
    return np.asarray(np.where(np.asarray(tau) >= 0, out, 0.0), dtype=np.float64)


def kernel_from_exponentials(
    e_fade: NDArray[np.float64],
    e_build: NDArray[np.float64],
    tau: ArrayLike,
    k_build: float | NDArray[np.float64],
    k_fade: NDArray[np.float64],
) -> NDArray[np.float64]:
    """:func:`healing_kernel` from its two exponentials, when the caller has them already.

    Parameters
    ----------
    e_fade, e_build : ndarray
        ``e^{-k tau}`` and ``e^{-k_b tau}`` (broadcast to the output shape).
    tau : array_like
        Days since the session [days], >= 0.
    k_build : float
        ``k_b`` [1/day].
    k_fade : ndarray, shape (n, 1)
        ``k`` [1/day], one per row.

    Returns
    -------
    ndarray
        ``B = k_b/(k_b - k) (e^{-k tau} - e^{-k_b tau})``; rows whose ``k`` is within 0.1 % of
        ``k_b`` (where the difference loses digits) use the stable :func:`healing_kernel`.

    Notes
    -----
    Saves two of the four exponentials per value: the fading exponentials are needed anyway
    for the collagen already laid down, and ``e^{-k_b tau}`` is shared by every row.
    """
    gap = k_build - k_fade
    close = np.abs(gap) < 1e-3 * k_build
    out = np.asarray((k_build / np.where(close, 1.0, gap)) * (e_fade - e_build), dtype=np.float64)
    rows = np.nonzero(np.broadcast_to(close, (out.shape[0], 1))[:, 0])[0]
    if rows.size:
        t = np.broadcast_to(np.asarray(tau, dtype=np.float64), out.shape)[rows]
        kb = np.broadcast_to(np.asarray(k_build, dtype=np.float64), (out.shape[0], 1))[rows]
        out[rows] = healing_kernel(t, kb, np.broadcast_to(k_fade, (out.shape[0], 1))[rows])
    return out


def spacing_factor(
    session_days: ArrayLike, heal_days: ArrayLike, given: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Share of a full response each session gets, given the time since the previous one [-].

    Parameters
    ----------
    session_days : array_like
        Session days, ascending [days], shape ``(S,)``.
    heal_days : array_like
        Recovery time constant of the healing capacity ``tau_h`` [days] (``(n, 1)`` per row).
    given : array_like of bool, optional
        For an ``(n, S)`` matrix of session days (one patient per row): whether each session
        takes place; one that does not gets 0 and the next gap counts from the last one that
        did (the cohort's dropped and missed sessions).

    Returns
    -------
    ndarray
        ``q_1 = 1``, ``q_k = 1 - exp(-(s_k - s_{k-1}) / tau_h)``, shape ``(S,)`` or ``(n, S)``.

    Notes
    -----
    Re-wounding before the micro-injuries have healed and the healing factors have recovered
    gives a weaker response (the seeds' reason for spacing). With ``tau_h = 7`` days, 21 days
    apart keeps 95 % and 35 days 99.3 %; 7 days apart only 63 %.
    """
    s = np.asarray(session_days, dtype=np.float64)
    h = np.asarray(heal_days, dtype=np.float64)
    if given is None and s.ndim == 1 and h.ndim == 2:  # one schedule, a recovery time per row
        q = np.ones((h.shape[0], s.size))
        if s.size > 1:
            q[:, 1:] = -np.expm1(-np.diff(s)[None, :] / h)
        return q
    if given is None and s.ndim == 1:
        q = np.ones_like(s)
        if s.size > 1:
            q[1:] = -np.expm1(-np.diff(s) / np.asarray(heal_days, dtype=np.float64))
        return q
    # Per patient (rows of an (n, S) matrix), sessions that do not take place (given False)
    # get 0 and the next one's gap counts from the last that did. Loop over slots, not days.
    s2 = np.atleast_2d(s)
    g = np.ones(s2.shape, dtype=bool) if given is None else np.asarray(given, dtype=bool)
    heal = np.broadcast_to(np.asarray(heal_days, dtype=np.float64), (s2.shape[0], 1))[:, 0]
    q2 = np.zeros(s2.shape)
    prev = np.full(s2.shape[0], -np.inf)
    for k in range(s2.shape[1]):
        q2[:, k] = np.where(g[:, k], -np.expm1(-(s2[:, k] - prev) / heal), 0.0)
        prev = np.where(g[:, k], s2[:, k], prev)
    return q2


def age_response_factor(
    age: ArrayLike, session_days: ArrayLike, per_decade: ArrayLike
) -> NDArray[np.float64]:
    """Response multiplier for the patient's age at each session [-].

    Notes
    -----
    ``exp(-beta_A (a + s_k/365.25 - 50)/10)``: older fibroblasts make less collagen (Varani et
    al. 2006, Am J Pathol 168:1861-1868), so later maintenance sessions give a little less.
    """
    s = np.asarray(session_days, dtype=np.float64)
    a = np.asarray(age, dtype=np.float64)
    beta = np.asarray(per_decade, dtype=np.float64)
    return np.asarray(np.exp(-beta * (a + s / DAYS_PER_YEAR - 50.0) / 10.0))


def session_doses(
    session_days: ArrayLike,
    gain: ArrayLike,
    *,
    age: float,
    heal_days: ArrayLike,
    age_response_per_decade: ArrayLike,
) -> NDArray[np.float64]:
    """Collagen-induction dose of each session [% of pre-treatment firmness].

    Parameters
    ----------
    session_days : array_like
        Session days, ascending [days], shape ``(S,)``.
    gain : array_like
        Dose of a fully healed session at age 50 for this patient (covariates and random effect
        included) [% of pre-treatment firmness], shape ``()`` or ``(n, 1)``.
    age : float
        Age at the first session [years].
    heal_days : float or ndarray, shape (n, 1)
        Healing recovery time constant (covariate-adjusted) [days], per row when drawn.
    age_response_per_decade : float or ndarray, shape (n, 1)
        ``beta_A`` [1/decade], per row when drawn.

    Returns
    -------
    ndarray
        ``g_k = G q_k a_k``, shape ``(S,)`` or ``(n, S)``.
    """
    q = spacing_factor(session_days, heal_days)
    a = age_response_factor(age, session_days, age_response_per_decade)
    return np.asarray(np.asarray(gain, dtype=np.float64) * (q * a), dtype=np.float64)

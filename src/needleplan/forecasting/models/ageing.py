"""Age-related decline of the patient's own firmness, which goes on during the forecast."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.params import DAYS_PER_YEAR


def ageing_rate(
    base_rate_per_year: float, age: float, per_decade: float, modifier: ArrayLike = 1.0
) -> NDArray[np.float64]:
    """Ageing decline rate for a patient [1/day].

    Parameters
    ----------
    base_rate_per_year : float
        Decline rate at age 50 with no risk factor ``r_0`` [1/year].
    age : float
        Age at the first session [years]; validated range 18-90.
    per_decade : float
        Log-increase of the rate per decade of age above 50 ``beta_r`` [1/decade].
    modifier : array_like
        Product of covariate and random-effect multipliers [-] (broadcasts).

    Returns
    -------
    ndarray
        ``r`` [1/day].

    Notes
    -----
    .. math:: r = r_0 \\, e^{\\beta_r (a - 50)/10} \\, m_r / 365.25

    Adult skin loses collagen at about 1 % a year (Shuster, Black & McVitie 1975, Br J Dermatol
    93:639-643), faster in later decades and with sun, smoking and poor diet.
    """
    m = np.asarray(modifier, dtype=np.float64)
    return np.asarray(
        base_rate_per_year * np.exp(per_decade * (age - 50.0) / 10.0) * m / DAYS_PER_YEAR,
        dtype=np.float64,
    )


def ageing_decline(day: ArrayLike, rate_per_day: ArrayLike) -> NDArray[np.float64]:
    """Loss of firmness from ageing since the first session [% of pre-treatment].

    Parameters
    ----------
    day : array_like
        Days since the first session [days], shape ``(D,)``.
    rate_per_day : array_like
        Decline rate ``r`` [1/day], shape ``()`` or ``(n, 1)`` to broadcast over curves.

    Returns
    -------
    ndarray
        ``D(t) = 100 (1 - exp(-r t))`` [% of pre-treatment firmness], shape broadcast of inputs.

    Notes
    -----
    The untreated firmness index is ``A(t) = 100 e^{-r t}`` (solution of ``dA/dt = -r A`` with
    ``A(0) = 100``); the decline counts against the improvement because improvement is measured
    against the patient's own pre-treatment level.
    """
    t = np.asarray(day, dtype=np.float64)
    r = np.asarray(rate_per_day, dtype=np.float64)
    return np.asarray(-100.0 * np.expm1(-r * t), dtype=np.float64)

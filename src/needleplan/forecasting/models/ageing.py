"""Age-related decline of the patient's own firmness, which goes on during the forecast."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.params import DAYS_PER_YEAR

#: Upper end of the adult range of age-related collagen loss [1/year]: dermal thickness falls
#: about 6 % per decade in sun-protected skin (A1: Branchet et al. 1990, Gerontology 36:28-35)
#: and the collagen score by about 24.5 % over 40 years (A2: Sibilla et al., in Reilly et al.
#: 2021), i.e. roughly 0.3-1.2 %/year across adults; the often cited 1 %/year (Shuster 1975)
#: is unverified (A4).
MAX_AGEING_RATE_PER_YEAR = 0.012
#: Order of the soft minimum that keeps the rate below the cap (higher is closer to min()).
SOFT_CAP_ORDER = 8.0


def ageing_rate(
    base_rate_per_year: ArrayLike, age: ArrayLike, per_decade: ArrayLike, modifier: ArrayLike = 1.0
) -> NDArray[np.float64]:
    """Ageing decline rate for a patient [1/day].

    Parameters
    ----------
    base_rate_per_year : array_like
        Decline rate at age 50 with no risk factor ``r_0`` [1/year].
    age : float
        Age at the first session [years]; validated range 18-90.
    per_decade : float or ndarray, shape (n, 1)
        Log-increase of the rate per decade of age above 50 ``beta_r`` [1/decade].
    modifier : array_like
        Product of covariate and random-effect multipliers [-] (broadcasts).

    Returns
    -------
    ndarray
        ``r`` [1/day].

    Notes
    -----
    .. math:: r = \\rho \\, (1 + (\\rho / r_{max})^8)^{-1/8} / 365.25, \\quad
              \\rho = r_0 e^{\\beta_r (a - 50)/10} m_r

    The raw rate ``rho`` grows with age and with sun, smoking and poor diet; the soft minimum
    keeps it inside the adult range of A1/A2 (below ``r_max`` = 1.2 %/year, however many
    factors stack), is about ``rho`` while ``rho`` is well below the cap, and increases with it,
    so every direction is kept.
    """
    m = np.asarray(modifier, dtype=np.float64)
    a = np.asarray(age, dtype=np.float64)
    raw = (
        np.asarray(base_rate_per_year, dtype=np.float64)
        * np.exp(np.asarray(per_decade, dtype=np.float64) * (a - 50.0) / 10.0)
        * m
    )
    cap = MAX_AGEING_RATE_PER_YEAR
    soft_min = raw / (1.0 + (raw / cap) ** SOFT_CAP_ORDER) ** (1.0 / SOFT_CAP_ORDER)
    return np.asarray(soft_min / DAYS_PER_YEAR, dtype=np.float64)


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
    return np.asarray(100.0 - 100.0 * np.exp(-r * t), dtype=np.float64)  # exp: SIMD, expm1 is not

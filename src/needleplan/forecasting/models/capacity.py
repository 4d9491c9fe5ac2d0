"""Diminishing returns as the skin nears its capacity for new collagen."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def saturate(dose: ArrayLike, capacity: ArrayLike) -> NDArray[np.float64]:
    """Visible firmness gain from the collagen-induction dose in the skin [% of pre-treatment].

    Parameters
    ----------
    dose : array_like
        Treatment-induced collagen dose ``Z`` [% of pre-treatment firmness] (>= 0).
    capacity : array_like
        Ceiling ``C`` [% of pre-treatment firmness] (> 0).

    Returns
    -------
    ndarray
        ``C (1 - exp(-Z / C))``: about ``Z`` while small, never above ``C``.

    Notes
    -----
    The marginal gain of a further dose ``g`` is ``e^{-Z/C} C (1 - e^{-g/C})``: each session adds
    less the fuller the skin already is (the headroom ``e^{-Z/C}``), which is the diminishing
    return of repeated sessions. The map is increasing in ``Z``, so anything that lowers the dose
    lowers the visible gain at every moment (the monotonicity the tests rely on).
    """
    z = np.asarray(dose, dtype=np.float64)
    c = np.asarray(capacity, dtype=np.float64)
    return np.asarray(c - c * np.exp(-z / c), dtype=np.float64)  # exp: SIMD, expm1 is not

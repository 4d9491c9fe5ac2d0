"""Population variability: one random effect per patient, lognormal multipliers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.params import ModelParams


@dataclass(frozen=True)
class RandomEffects:
    """Multipliers a patient's random effect puts on the typical-patient rates [-]."""

    response: NDArray[np.float64]
    fade: NDArray[np.float64]
    ageing: NDArray[np.float64]


def random_effects(z: ArrayLike, params: ModelParams) -> RandomEffects:
    """Lognormal multipliers for random-effect values ``z`` (standard normal draws).

    Parameters
    ----------
    z : array_like
        Patient random effect [-], ``z ~ N(0, 1)``; larger is a better responder.
    params : ModelParams
        Supplies the loadings ``omega_*``.

    Returns
    -------
    RandomEffects
        ``response = e^{omega_G z}``, ``fade = e^{-omega_F z}``, ``ageing = e^{-omega_r z}``.

    Notes
    -----
    One factor drives all three: a patient whose fibroblasts respond well also keeps her new
    collagen longer and ages slower (a "biological skin age" frailty). The improvement is then
    increasing in ``z`` at every day, so the population's median and p10-p90 band at each day are
    the curves of the draws at the matching order statistics of ``z``; ``chain.forecast`` uses
    this to compute exact sample quantiles of 1000 draws from a handful of curves.
    """
    zz = np.asarray(z, dtype=np.float64)
    return RandomEffects(
        response=np.exp(params.omega_response * zz),
        fade=np.exp(-params.omega_fade * zz),
        ageing=np.exp(-params.omega_ageing * zz),
    )

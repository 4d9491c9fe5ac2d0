"""Population variability: two correlated random effects per patient, lognormal multipliers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.forecasting.params import ModelParams


@dataclass(frozen=True)
class RandomEffects:
    """Multipliers a patient's random effects put on the typical-patient rates [-]."""

    response: NDArray[np.float64]
    fade: NDArray[np.float64]
    ageing: NDArray[np.float64]


def random_effects(
    response_effect: ArrayLike, persistence_effect: ArrayLike, params: ModelParams
) -> RandomEffects:
    """Lognormal multipliers for a patient's response and persistence effects.

    Parameters
    ----------
    response_effect : array_like
        ``u_R`` [-], standard normal in the population; larger is a stronger session response.
    persistence_effect : array_like
        ``u_P`` [-], standard normal in the population, correlated with ``u_R`` (``rho``,
        ``params.random_effect_correlation``); larger keeps new collagen and her own firmness
        longer.
    params : ModelParams
        Supplies the loadings ``omega_*``.

    Returns
    -------
    RandomEffects
        ``response = e^{omega_G u_R}``, ``fade = e^{-omega_F u_P}``, ``ageing = e^{-omega_r u_P}``.

    Notes
    -----
    Two effects, so a patient can respond well and fade fast ("responds well, fades fast"),
    which one shared effect could not express. The improvement increases in both effects on
    every day.
    """
    ur = np.asarray(response_effect, dtype=np.float64)
    up = np.asarray(persistence_effect, dtype=np.float64)
    return RandomEffects(
        response=np.exp(params.omega_response * ur),
        fade=np.exp(-params.omega_fade * up),
        ageing=np.exp(-params.omega_ageing * up),
    )


def conditional_persistence(response_effect: ArrayLike, params: ModelParams) -> NDArray[np.float64]:
    """Mean of ``u_P`` given ``u_R``: ``rho u_R`` [-] (used where only ``u_R`` is known)."""
    return np.asarray(
        params.random_effect_correlation * np.asarray(response_effect, dtype=np.float64),
        dtype=np.float64,
    )


def persistence_from(
    response_effect: ArrayLike, independent: ArrayLike, params: ModelParams
) -> NDArray[np.float64]:
    """``u_P = rho u_R + sqrt(1 - rho^2) e`` from ``u_R`` and an independent ``e ~ N(0, 1)``."""
    rho = params.random_effect_correlation
    return np.asarray(
        rho * np.asarray(response_effect, dtype=np.float64)
        + math.sqrt(1.0 - rho * rho) * np.asarray(independent, dtype=np.float64),
        dtype=np.float64,
    )

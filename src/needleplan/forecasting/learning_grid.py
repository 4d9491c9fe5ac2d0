"""Her response effect's posterior on a one-dimensional grid (:class:`ZPosterior`).

Used for the response marginal of the joint posterior
(:mod:`needleplan.forecasting.joint_posterior`), its persistence marginal, and the population
prior. Quantiles, the CDF and the map from prior draws are piecewise linear between cell edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp, ndtr

from needleplan.forecasting.result import QUANTILES

#: Grid of the patient random effect ``z`` [-]: 401 points on [-6, 6] (spacing 0.03).
Z_GRID = np.linspace(-6.0, 6.0, 401)


@dataclass(frozen=True)
class ZPosterior:
    """Posterior of the patient random effect ``z`` on a grid.

    Attributes
    ----------
    grid : ndarray, shape (G,)
        Equally spaced values of ``z`` [-].
    mass : ndarray, shape (G,)
        Posterior probability of the grid cell around each value (sums to 1).
    n_observations : int
        Measurements it was computed from.
    is_prior : bool
        True when no measurement depends on ``z`` (the posterior is the N(0, 1) prior exactly;
        :meth:`transform` is then the identity).
    set_aside : int
        Measurements not used because they were taken within :data:`SWELLING_DAYS` after a
        session (swelling, not lasting improvement).
    misfits : tuple of (scale, day)
        Ratings on a relative scale (GAIS, satisfaction) whose recorded value had a posterior
        predictive probability below :data:`MISFIT_PROBABILITY`: they contradict her other
        ratings or the model; a warning to check them, they are still used.
    """

    grid: NDArray[np.float64]
    mass: NDArray[np.float64]
    n_observations: int
    is_prior: bool
    set_aside: int = 0
    misfits: tuple[tuple[str, float], ...] = ()

    @classmethod
    def prior(cls) -> ZPosterior:
        """The population prior N(0, 1) (no measurement)."""
        log_p = -0.5 * Z_GRID**2
        return cls(Z_GRID, normalise(log_p), 0, True)

    @property
    def mean(self) -> float:
        return float(np.dot(self.grid, self.mass))

    @property
    def sd(self) -> float:
        h = float(self.grid[1] - self.grid[0])
        var = float(np.dot((self.grid - self.mean) ** 2, self.mass)) + h * h / 12.0
        return math.sqrt(var)

    def _edges(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        h = float(self.grid[1] - self.grid[0])
        edges = np.concatenate([self.grid - h / 2.0, [self.grid[-1] + h / 2.0]])
        cdf = np.concatenate([[0.0], np.cumsum(self.mass)])
        cdf[-1] = 1.0
        return edges, np.minimum(cdf, 1.0)

    def cdf(self, z: ArrayLike) -> NDArray[np.float64]:
        """Posterior ``P(Z <= z)`` (piecewise linear between cell edges)."""
        edges, cdf = self._edges()
        return np.asarray(np.interp(np.asarray(z, dtype=np.float64), edges, cdf), dtype=np.float64)

    def quantile(self, q: ArrayLike) -> NDArray[np.float64]:
        """Posterior quantiles ``F^{-1}(q)`` for ``q`` in [0, 1] [-] (monotone in ``q``)."""
        qq = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0)
        edges, cdf = self._edges()
        idx = np.clip(np.searchsorted(cdf, qq, side="left"), 1, cdf.size - 1)
        width = cdf[idx] - cdf[idx - 1]
        frac = np.where(width > 0, (qq - cdf[idx - 1]) / np.where(width > 0, width, 1.0), 0.0)
        h = edges[1] - edges[0]
        return np.asarray(edges[idx - 1] + np.clip(frac, 0.0, 1.0) * h, dtype=np.float64)

    def transform(self, z_prior: ArrayLike) -> NDArray[np.float64]:
        """Map prior draws to posterior draws, ``F_post^{-1}(Phi(z))`` (identity for the prior)."""
        z = np.asarray(z_prior, dtype=np.float64)
        if self.is_prior:
            return z
        return self.quantile(ndtr(z))

    def to_json(self, ndigits: int = 3) -> dict[str, Any]:
        q10, q50, q90 = self.quantile(np.array(QUANTILES))
        return {
            "mean": round(self.mean, ndigits),
            "sd": round(self.sd, ndigits),
            "p10": round(float(q10), ndigits),
            "median": round(float(q50), ndigits),
            "p90": round(float(q90), ndigits),
            "measurements": self.n_observations,
            "is_prior": self.is_prior,
            "set_aside_swelling": self.set_aside,
            "misfits": [{"scale": s, "day": d} for s, d in self.misfits],
        }


def normalise(log_p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Probabilities (summing to 1, any shape) from unnormalised log-weights."""
    p = np.exp(log_p - logsumexp(log_p))
    return np.asarray(p / p.sum(), dtype=np.float64)

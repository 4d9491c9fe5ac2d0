"""Her two random effects learnt together: the posterior over (response, persistence) on a grid.

The population model gives each patient a response effect ``u_R`` and a persistence effect
``u_P``, standard normal with correlation ``rho``. Her measurements inform both: the level of
her improvement during and soon after the course mostly says how she responds, how fast it
falls over the following months (6-24 after a session) mostly how long she keeps it. The
posterior is evaluated on a fixed grid (:data:`RESPONSE_GRID` x :data:`PERSISTENCE_GRID`, every
grid pair through the model at once) by :func:`needleplan.forecasting.learning.posterior_effects`;
this module holds the result: its two marginals (each a
:class:`~needleplan.forecasting.learning_grid.ZPosterior`) and the map that turns the
population's seeded draws into draws from it (:meth:`EffectsPosterior.transform`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from needleplan.forecasting.learning_grid import ZPosterior, normalise

#: Grid of her response effect ``u_R`` in the joint posterior [-]: 161 points on [-6, 6].
RESPONSE_GRID = np.linspace(-6.0, 6.0, 161)
#: Grid of her persistence effect ``u_P`` [-]: 41 points on [-6, 6] (the data inform it less).
PERSISTENCE_GRID = np.linspace(-6.0, 6.0, 41)


def grid_pairs() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every grid pair ``(u_R, u_P)``, flattened row-major (``u_P`` fastest), each ``(G,)``."""
    ur, up = np.meshgrid(RESPONSE_GRID, PERSISTENCE_GRID, indexing="ij")
    return ur.ravel(), up.ravel()


def log_prior(rho: float) -> NDArray[np.float64]:
    """Log density of the bivariate normal prior (correlation ``rho``) on the grid, ``(Gr, Gp)``."""
    ur, up = RESPONSE_GRID[:, None], PERSISTENCE_GRID[None, :]
    return np.asarray(-(ur**2 - 2.0 * rho * ur * up + up**2) / (2.0 * (1.0 - rho * rho)))


@dataclass(frozen=True)
class EffectsPosterior:
    """Posterior of her response and persistence effects on the grid.

    Attributes
    ----------
    mass : ndarray, shape (Gr, Gp)
        Probability of each grid cell (sums to 1), rows :data:`RESPONSE_GRID`, columns
        :data:`PERSISTENCE_GRID`.
    rho : float
        The population correlation of the two effects (the prior's).
    n_observations, set_aside, misfits, is_prior :
        As :class:`~needleplan.forecasting.learning_grid.ZPosterior`.
    """

    mass: NDArray[np.float64]
    rho: float
    n_observations: int
    is_prior: bool
    set_aside: int = 0
    misfits: tuple[tuple[str, float], ...] = ()

    @classmethod
    def prior(cls, rho: float, set_aside: int = 0) -> EffectsPosterior:
        """The population prior (no measurement): :meth:`transform` is the population's map."""
        return cls(normalise(log_prior(rho)), rho, 0, True, set_aside)

    @property
    def response(self) -> ZPosterior:
        """Her response effect's marginal posterior (the prior N(0, 1) when nothing informs it)."""
        if self.is_prior:
            return replace(
                ZPosterior.prior(),
                n_observations=self.n_observations,
                set_aside=self.set_aside,
                misfits=self.misfits,
            )
        return ZPosterior(
            RESPONSE_GRID,
            np.asarray(self.mass.sum(axis=1), dtype=np.float64),
            self.n_observations,
            False,
            self.set_aside,
            self.misfits,
        )

    @property
    def persistence(self) -> ZPosterior:
        """Her persistence effect's marginal posterior."""
        if self.is_prior:
            return replace(
                ZPosterior.prior(), n_observations=self.n_observations, set_aside=self.set_aside
            )
        return ZPosterior(
            PERSISTENCE_GRID,
            np.asarray(self.mass.sum(axis=0), dtype=np.float64),
            self.n_observations,
            False,
            self.set_aside,
            self.misfits,
        )

    def transform(
        self, u_r: ArrayLike, e: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Map the population's seeded draws to draws of her two effects.

        Parameters
        ----------
        u_r, e : array_like
            Independent standard normals (the forecast's first and second ``draws``).

        Returns
        -------
        u_R, u_P : ndarray
            With the prior, the population's own ``u_R = u_r``, ``u_P = rho u_r + sqrt(1 -
            rho^2) e`` exactly. Otherwise ``u_R = F_R^{-1}(Phi(u_r))`` (her response marginal)
            and ``u_P = F_{P|R}^{-1}(Phi(e))`` on the grid row nearest ``u_R`` (the conditional
            given her response): a Rosenblatt transform, monotone in ``u_r`` and in ``e``.
            Vectorised, no loop over draws.
        """
        ur = np.asarray(u_r, dtype=np.float64)
        ee = np.asarray(e, dtype=np.float64)
        if self.is_prior:
            return ur, np.asarray(
                self.rho * ur + math.sqrt(1.0 - self.rho * self.rho) * ee, dtype=np.float64
            )
        shape = np.broadcast_shapes(ur.shape, ee.shape)
        ur_post = self.response.quantile(ndtr(np.broadcast_to(ur, shape).ravel()))
        q = ndtr(np.broadcast_to(ee, shape).ravel())
        h_r = float(RESPONSE_GRID[1] - RESPONSE_GRID[0])
        row = np.clip(np.rint((ur_post - RESPONSE_GRID[0]) / h_r), 0, RESPONSE_GRID.size - 1)
        cond = self.mass[row.astype(np.int64)]  # (n, Gp): her persistence given her response
        total = cond.sum(axis=1, keepdims=True)
        marginal = self.mass.sum(axis=0)[None, :]
        cond = np.where(total > 0, cond / np.where(total > 0, total, 1.0), marginal)
        cdf = np.concatenate([np.zeros((cond.shape[0], 1)), np.cumsum(cond, axis=1)], axis=1)
        cdf[:, -1] = 1.0
        # the cell each q falls in, per row (comparisons, no loop over draws)
        idx = np.clip((cdf < q[:, None]).sum(axis=1), 1, cdf.shape[1] - 1)
        rows = np.arange(cdf.shape[0])
        lo, hi = cdf[rows, idx - 1], cdf[rows, idx]
        width = hi - lo
        frac = np.where(width > 0, (q - lo) / np.where(width > 0, width, 1.0), 0.0)
        h_p = float(PERSISTENCE_GRID[1] - PERSISTENCE_GRID[0])
        up = float(PERSISTENCE_GRID[0]) - h_p / 2.0 + (idx - 1 + np.clip(frac, 0.0, 1.0)) * h_p
        return (
            np.asarray(ur_post.reshape(shape), dtype=np.float64),
            np.asarray(up.reshape(shape), dtype=np.float64),
        )

    def to_json(self, ndigits: int = 3) -> dict[str, Any]:
        """Both marginals (``response`` as ``posterior_z`` has always read) and their
        posterior correlation."""
        return {
            "response": self.response.to_json(ndigits),
            "persistence": self.persistence.to_json(ndigits),
            "correlation": round(self.correlation, ndigits),
        }

    @property
    def correlation(self) -> float:
        """Posterior correlation of the two effects [-] (the prior's ``rho`` with no data)."""
        if self.is_prior:
            return self.rho
        ur, up = RESPONSE_GRID[:, None], PERSISTENCE_GRID[None, :]
        mr = float((self.mass * ur).sum())
        mp = float((self.mass * up).sum())
        cov = float((self.mass * (ur - mr) * (up - mp)).sum())
        vr = float((self.mass * (ur - mr) ** 2).sum())
        vp = float((self.mass * (up - mp) ** 2).sum())
        return cov / math.sqrt(vr * vp) if vr > 0 and vp > 0 else 0.0

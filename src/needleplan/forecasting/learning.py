"""Per-patient learning: her response effect ``z`` from her measurements, and her own forecast.

The population model (``docs/model.md``) gives every patient two correlated random effects, her
response ``z = u_R`` and her persistence ``u_P`` (correlation ``rho``). The update learns ``z``;
in the likelihood her persistence is at its mean given ``z`` (``rho z``), and in her forecast
each draw's persistence follows its prior given the drawn ``z``. The improvement ``I(t; z)``
increases with ``z`` on every day. Her outcome measurements, read through the observation model
(:mod:`needleplan.forecasting.observation`), tell which ``z`` she has:

.. math::

    p(z \\mid y) \\propto \\varphi(z) \\prod_{m \\in \\text{relative}} p(y_m \\mid b_s + \\beta_s I(t_m; z))
    \\prod_{g \\in \\text{absolute}} \\int N(b; b_{0g}, \\tau_g^2)
    \\prod_{m \\in g} p(y_m \\mid b + \\beta_g I(t_m; z))\\, db,

evaluated on a fixed grid of ``z`` (401 points on [-6, 6]); each absolute scale (and area) has
its own unknown pre-treatment value ``b``, integrated out on a grid of 81 points. Measurements on
or before the first session have ``I = 0``: they inform only ``b``.

Her personalised forecast maps the population draws through the posterior's quantile function,
``z_i = F_post^{-1}(Phi(z_i^{prior}))``, and then proceeds exactly as
:func:`needleplan.forecasting.chain.forecast` (same seed, same draws), so with no
measurement it is the population forecast, and a posterior that is stochastically larger gives
a curve that is higher on every day and durations that are never shorter. Equations and checks:
``docs/learning.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp, ndtr

from needleplan.domain import Assessment
from needleplan.domain.records import Measurement, MeasurementScale
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.chain import (
    MAX_YEARS,
    QUANTILES,
    ForecastResult,
    curve_inputs,
    forecast,
    horizon_days,
)
from needleplan.forecasting.models import improvement
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    ScaleLink,
    baseline_prior,
    latent_mean,
    link_for,
    log_likelihood,
    predictive_cdf,
)
from needleplan.forecasting.params import ModelParams, default_params
from needleplan.forecasting.schedules import _check_age, _check_sessions

#: Grid of the patient random effect ``z`` [-]: 401 points on [-6, 6] (spacing 0.03).
Z_GRID = np.linspace(-6.0, 6.0, 401)
#: Nodes of the pre-treatment value integral, in prior standard deviations.
BASELINE_NODES = np.linspace(-5.0, 5.0, 81)
#: The predicted band a calibrated model's measurements fall into 80 % of the time.
BAND = (0.10, 0.90)
#: Days after a session during which a rating reads swelling, not lasting improvement [days]:
#: micropores close within 2-3 days and the barrier recovers within about 7 (evidence K3);
#: twice that, so the wound's swelling and redness have settled. Such measurements are set aside.
SWELLING_DAYS = 14.0
#: A rating whose posterior predictive probability is below this is flagged as a misfit: it
#: contradicts what her other measurements say (or the model) [-].
MISFIT_PROBABILITY = 0.01


@dataclass(frozen=True)
class Observation:
    """One measurement as the model sees it.

    Attributes
    ----------
    scale : MeasurementScale
    value : float
        Recorded value [scale units].
    day : float
        Days from her first session [days]; on or before 0 is pre-treatment (``I = 0``).
    group : str
        Which pre-treatment value an absolute scale refers to (the treated area, or "").
    """

    scale: MeasurementScale
    value: float
    day: float
    group: str = ""


def observations_from(
    measurements: Sequence[Measurement], first_session: date
) -> list[Observation]:
    """Clinic measurements as observations, dated in days from ``first_session``."""
    return [
        Observation(
            scale=m.scale,
            value=float(m.value),
            day=float((m.measured_at.date() - first_session).days),
            group=m.area.value if m.area is not None else "",
        )
        for m in measurements
    ]


def _check_observations(observations: Sequence[Observation], last_day: int) -> None:
    for i, obs in enumerate(observations):
        try:
            MeasurementScale(obs.scale).check(float(obs.value))
        except ValueError as exc:
            raise InputError.one(f"measurements[{i}].value", obs.value, str(exc)) from None
        if not math.isfinite(obs.day):
            raise InputError.one(f"measurements[{i}].day", obs.day, "must be a finite number")
        if obs.day > last_day:
            raise ModelRangeError(
                f"measurements[{i}].day: {obs.day:g} is beyond the model's validated horizon "
                f"(day {last_day})"
            )


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
        return cls(Z_GRID, _normalise(log_p), 0, True)

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


def _normalise(log_p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.exp(log_p - logsumexp(log_p))
    return np.asarray(p / p.sum(), dtype=np.float64)


@dataclass(frozen=True)
class _Evidence:
    """Improvement of every grid ``z`` on every observation day, shared by the computations."""

    observations: tuple[Observation, ...]
    improvement: NDArray[np.float64]  # (G, M) [% of pre-treatment firmness]
    links: tuple[ScaleLink, ...]
    baselines: tuple[tuple[float, float], ...]
    set_aside: int = 0


def in_swelling_window(day: float, session_days: NDArray[np.float64]) -> bool:
    """True when ``day`` falls 0 < d < :data:`SWELLING_DAYS` days after a session [days].

    A measurement on a session's own day counts as taken before that session.
    """
    k = int(np.searchsorted(session_days, day, side="right")) - 1
    return k >= 0 and 0.0 < day - float(session_days[k]) < SWELLING_DAYS


def _evidence(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    params: ModelParams,
    links: Mapping[MeasurementScale, ScaleLink] | None,
) -> _Evidence:
    _check_age(assessment)
    end = horizon_days(MAX_YEARS)
    s = _check_sessions(session_days, end)
    _check_observations(tuple(observations), end)
    obs = tuple(o for o in observations if not in_swelling_window(o.day, s))
    aside = len(observations) - len(obs)
    chosen = tuple(link_for(o.scale, links) for o in obs)
    days = np.array([o.day for o in obs], dtype=np.float64)
    imp = np.zeros((Z_GRID.size, days.size))
    after = days > 0
    if np.any(after):
        inputs = curve_inputs(assessment, s, Z_GRID, params)
        imp[:, after] = improvement(days[after], inputs)
    return _Evidence(
        obs, imp, chosen, tuple(baseline_prior(lk, assessment) for lk in chosen), aside
    )


def _groups(ev: _Evidence) -> dict[tuple[MeasurementScale, str], list[int]]:
    groups: dict[tuple[MeasurementScale, str], list[int]] = {}
    for m, (obs, lk) in enumerate(zip(ev.observations, ev.links, strict=True)):
        if not lk.relative:
            groups.setdefault((lk.scale, obs.group), []).append(m)
    return groups


def _offset(link: ScaleLink) -> float:
    assert link.offset is not None  # relative scales only
    return link.offset


def _baseline_nodes(ev: _Evidence, m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes of her pre-treatment value [scale units] and their prior log-weights."""
    b0, tau = ev.baselines[m]
    nodes = b0 + tau * BASELINE_NODES
    log_w = -0.5 * BASELINE_NODES**2
    return nodes, log_w - logsumexp(log_w)


def _log_likelihood(ev: _Evidence) -> NDArray[np.float64]:
    """``log p(y | z)`` on the grid, shape (G,)."""
    total = np.zeros(Z_GRID.size)
    for m, (obs, lk) in enumerate(zip(ev.observations, ev.links, strict=True)):
        if lk.relative:
            total += log_likelihood(
                lk, obs.value, latent_mean(lk, ev.improvement[:, m], _offset(lk))
            )
    for idx in _groups(ev).values():
        lk = ev.links[idx[0]]
        nodes, log_w = _baseline_nodes(ev, idx[0])
        values = np.array([ev.observations[m].value for m in idx])
        mu = nodes[None, :, None] + lk.slope * ev.improvement[:, idx][:, None, :]  # (G, K, M)
        ll = log_likelihood(lk, values[None, None, :], mu).sum(axis=2)
        total += logsumexp(ll + log_w[None, :], axis=1)
    return total


def posterior_z(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    *,
    params: ModelParams | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> ZPosterior:
    """Posterior over her random effect ``z`` given her measurements.

    Parameters
    ----------
    assessment : Assessment
        The patient (sets her typical curve and the prior of her pre-treatment grades).
    session_days : sequence of float
        Her session days from the first session [days] (performed, and booked ones if any: a
        session after a measurement does not change it).
    observations : sequence of Observation
        Her measurements, dated from the first session.
    params : ModelParams, optional
        Model parameters (default: the shipped calibration).
    links : mapping, optional
        Observation model per scale (default: :data:`DEFAULT_LINKS`).

    Returns
    -------
    ZPosterior

    Raises
    ------
    InputError
        for a value off its scale or malformed session days; ``ModelRangeError`` outside the
        model's validated range.
    """
    p = default_params() if params is None else params
    ev = _evidence(assessment, session_days, observations, p, links)
    if not ev.observations:
        return replace(ZPosterior.prior(), set_aside=ev.set_aside)
    ll = _log_likelihood(ev)
    flat = bool(np.ptp(ll) == 0.0)
    mass = _normalise(-0.5 * Z_GRID**2 + ll)
    return ZPosterior(Z_GRID, mass, len(ev.observations), flat, ev.set_aside, _misfits(ev, mass))


def _misfits(ev: _Evidence, mass: NDArray[np.float64]) -> tuple[tuple[str, float], ...]:
    """Relative-scale ratings whose posterior predictive probability is below the flag level."""
    out = []
    for m, (obs, lk) in enumerate(zip(ev.observations, ev.links, strict=True)):
        if not lk.relative or obs.day <= 0:
            continue
        mu = latent_mean(lk, ev.improvement[:, m], _offset(lk))
        prob = float(np.dot(mass, np.exp(log_likelihood(lk, obs.value, mu))))
        if prob < MISFIT_PROBABILITY:
            out.append((MeasurementScale(obs.scale).value, float(obs.day)))
    return tuple(out)


def band_shares(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    *,
    params: ModelParams | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> list[tuple[Observation, float]]:
    """For each follow-up measurement, the chance it falls inside the predicted 80 % band.

    The prediction is the default calibration's, before her response is seen: ``z ~ N(0, 1)``
    and, for absolute scales, her pre-treatment value as known from her measurements on or
    before the first session (else the population prior). With the predictive ``F`` and the
    recorded value ``y``, the randomised PIT lies uniformly in ``[F(y-), F(y)]``; the share is
    the part of that interval inside ``[0.1, 0.9]`` (for a continuous value, 1 or 0). A
    calibrated model averages 0.80.

    Returns
    -------
    list of (Observation, float)
        Follow-ups only (day > 0), in input order.
    """
    p = default_params() if params is None else params
    ev = _evidence(assessment, session_days, observations, p, links)
    prior_w = ZPosterior.prior().mass
    out: list[tuple[Observation, float]] = []
    base_log: dict[tuple[MeasurementScale, str], NDArray[np.float64]] = {}
    for key, idx in _groups(ev).items():
        lk = ev.links[idx[0]]
        nodes, log_w = _baseline_nodes(ev, idx[0])
        pre = [m for m in idx if ev.observations[m].day <= 0]
        if pre:
            values = np.array([ev.observations[m].value for m in pre])
            log_w = log_w + log_likelihood(lk, values[None, :], nodes[:, None]).sum(axis=1)
        base_log[key] = _normalise(log_w)
    for m, (obs, lk) in enumerate(zip(ev.observations, ev.links, strict=True)):
        if obs.day <= 0:
            continue
        if lk.relative:
            lo, hi = predictive_cdf(
                lk, obs.value, latent_mean(lk, ev.improvement[:, m], _offset(lk))
            )
            f_lo, f_hi = float(prior_w @ lo), float(prior_w @ hi)
        else:
            nodes, _ = _baseline_nodes(ev, m)
            w_b = base_log[(lk.scale, obs.group)]
            mu = nodes[None, :] + lk.slope * ev.improvement[:, m][:, None]  # (G, K)
            lo, hi = predictive_cdf(lk, obs.value, mu)
            f_lo, f_hi = float(prior_w @ lo @ w_b), float(prior_w @ hi @ w_b)
        out.append((obs, _share_inside(f_lo, f_hi)))
    return out


def _share_inside(f_lo: float, f_hi: float) -> float:
    lo_b, hi_b = BAND
    if f_hi - f_lo <= 1e-12:
        return 1.0 if lo_b <= f_hi <= hi_b else 0.0
    overlap = max(0.0, min(f_hi, hi_b) - max(f_lo, lo_b))
    return overlap / (f_hi - f_lo)


def personal_forecast(
    assessment: Assessment,
    session_days: Sequence[float] | NDArray[np.float64],
    posterior: ZPosterior,
    *,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
    n_initial: int | None = None,
) -> ForecastResult:
    """Her forecast with ``z`` drawn from her posterior instead of the population prior.

    Same arguments and result as :func:`needleplan.forecasting.chain.forecast`: the seeded
    N(0, 1) draws of the response effect are mapped through :meth:`ZPosterior.transform` (a
    monotone map); the central curve is at her posterior median, the p10-p90 band across the
    mapped draws, as in the population forecast. With ``ZPosterior.prior()`` the result equals
    ``forecast(..., parameter_uncertainty=False)``: her update conditions on the point-fit
    parameters (her measurements say which ``z`` she has given them), so her band is the spread
    of patients like her, without the population parameters' own uncertainty.
    """
    return forecast(
        assessment,
        session_days,
        years=years,
        draws=draws,
        seed=seed,
        params=params,
        n_initial=n_initial,
        z_transform=posterior.transform,
        parameter_uncertainty=False,
    )


@dataclass(frozen=True)
class PersonalUpdate:
    """Her posterior, the population forecast and her personalised forecast, side by side."""

    posterior: ZPosterior
    population: ForecastResult
    personal: ForecastResult

    def to_json(self, *, curves: bool = False) -> dict[str, Any]:
        pop, own = self.population.to_json(), self.personal.to_json()
        out: dict[str, Any] = {
            "posterior_z": self.posterior.to_json(),
            "session_days": own["session_days"],
            "initial_sessions": own["initial_sessions"],
            "noticeable_threshold": own["noticeable_threshold"],
            "population": {"milestones": pop["milestones"]},
            "personal": {"milestones": own["milestones"]},
        }
        if curves:
            out["day"] = own["curve"]["day"]
            out["population"]["curve"] = {k: v for k, v in pop["curve"].items() if k != "day"}
            out["personal"]["curve"] = {k: v for k, v in own["curve"].items() if k != "day"}
        return out


def update_forecast(
    assessment: Assessment,
    session_days: Sequence[float] | NDArray[np.float64],
    observations: Sequence[Observation],
    *,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
    n_initial: int | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> PersonalUpdate:
    """Posterior over ``z`` from her measurements, then her population and personal forecasts.

    See :func:`posterior_z` and :func:`personal_forecast`; the two forecasts share the seed, so
    they differ only by what her measurements say.
    """
    post = posterior_z(assessment, session_days, observations, params=params, links=links)
    kw: dict[str, Any] = {
        "years": years,
        "draws": draws,
        "seed": seed,
        "params": params,
        "n_initial": n_initial,
    }
    return PersonalUpdate(
        posterior=post,
        population=forecast(assessment, session_days, parameter_uncertainty=False, **kw),
        personal=personal_forecast(assessment, session_days, post, **kw),
    )


__all__ = [
    "BAND",
    "DEFAULT_LINKS",
    "Z_GRID",
    "Observation",
    "PersonalUpdate",
    "ZPosterior",
    "band_shares",
    "observations_from",
    "personal_forecast",
    "posterior_z",
    "update_forecast",
]

"""Per-patient learning: her response and persistence effects from her measurements.

The population model (``docs/model.md``) gives every patient two correlated random effects, her
response ``u_R`` and her persistence ``u_P`` (correlation ``rho``). The improvement
``I(t; u_R, u_P)`` increases in each on every day. Her outcome measurements, read through the
observation model (:mod:`needleplan.forecasting.observation`), tell which pair she has:

.. math::

    p(u \\mid y) \\propto N_2(u; \\rho) \\prod_{m \\in \\text{relative}} p(y_m \\mid b_s + \\beta_s I(t_m; u))
    \\prod_{g \\in \\text{absolute}} \\int N(b; b_{0g}, \\tau_g^2)
    \\prod_{m \\in g} p(y_m \\mid b + \\beta_g I(t_m; u))\\, db,

evaluated on a fixed grid of pairs (:mod:`needleplan.forecasting.joint_posterior`); each
absolute scale (and area) has its own unknown pre-treatment value ``b``, integrated out on a grid
of 81 points. Measurements on or before the first session have ``I = 0``: they inform only
``b``. Measurements 6-24 months after a session separate the two effects ("responds well, fades
fast").

Her personalised forecast maps the population draws through her joint posterior
(:meth:`~needleplan.forecasting.joint_posterior.EffectsPosterior.transform`) and then proceeds
exactly as :func:`needleplan.forecasting.chain.forecast` (same seed, same draws), so with no
measurement it is the population forecast. Equations and checks: ``docs/learning.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from needleplan.domain import Assessment
from needleplan.domain.records import Measurement, MeasurementScale
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.chain import (
    MAX_YEARS,
    ForecastResult,
    curve_inputs,
    forecast,
    horizon_days,
)
from needleplan.forecasting.joint_posterior import (
    PERSISTENCE_GRID,
    RESPONSE_GRID,
    EffectsPosterior,
    grid_pairs,
    log_prior,
)
from needleplan.forecasting.learning_grid import Z_GRID, ZPosterior, normalise
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
class _Evidence:
    """Improvement of every grid ``z`` on every observation day, shared by the computations."""

    observations: tuple[Observation, ...]
    improvement: NDArray[np.float64]  # (G, M) [% of pre-treatment firmness], G grid pairs
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
    u_r, u_p = grid_pairs()
    imp = np.zeros((u_r.size, days.size))
    after = days > 0
    if np.any(after):
        inputs = curve_inputs(assessment, s, u_r, params, u_p)
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
    """``log p(y | u_R, u_P)`` on the grid pairs, shape (G,)."""
    total = np.zeros(ev.improvement.shape[0])
    for m, (obs, lk) in enumerate(zip(ev.observations, ev.links, strict=True)):
        if lk.relative:
            total += log_likelihood(
                lk, obs.value, latent_mean(lk, ev.improvement[:, m], _offset(lk))
            )
    for idx in _groups(ev).values():
        lk = ev.links[idx[0]]
        nodes, log_w = _baseline_nodes(ev, idx[0])
        # the measurements of one scale and area (few), each over every pair and node
        tables = [_Table(lk, ev.observations[m].value, ev.improvement[:, m], nodes) for m in idx]
        weights = log_w[None, :]
        for start in range(0, total.size, PAIR_BLOCK):
            stop = min(start + PAIR_BLOCK, total.size)
            ll = np.zeros((stop - start, nodes.size))
            for table in tables:
                table.add_to(ll, start, stop)
            total[start:stop] += logsumexp(ll + weights, axis=1)
    return total


#: Improvement values the absolute scales' likelihood is tabulated on, per measurement.
TABLE_POINTS = 512
#: Grid pairs whose (pairs, baseline nodes) likelihood is summed at once: a block stays in the
#: processor's cache (the same operations on every element as one pass over all pairs).
PAIR_BLOCK = 512


class _Table:
    """``log p(y | b_k + beta I_g)`` for every grid pair ``g`` and baseline node ``k``, ``(G, K)``.

    Tabulated on :data:`TABLE_POINTS` improvements spanning the pairs' and linearly
    interpolated (the log-likelihood is smooth in ``I``: the error is below 1e-3 of a log
    unit; a test compares with direct quadrature), so its cost does not grow with the grid.
    A pre-treatment measurement (``I = 0`` for every pair) is one row, broadcast. The rows of
    a block of pairs are added to a running sum by :meth:`add_to`.
    """

    def __init__(
        self, link: ScaleLink, value: float, imp: NDArray[np.float64], nodes: NDArray[np.float64]
    ) -> None:
        lo, hi = float(imp.min()), float(imp.max())
        self.imp = imp
        self.lo = lo
        self.row: NDArray[np.float64] | None = None
        if hi - lo <= 1e-12:
            self.row = log_likelihood(link, value, nodes[None, :] + link.slope * lo)
            return
        grid = np.linspace(lo, hi, TABLE_POINTS)
        self.table = log_likelihood(link, value, nodes[None, :] + link.slope * grid[:, None])
        self.scale = (TABLE_POINTS - 1) / (hi - lo)

    def add_to(self, ll: NDArray[np.float64], start: int, stop: int) -> None:
        """Add the rows of pairs ``start:stop`` to ``ll`` (shape ``(stop - start, K)``)."""
        if self.row is not None:
            ll += self.row
            return
        pos = (self.imp[start:stop] - self.lo) * self.scale
        i0 = np.clip(pos.astype(np.int64), 0, TABLE_POINTS - 2)
        frac = (pos - i0)[:, None]
        out = self.table[i0]
        out *= 1.0 - frac
        upper = self.table[i0 + 1]
        upper *= frac
        out += upper
        ll += out


def posterior_effects(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    *,
    params: ModelParams | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> EffectsPosterior:
    """Posterior over her response and persistence effects given her measurements.

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
        Model parameters (default: the shipped calibration); ``rho`` is its
        ``random_effect_correlation``.
    links : mapping, optional
        Observation model per scale (default: :data:`DEFAULT_LINKS`).

    Returns
    -------
    EffectsPosterior

    Raises
    ------
    InputError
        for a value off its scale or malformed session days; ``ModelRangeError`` outside the
        model's validated range.

    Notes
    -----
    ``p(u_R, u_P | y) ∝ N_2(u_R, u_P; rho) p(y | I(t; u_R, u_P))`` on every grid pair at once
    (one evaluation of the model for all :data:`RESPONSE_GRID` x :data:`PERSISTENCE_GRID`
    pairs on her measurement days; the absolute scales' pre-treatment values integrated out as
    before). Measurements late after a session (months 6-24) separate the two: a high
    improvement early that falls fast reads as "responds well, fades fast".
    """
    p = default_params() if params is None else params
    return _posterior(_evidence(assessment, session_days, observations, p, links), p)


def _posterior(ev: _Evidence, p: ModelParams) -> EffectsPosterior:
    rho = p.random_effect_correlation
    if not ev.observations:
        return EffectsPosterior.prior(rho, ev.set_aside)
    ll = _log_likelihood(ev)
    flat = bool(np.ptp(ll) == 0.0)
    if flat:
        return replace(
            EffectsPosterior.prior(rho, ev.set_aside), n_observations=len(ev.observations)
        )
    shape = (RESPONSE_GRID.size, PERSISTENCE_GRID.size)
    mass = normalise(log_prior(rho) + ll.reshape(shape))
    return EffectsPosterior(
        mass, rho, len(ev.observations), False, ev.set_aside, _misfits(ev, mass.ravel())
    )


def posterior_z(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    *,
    params: ModelParams | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> ZPosterior:
    """Her response effect's marginal posterior (:func:`posterior_effects`, persistence
    integrated out)."""
    return posterior_effects(
        assessment, session_days, observations, params=params, links=links
    ).response


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

    The prediction is the default calibration's, before her response is seen: both effects from
    their population prior and, for absolute scales, her pre-treatment value as known from her measurements on or
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
    return _band_shares(_evidence(assessment, session_days, observations, p, links), p)


def response_check(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    observations: Sequence[Observation],
    *,
    params: ModelParams | None = None,
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
) -> tuple[ZPosterior, list[tuple[Observation, float]]]:
    """:func:`posterior_z` and :func:`band_shares` of one patient from one evaluation of the
    model on the grid (the clinic-wide report needs both; each alone evaluates it again).

    Returns
    -------
    (ZPosterior, list of (Observation, float))
        The same values as the two functions give.
    """
    p = default_params() if params is None else params
    ev = _evidence(assessment, session_days, observations, p, links)
    return _posterior(ev, p).response, _band_shares(ev, p)


def _band_shares(ev: _Evidence, p: ModelParams) -> list[tuple[Observation, float]]:
    prior_w = normalise(log_prior(p.random_effect_correlation)).ravel()  # both effects
    out: list[tuple[Observation, float]] = []
    base_log: dict[tuple[MeasurementScale, str], NDArray[np.float64]] = {}
    for key, idx in _groups(ev).items():
        lk = ev.links[idx[0]]
        nodes, log_w = _baseline_nodes(ev, idx[0])
        pre = [m for m in idx if ev.observations[m].day <= 0]
        if pre:
            values = np.array([ev.observations[m].value for m in pre])
            log_w = log_w + log_likelihood(lk, values[None, :], nodes[:, None]).sum(axis=1)
        base_log[key] = normalise(log_w)
    # the absolute scales' predictive CDFs over pairs and baseline nodes, (G, K) each: filled a
    # block of pairs at a time (the same values as at once, in the cache), reused per follow-up
    cdf_lo = np.empty((prior_w.size, BASELINE_NODES.size))
    cdf_hi = np.empty((prior_w.size, BASELINE_NODES.size))
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
            for start in range(0, prior_w.size, PAIR_BLOCK):
                stop = min(start + PAIR_BLOCK, prior_w.size)
                mu = nodes[None, :] + lk.slope * ev.improvement[start:stop, m][:, None]
                cdf_lo[start:stop], cdf_hi[start:stop] = predictive_cdf(lk, obs.value, mu)
            f_lo, f_hi = float(prior_w @ cdf_lo @ w_b), float(prior_w @ cdf_hi @ w_b)
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
    posterior: EffectsPosterior | ZPosterior,
    *,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
    n_initial: int | None = None,
) -> ForecastResult:
    """Her forecast with her effects drawn from her posterior instead of the population prior.

    Same arguments and result as :func:`needleplan.forecasting.chain.forecast`. With an
    :class:`EffectsPosterior` the seeded draws of both effects are mapped through
    :meth:`EffectsPosterior.transform` (her response from its marginal, her persistence from
    its conditional given her response); the central curve is at her posterior median response
    and the median persistence given it. With a :class:`ZPosterior` (her response only) her
    persistence follows its prior given the drawn response. With no measurement the result
    equals ``forecast(..., parameter_uncertainty=False)``: her update conditions on the
    point-fit parameters (her measurements say which effects she has given them), so her band
    is the spread of patients like her, without the population parameters' own uncertainty.
    """
    kw: dict[str, Any] = {}
    if isinstance(posterior, EffectsPosterior):
        kw["effects_transform"] = posterior.transform
    else:
        kw["z_transform"] = posterior.transform
    return forecast(
        assessment,
        session_days,
        years=years,
        draws=draws,
        seed=seed,
        params=params,
        n_initial=n_initial,
        parameter_uncertainty=False,
        **kw,
    )


@dataclass(frozen=True)
class PersonalUpdate:
    """Her posterior, the population forecast and her personalised forecast, side by side.

    ``posterior`` is her response effect's marginal (as before), ``effects`` the joint
    posterior of her response and persistence that her forecast uses.
    """

    posterior: ZPosterior
    population: ForecastResult
    personal: ForecastResult
    effects: EffectsPosterior | None = None

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
        if self.effects is not None:
            out["posterior_persistence"] = self.effects.persistence.to_json()
            out["posterior_correlation"] = round(self.effects.correlation, 3)
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
    """Posterior over both her effects from her measurements, then her population and personal
    forecasts.

    See :func:`posterior_effects` and :func:`personal_forecast`; the two forecasts share the
    seed, so they differ only by what her measurements say.
    """
    post = posterior_effects(assessment, session_days, observations, params=params, links=links)
    kw: dict[str, Any] = {
        "years": years,
        "draws": draws,
        "seed": seed,
        "params": params,
        "n_initial": n_initial,
    }
    return PersonalUpdate(
        posterior=post.response,
        population=forecast(assessment, session_days, parameter_uncertainty=False, **kw),
        personal=personal_forecast(assessment, session_days, post, **kw),
        effects=post,
    )


__all__ = [
    "BAND",
    "DEFAULT_LINKS",
    "Z_GRID",
    "EffectsPosterior",
    "Observation",
    "PersonalUpdate",
    "ZPosterior",
    "band_shares",
    "observations_from",
    "personal_forecast",
    "posterior_effects",
    "posterior_z",
    "response_check",
    "update_forecast",
]

"""Benchmark: the per-patient posterior of her two random effects (response, persistence).

Case: two years of monthly GAIS and laxity ratings (48 measurements, one baseline). Candidate:
:func:`needleplan.forecasting.learning.posterior_effects` (every grid pair through the model at
once, the absolute scale's likelihood tabulated in the improvement). Baseline: the same
posterior computed one grid response value at a time (a model call for its persistence column
and the exact likelihood of each measurement), the obvious loop.

Figures: the two agree, and a simulated patient's response is recovered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from needleplan.domain import parse_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.chain import curve_inputs
from needleplan.forecasting.joint_posterior import PERSISTENCE_GRID, RESPONSE_GRID, log_prior
from needleplan.forecasting.learning import (
    BASELINE_NODES,
    Observation,
    in_swelling_window,
    posterior_effects,
)
from needleplan.forecasting.models import improvement
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    baseline_prior,
    latent_mean,
    log_likelihood,
    simulate,
)
from needleplan.forecasting.params import default_params

A = parse_assessment({"age": 50, "severity": "moderate", "areas": ["full_face"]})
SERIES = np.array([0.0, 35.0, 70.0, 105.0, 140.0])
DAYS = np.arange(30.0, 721.0, 30.0)
Z_TRUE = 0.8


def _observations() -> list[Observation]:
    rng = np.random.default_rng(0)
    imp = improvement(DAYS, curve_inputs(A, SERIES, [Z_TRUE], default_params()))[0]
    gais, lax = DEFAULT_LINKS[MeasurementScale.GAIS], DEFAULT_LINKS[MeasurementScale.LAXITY_GRADE]
    b0, tau = baseline_prior(lax, A)
    b = b0 + tau * rng.standard_normal()
    obs = [Observation(MeasurementScale.LAXITY_GRADE, float(simulate(lax, 0.0, b, rng)), -1.0)]
    obs += [
        Observation(MeasurementScale.GAIS, float(v), float(d))
        for v, d in zip(simulate(gais, imp, 4.0, rng), DAYS, strict=True)
    ]
    obs += [
        Observation(MeasurementScale.LAXITY_GRADE, float(v), float(d))
        for v, d in zip(simulate(lax, imp, b, rng), DAYS, strict=True)
    ]
    return obs


OBS = _observations()


def loop_posterior() -> np.ndarray:
    """One grid response value at a time: model call for its persistence column, then each
    measurement's exact likelihood."""
    p = default_params()
    gais, lax = DEFAULT_LINKS[MeasurementScale.GAIS], DEFAULT_LINKS[MeasurementScale.LAXITY_GRADE]
    b0, tau = baseline_prior(lax, A)
    nodes = b0 + tau * BASELINE_NODES
    log_w = -0.5 * BASELINE_NODES**2
    log_w = log_w - logsumexp(log_w)
    days = np.array([o.day for o in OBS])
    out = np.empty((RESPONSE_GRID.size, PERSISTENCE_GRID.size))
    pos = days > 0
    for j, z in enumerate(RESPONSE_GRID):
        imp = np.zeros((PERSISTENCE_GRID.size, days.size))
        zs = np.full(PERSISTENCE_GRID.size, z)
        imp[:, pos] = improvement(days[pos], curve_inputs(A, SERIES, zs, p, PERSISTENCE_GRID))
        ll = np.zeros(PERSISTENCE_GRID.size)
        lax_ll = np.tile(log_w, (PERSISTENCE_GRID.size, 1))
        for o, i in zip(OBS, imp.T, strict=True):
            if in_swelling_window(o.day, SERIES):  # set aside, as the update does
                continue
            if o.scale is MeasurementScale.GAIS:
                ll += log_likelihood(gais, o.value, latent_mean(gais, i, 4.0))
            else:
                lax_ll += log_likelihood(lax, o.value, latent_mean(lax, i[:, None], nodes))
        out[j] = ll + logsumexp(lax_ll, axis=1)
    out += log_prior(p.random_effect_correlation)
    w = np.exp(out - logsumexp(out))
    return np.asarray(w / w.sum())


def grid_posterior() -> np.ndarray:
    return posterior_effects(A, SERIES, OBS).mass


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        (
            "posterior of (u_R, u_P), 49 measurements (GAIS + laxity): grid vs per-u_R loop",
            grid_posterior,
            loop_posterior,
        )
    ]


def figures() -> list[tuple[str, str, str, bool]]:
    diff = float(np.max(np.abs(grid_posterior() - loop_posterior())))
    post = posterior_effects(A, SERIES, OBS).response
    err = abs(post.mean - Z_TRUE)
    return [
        ("max |grid - loop| posterior mass", f"{diff:.1e}", "<= 1e-5", diff <= 1e-5),
        (
            f"recovered z (true {Z_TRUE:+.1f})",
            f"{post.mean:+.2f} +- {post.sd:.2f}",
            "within 2.5 sd",
            err <= 2.5 * post.sd,
        ),
    ]

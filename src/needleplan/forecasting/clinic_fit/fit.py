"""Fit a clinic's population parameters to its own measurements by marginal likelihood.

Model (``docs/calibration.md``): patient ``i`` has two random effects, her response ``u_R`` and
her persistence ``u_P`` (standard normal, correlation ``rho`` as shipped), and on each absolute
scale and area her own pre-treatment value ``b ~ N(b_0 + delta_s, tau_s^2)``. Her measurements
are read through the observation model (:mod:`needleplan.forecasting.observation`) at the
improvement ``I(t; u_R, u_P, theta)`` of the forecast model, so her likelihood is

.. math::

    L_i(\\theta) = \\iint \\varphi_\\rho(u_R, u_P)
        \\prod_{m \\in \\text{rel}} P(y_m \\mid o_s + \\delta_s + \\beta_s I_m)
        \\prod_g \\int N(b; b_{0g} + \\delta_s, \\tau_s^2) \\prod_{m \\in g} P(y_m \\mid b + \\beta_s I_m)
        \\, db \\, du_R \\, du_P,

and the fit maximises ``sum_i log L_i`` over ``theta`` = (log mean response, log mean
persistence, log spread of each, the offset shift ``delta_s`` of every scale with enough data).
The integrals are fixed quadratures (a 25-point grid on ``u_R``, 7 Gauss-Hermite nodes on
``u_P`` given ``u_R``, a 25-point trapezoid grid on each graded ``b``; a continuous scale's
``b`` in closed form), so the objective is smooth and L-BFGS-B (scipy) finds its maximum; the
curves are computed once per distinct assessment and schedule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.special import logsumexp

from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting.chain import MAX_YEARS, curve_inputs, horizon_days
from needleplan.forecasting.clinic_fit.calibration import ClinicCalibration, default_calibration
from needleplan.forecasting.clinic_fit.data import (
    ClinicPatient,
    check_patient,
    sufficiency,
)
from needleplan.forecasting.clinic_fit.result import ClinicFit, Estimate, estimates
from needleplan.forecasting.models import improvement
from needleplan.forecasting.observation import ScaleLink, baseline_prior, log_likelihood
from needleplan.forecasting.params import ModelParams

#: Quadrature over the response effect: equally spaced nodes on [-4.8, 4.8] (spacing 0.4).
RESPONSE_NODES = np.linspace(-4.8, 4.8, 25)
#: Gauss-Hermite nodes (probabilists') over the persistence effect given the response one.
PERSISTENCE_NODES, _PW = np.polynomial.hermite_e.hermegauss(7)
#: Nodes over a patient's pre-treatment value on a graded absolute scale, in prior sds: an
#: equally spaced (trapezoid) grid, accurate even when her readings pin the value down to a
#: fraction of the prior's spread. A continuous scale is integrated in closed form.
BASELINE_GRID = np.linspace(-4.0, 4.0, 25)
_LOG_BGW = -0.5 * BASELINE_GRID**2 - logsumexp(-0.5 * BASELINE_GRID**2)
#: Bounds of the fitted values (log multipliers and log spreads) [-].
BOUNDS = {
    "log_response": (-1.5, 1.5),
    "log_persistence": (-0.6, 1.5),
    "log_omega_response": (math.log(0.02), math.log(1.5)),
    "log_omega_fade": (math.log(0.02), math.log(1.5)),
}
SQRT_2PI = math.sqrt(2.0 * math.pi)
#: Relative change of the objective at which L-BFGS-B stops (the objective is the mean
#: log-likelihood per measurement, so 1e-7 is about 1e-4 in the total for 1000 measurements).
FTOL = 1e-7
#: Bound of a scale's offset shift, in noise standard deviations of the scale [-].
OFFSET_BOUND = 6.0


# --------------------------------------------------------------------------- the design


def _quadrature(rho: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Nodes ``(u_R, u_P)`` and log-weights of the bivariate normal with correlation ``rho``."""
    w_r = np.exp(-0.5 * RESPONSE_NODES**2)
    w_r /= w_r.sum()
    w_p = _PW / _PW.sum()
    ur = np.repeat(RESPONSE_NODES, PERSISTENCE_NODES.size)
    up = rho * ur + math.sqrt(1.0 - rho * rho) * np.tile(PERSISTENCE_NODES, RESPONSE_NODES.size)
    log_w = np.log(np.outer(w_r, w_p).ravel())
    return ur, up, log_w


@dataclass
class _Design:
    """Every measurement the fit reads, flattened, and per scale the maps that sum them per
    patient (relative scales) or per baseline group and then per patient (absolute scales)."""

    units: list[tuple[Any, NDArray[np.float64], NDArray[np.float64]]]
    column: NDArray[np.int64]  # (M,) into the concatenated unit days; the last = pre-treatment
    value: NDArray[np.float64]
    b0: NDArray[np.float64]  # (M,) prior mean of the baseline (absolute scales; 0 otherwise)
    by_scale: dict[MeasurementScale, NDArray[np.int64]]
    to_patient: dict[MeasurementScale, sparse.csr_matrix]  # relative: (N, M_s)
    to_group: dict[MeasurementScale, sparse.csr_matrix]  # absolute: (G_s, M_s)
    group_to_patient: dict[MeasurementScale, sparse.csr_matrix]  # absolute: (N, G_s)
    n_patients: int


def _design(
    patients: Sequence[ClinicPatient], links: Mapping[MeasurementScale, ScaleLink]
) -> _Design:
    end = horizon_days(MAX_YEARS)
    unit_of: dict[tuple[str, tuple[float, ...]], int] = {}
    unit_days: list[dict[float, int]] = []
    unit_list: list[tuple[Any, NDArray[np.float64]]] = []
    rows: list[tuple[int, int, float, float, MeasurementScale, int, str]] = []
    for i, p in enumerate(patients):
        check_patient(p, i)
        if p.session_days[-1] > end:
            raise InputError.one(
                f"patients[{i}].session_days", p.session_days[-1], "is beyond the horizon"
            )
        key = (p.assessment.model_dump_json(), p.session_days)
        if key not in unit_of:
            unit_of[key] = len(unit_list)
            unit_list.append((p.assessment, np.asarray(p.session_days, dtype=np.float64)))
            unit_days.append({})
        u = unit_of[key]
        for o in p.used():
            if o.day > end:
                raise InputError.one(
                    f"patients[{i}].observations.day", o.day, "is beyond the horizon"
                )
            scale = MeasurementScale(o.scale)
            link = links[scale]
            col = -1
            if o.day > 0:
                col = unit_days[u].setdefault(float(o.day), len(unit_days[u]))
            b0 = 0.0 if link.relative else baseline_prior(link, p.assessment)[0]
            rows.append((u, col, float(o.value), b0, scale, i, o.group))
    offsets = np.cumsum([0] + [len(d) for d in unit_days])
    units = [
        (a, s, np.array(sorted(unit_days[k], key=unit_days[k].__getitem__), dtype=np.float64))
        for k, (a, s) in enumerate(unit_list)
    ]
    total = int(offsets[-1])
    column = np.array([offsets[u] + c if c >= 0 else total for u, c, *_ in rows], dtype=np.int64)
    n = len(patients)
    by_scale: dict[MeasurementScale, NDArray[np.int64]] = {}
    to_patient: dict[MeasurementScale, sparse.csr_matrix] = {}
    to_group: dict[MeasurementScale, sparse.csr_matrix] = {}
    group_to_patient: dict[MeasurementScale, sparse.csr_matrix] = {}
    for scale in MeasurementScale:
        idx = np.array([m for m, r in enumerate(rows) if r[4] is scale], dtype=np.int64)
        if not idx.size:
            continue
        by_scale[scale] = idx
        patient = np.array([rows[m][5] for m in idx], dtype=np.int64)
        if links[scale].relative:
            to_patient[scale] = _indicator(patient, n)
            continue
        groups: dict[tuple[int, str], int] = {}
        group = np.array(
            [groups.setdefault((rows[m][5], rows[m][6]), len(groups)) for m in idx],
            dtype=np.int64,
        )
        g_patient = np.zeros(len(groups), dtype=np.int64)
        for (i, _), g in groups.items():
            g_patient[g] = i
        to_group[scale] = _indicator(group, len(groups))
        group_to_patient[scale] = _indicator(g_patient, n)
    return _Design(
        units=units,
        column=column,
        value=np.array([r[2] for r in rows], dtype=np.float64),
        b0=np.array([r[3] for r in rows], dtype=np.float64),
        by_scale=by_scale,
        to_patient=to_patient,
        to_group=to_group,
        group_to_patient=group_to_patient,
        n_patients=n,
    )


def _indicator(rows: NDArray[np.int64], n_rows: int) -> sparse.csr_matrix:
    """Sparse ``(n_rows, len(rows))`` matrix with a 1 at ``(rows[j], j)``: sums per row."""
    m = rows.size
    return sparse.csr_matrix(
        (np.ones(m), (rows, np.arange(m))), shape=(n_rows, m), dtype=np.float64
    )


def _improvements(
    design: _Design, params: ModelParams, ur: NDArray[np.float64], up: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``I`` of every measurement at every node ``(u_R, u_P)``, shape (M, Q) [%]."""
    blocks = [
        improvement(days, curve_inputs(a, s, ur, params, up))
        for a, s, days in design.units
        if days.size
    ]
    blocks.append(np.zeros((ur.size, 1)))
    every = np.concatenate(blocks, axis=1)
    return np.asarray(every[:, design.column].T, dtype=np.float64)


# --------------------------------------------------------------------------- likelihood


class _LogLikTable:
    """The observation model's log-probability of each recorded value of a stepped scale,
    tabulated on a fine grid of latent means (spacing ``sigma / 50``) and read by linear
    interpolation: the ordered probit's ``log_ndtr`` calls are the fit's cost, and its
    log-probability is smooth (log-concave, curvature at most ``1 / sigma^2``), so the
    interpolation error is below ``1 / 20000`` per measurement. Continuous scales (Cutometer
    R2) are computed directly."""

    def __init__(self, link: ScaleLink) -> None:
        assert link.step is not None
        info = link.info
        sigma = link.noise_sd
        self.step = link.step
        self.low = info.low
        self.h = sigma / 50.0
        self.start = info.low - 12.0 * sigma - 40.0 * (info.high - info.low)
        stop = info.high + 12.0 * sigma + 40.0 * (info.high - info.low)
        grid = np.arange(self.start, stop + self.h, self.h)
        values = np.arange(info.low, info.high + link.step / 2.0, link.step)
        self.table = log_likelihood(link, values[:, None], grid[None, :])
        self.flat = self.table.ravel()
        self.size = grid.size

    def __call__(
        self, value: NDArray[np.float64], mean: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        row = np.rint((value - self.low) / self.step).astype(np.int64)
        # in place and read from the flat table by one index (the same values as
        # ``table[row, i]``, without a broadcast pair of index arrays)
        pos = mean - self.start
        pos /= self.h
        np.clip(pos, 0.0, self.size - 1.000001, out=pos)
        i = pos.astype(np.int64)
        frac = pos
        frac -= i
        i += row * self.size
        lo = self.flat.take(i)
        i += 1
        out = self.flat.take(i)
        out -= lo
        out *= frac
        out += lo
        return out


_TABLES: dict[ScaleLink, _LogLikTable] = {}


def _scale_log_lik(
    link: ScaleLink, value: NDArray[np.float64], mean: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``log P(y | mu)`` of the observation model (tabulated for stepped scales)."""
    if link.step is None:
        info = link.info
        if np.all((value > info.low) & (value < info.high)):  # no censored value: the density
            z = (value - mean) / link.noise_sd
            return np.asarray(-0.5 * z * z - math.log(link.noise_sd * SQRT_2PI), dtype=np.float64)
        return log_likelihood(link, value, mean)
    table = _TABLES.get(link)
    if table is None:
        table = _TABLES[link] = _LogLikTable(link)
    return table(value, mean)


def _patient_log_lik(
    design: _Design,
    imp: NDArray[np.float64],
    links: Mapping[MeasurementScale, ScaleLink],
    deltas: Mapping[MeasurementScale, float],
    log_w: NDArray[np.float64],
    terms: Any = None,
) -> NDArray[np.float64]:
    """``log L_i`` of every patient, shape (N,).

    ``terms``, when given, returns each scale's ``(N, Q)`` term (``terms(scale, delta)``):
    the fit keeps the terms of the scales whose offset a step of the optimiser leaves alone.
    """
    total = np.zeros((design.n_patients, imp.shape[1]))
    for scale in design.by_scale:
        delta = float(deltas.get(scale, 0.0))
        if terms is None:
            total += _scale_term(design, imp, links[scale], scale, delta)
        else:
            total += terms(scale, delta)
    return np.asarray(logsumexp(total + log_w[None, :], axis=1), dtype=np.float64)


#: Quadrature nodes whose stepped absolute-scale likelihoods are computed at once (the same
#: values as all at once, in arrays small enough for the processor's cache).
NODE_BLOCK = 25


def _scale_term(
    design: _Design,
    imp: NDArray[np.float64],
    link: ScaleLink,
    scale: MeasurementScale,
    delta: float,
) -> NDArray[np.float64]:
    """One scale's part of ``log L_i`` at every quadrature node, shape (N, Q)."""
    idx = design.by_scale[scale]
    values = design.value[idx]
    if link.relative:
        assert link.offset is not None
        mu = link.offset + delta + link.slope * imp[idx]
        ll = _scale_log_lik(link, values[:, None], mu)
        return np.asarray(design.to_patient[scale] @ ll)
    if link.step is None:
        per_group = _gaussian_groups(design, scale, link, delta, imp)
    else:
        nodes = BASELINE_GRID * link.baseline_sd
        b = design.b0[idx][:, None] + delta + nodes[None, :]
        k = nodes.size
        q = imp.shape[1]
        per_group = np.empty((design.to_group[scale].shape[0], q))
        imp_s = imp[idx]
        for start in range(0, q, NODE_BLOCK):
            stop = min(start + NODE_BLOCK, q)
            mu = b[:, None, :] + link.slope * imp_s[:, start:stop, None]  # (M_s, Qb, K)
            ll = _scale_log_lik(link, values[:, None, None], mu)
            summed = np.asarray(design.to_group[scale] @ ll.reshape(idx.size, (stop - start) * k))
            per_group[:, start:stop] = logsumexp(
                summed.reshape(-1, stop - start, k) + _LOG_BGW[None, None, :], axis=2
            )
    return np.asarray(design.group_to_patient[scale] @ per_group)


def _gaussian_groups(
    design: _Design,
    scale: MeasurementScale,
    link: ScaleLink,
    delta: float,
    imp: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Baseline integral of a continuous scale in closed form, shape (G_s, Q).

    ``n`` readings ``y_m = b + beta I_m + sigma eps_m`` of one baseline ``b ~ N(b_0, tau^2)``
    have residuals ``r_m = y_m - b_0 - beta I_m`` that are jointly normal with covariance
    ``sigma^2 1 + tau^2 J``; with ``S = sum r`` and ``R = sum r^2`` (Sherman-Morrison)

        log L = -n/2 log(2 pi sigma^2) - 1/2 log(1 + n tau^2 / sigma^2)
                - (R - tau^2 S^2 / (sigma^2 + n tau^2)) / (2 sigma^2).

    Readings on the scale's bounds (censored in the observation model) are taken at the bound.
    """
    idx = design.by_scale[scale]
    r = design.value[idx][:, None] - design.b0[idx][:, None] - delta - link.slope * imp[idx]
    groups = design.to_group[scale]
    n = np.asarray(groups.sum(axis=1)).reshape(-1, 1)
    s1 = np.asarray(groups @ r)
    s2 = np.asarray(groups @ (r * r))
    var, tau2 = link.noise_sd**2, link.baseline_sd**2
    out = (
        -0.5 * n * math.log(2.0 * math.pi * var)
        - 0.5 * np.log1p(n * tau2 / var)
        - (s2 - tau2 * s1 * s1 / (var + n * tau2)) / (2.0 * var)
    )
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class _Space:
    """Maps the optimiser's vector to a calibration and back."""

    base: ModelParams
    scales: tuple[MeasurementScale, ...]
    links: Mapping[MeasurementScale, ScaleLink]

    def start(self) -> NDArray[np.float64]:
        b = self.base
        return np.array(
            [0.0, 0.0, math.log(b.omega_response), math.log(b.omega_fade)]
            + [0.0] * len(self.scales)
        )

    def bounds(self) -> list[tuple[float, float]]:
        return [*BOUNDS.values()] + [(-OFFSET_BOUND, OFFSET_BOUND)] * len(self.scales)

    def params(self, x: NDArray[np.float64]) -> ModelParams:
        b = self.base
        persist = math.exp(x[1])
        omega_fade = math.exp(x[3])
        return b.with_values(
            gain=b.gain * math.exp(x[0]),
            fast_fade_days=b.fast_fade_days * persist,
            slow_fade_years=b.slow_fade_years * persist,
            omega_response=math.exp(x[2]),
            omega_fade=omega_fade,
            omega_ageing=b.omega_ageing * omega_fade / b.omega_fade,
        )

    def deltas(self, x: NDArray[np.float64]) -> dict[MeasurementScale, float]:
        return {s: float(x[4 + j]) * self.links[s].noise_sd for j, s in enumerate(self.scales)}

    def calibration(self, x: NDArray[np.float64]) -> ClinicCalibration:
        return ClinicCalibration(self.params(x), self.deltas(x))


def marginal_log_likelihood(
    patients: Sequence[ClinicPatient], calibration: ClinicCalibration | None = None
) -> float:
    """``sum_i log L_i`` of the clinic's data under a calibration (default: the shipped one)."""
    cal = default_calibration() if calibration is None else calibration
    links = cal.links()  # the offsets are in the links: no further shift below
    design = _design(patients, links)
    ur, up, log_w = _quadrature(cal.params.random_effect_correlation)
    imp = _improvements(design, cal.params, ur, up)
    return float(_patient_log_lik(design, imp, links, {}, log_w).sum())


def fit_clinic(
    patients: Sequence[ClinicPatient],
    *,
    require_enough: bool = True,
    max_iterations: int = 200,
) -> ClinicFit:
    """Estimate the clinic's population parameters from its patients' measurements.

    Parameters
    ----------
    patients : sequence of ClinicPatient
    require_enough : bool
        Refuse (InputError) when the data-sufficiency rule is not met (the default).
    max_iterations : int
        Iterations of L-BFGS-B.

    Returns
    -------
    ClinicFit

    Raises
    ------
    InputError
        for malformed data, or when there is not enough (the message says how much more).
    """
    enough = sufficiency(patients)
    if require_enough and not enough.enough:
        raise InputError.one("patients", enough.patients_with_follow_ups, enough.message())
    base_cal = default_calibration()
    links = base_cal.links()
    measured = tuple(enough.patients_by_scale)
    fitted = tuple(s for s in measured if s in enough.scales_fitted)
    space = _Space(base_cal.params, fitted, links)
    design = _design(patients, links)
    ur, up, log_w = _quadrature(base_cal.params.random_effect_correlation)
    n_obs = max(1, design.value.size)
    cache: dict[tuple[float, ...], NDArray[np.float64]] = {}
    # each scale's term at the model parameters and its offset: a gradient step in one
    # offset changes that scale's term only (the others are read back, the same values)
    scale_terms: dict[tuple[tuple[float, ...], MeasurementScale, float], NDArray[np.float64]] = {}
    evaluations = 0

    def objective(x: NDArray[np.float64]) -> float:
        nonlocal evaluations
        evaluations += 1
        key = tuple(float(v) for v in x[:4])
        if key not in cache:
            if len(cache) > 8:  # a gradient needs the point and its 4 model-parameter steps
                cache.pop(next(iter(cache)))
            cache[key] = _improvements(design, space.params(x), ur, up)
        imp = cache[key]

        def terms(scale: MeasurementScale, delta: float) -> NDArray[np.float64]:
            term_key = (key, scale, delta)
            if term_key not in scale_terms:
                if len(scale_terms) > 40:  # a gradient adds at most 6 per scale
                    scale_terms.pop(next(iter(scale_terms)))
                scale_terms[term_key] = _scale_term(design, imp, links[scale], scale, delta)
            return scale_terms[term_key]

        ll = _patient_log_lik(design, imp, links, space.deltas(x), log_w, terms)
        return -float(ll.sum()) / n_obs

    # Imported here: scipy.optimize adds about 0.1 s to every process that imports the web app
    # or the services, and only a fit needs it.
    from scipy import optimize

    x0 = space.start()
    ll_default = -objective(x0) * n_obs
    res = optimize.minimize(
        objective,
        x0,
        method="L-BFGS-B",
        bounds=space.bounds(),
        options={"maxiter": max_iterations, "eps": 1e-5, "ftol": FTOL},
    )
    x = np.asarray(res.x, dtype=np.float64)
    cal = space.calibration(x)
    return ClinicFit(
        calibration=cal,
        estimates=estimates(base_cal, cal, fitted),
        log_likelihood=-float(res.fun) * n_obs,
        log_likelihood_default=ll_default,
        converged=bool(res.success),
        evaluations=evaluations,
        sufficiency=enough,
        measurements=int(design.value.size),
        fixed_scales=tuple(s for s in measured if s not in fitted),
    )


__all__ = [
    "ClinicFit",
    "Estimate",
    "fit_clinic",
    "marginal_log_likelihood",
]

"""Parameter uncertainty: a posterior of the fitted population parameters given seeds + trials.

Run ``python -m needleplan.forecasting.calibration.posterior`` (seeded; writes
``forecasting/posterior.json``, the draws every forecast samples) or add ``--check`` to verify
the stored draws quickly (CI). docs/model.md, "The fit" and "Posterior", states the model.

Likelihood and priors (the same terms the point fit minimises, :mod:`.fit`, read as a density)
----------------------------------------------------------------------------------------------
``log p(theta | data) = -1/2 (sum_c r_c(theta)^2 + sum_m e_m(theta)^2 + sum_j q_j(theta)^2)``
up to a constant, over the log of the parameters in
:data:`~needleplan.forecasting.params.FITTED`:

- trials: ``e_m = (model_m - measured_m) / sqrt(se_m^2 + discrepancy_m^2)``, a Gaussian
  likelihood per trial measurement (:func:`~.trials.trial_residuals`);
- seed claims: ``r_c`` the hinge of :func:`~.fit.claim_residuals`, 0 inside the claim's range
  shrunk by its margin and linear outside it (scale: a tenth of the range's width), i.e. a
  flat-topped pseudo-likelihood with Gaussian shoulders: the prose states ranges, not errors;
- priors: ``q_j = log(theta_j / centre_j) / sd_j``, lognormal with the centres and log-sds of
  :data:`~.fit.PRIORS`, truncated to parameters the model accepts (``build_days <
  fast_fade_days < slow_fade_years``, ``remodelled_fraction <= 1``).

Sampler: adaptive Metropolis (Haario, Saksman & Tamminen 2001, Bernoulli 7:223-242) with
several chains started overdispersed around the point fit; the proposal covariance is the
Laplace covariance at the point fit, adapted from the pooled chains during burn-in only and
fixed afterwards. Diagnostics: split R-hat and the effective sample size of Gelman et al.
(2013, Bayesian Data Analysis, 3rd ed., ch. 11). Posterior predictive checks: every trial
measurement (with its measurement error) and the share of draws for which each seed claim holds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.forecasting.calibration.claims import Targets, evaluate_claims, load_targets
from needleplan.forecasting.calibration.fit import (
    claim_residuals,
    from_theta,
    prior_residuals,
    to_theta,
)
from needleplan.forecasting.calibration.trials import (
    load_trials,
    trial_predictions,
    trial_residuals,
)
from needleplan.forecasting.params import FITTED, ModelParams, load_params
from needleplan.forecasting.uncertainty import POSTERIOR_PATH

FloatArray = NDArray[np.float64]

#: Settings of the shipped run (``python -m needleplan.forecasting.calibration.posterior``).
SEED = 20261203
CHAINS = 4
BURN = 800
KEEP = 200
THIN = 15
#: Convergence the ``--check`` requires of the stored draws.
MAX_RHAT = 1.1
MIN_ESS = 50.0
#: Posterior-predictive draws the check evaluates (a subset keeps it quick).
PPC_DRAWS = 40


def log_posterior(theta: FloatArray, base: ModelParams, targets: Targets) -> float:
    """Log posterior density (up to a constant) at log-parameters ``theta`` (see module doc)."""
    try:
        p = from_theta(theta, base)
    except ValueError:
        return -math.inf
    r = np.concatenate([claim_residuals(p, targets), trial_residuals(p), prior_residuals(theta)])
    return float(-0.5 * np.dot(r, r))


def _residuals(theta: FloatArray, base: ModelParams, targets: Targets) -> FloatArray:
    p = from_theta(theta, base)
    return np.concatenate([claim_residuals(p, targets), trial_residuals(p), prior_residuals(theta)])


def laplace_covariance(
    theta: FloatArray, base: ModelParams, targets: Targets, step: float = 1e-3
) -> FloatArray:
    """``(J^T J)^-1`` with ``J`` the central-difference Jacobian of the residuals at ``theta``."""
    cols = []
    for j in range(theta.size):
        h = np.zeros_like(theta)
        h[j] = step
        cols.append(_residuals(theta + h, base, targets) - _residuals(theta - h, base, targets))
    jac = np.stack(cols, axis=1) / (2.0 * step)
    return np.asarray(np.linalg.inv(jac.T @ jac), dtype=np.float64)


@dataclass(frozen=True)
class Chains:
    """Kept samples ``(chains, n, d)`` of log-parameters, their log densities and acceptance."""

    theta: FloatArray
    log_post: FloatArray
    acceptance: FloatArray


def adaptive_metropolis(
    log_density: Callable[[FloatArray], float],
    starts: FloatArray,
    cov: FloatArray,
    *,
    burn: int,
    keep: int,
    thin: int,
    rng: np.random.Generator,
    adapt_every: int = 50,
) -> Chains:
    """Random-walk Metropolis chains with the proposal adapted during burn-in only.

    The chains advance in lockstep so the burn-in adaptation can pool them; after burn-in the
    proposal ``N(0, 2.38^2/d * Sigma)`` is fixed, so the kept part is a plain Metropolis chain.
    """
    n_chains, d = starts.shape
    scale = 2.38**2 / d
    prop = scale * cov
    x = starts.copy()
    lp = np.array([log_density(s) for s in x])
    history: list[FloatArray] = []
    kept, kept_lp = [], []
    accepted = np.zeros(n_chains)
    for it in range(burn + keep * thin):
        chol = np.linalg.cholesky(prop)
        for c in range(n_chains):
            y = x[c] + chol @ rng.standard_normal(d)
            ly = log_density(y)
            if math.log(rng.uniform()) < ly - lp[c]:
                x[c], lp[c] = y, ly
                if it >= burn:
                    accepted[c] += 1
        if it < burn:
            history.append(x.copy())
            if (it + 1) % adapt_every == 0 and len(history) >= 2 * adapt_every:
                pooled = np.concatenate(history[len(history) // 2 :])
                prop = scale * (np.cov(pooled, rowvar=False) + 1e-8 * np.eye(d))
        elif (it - burn) % thin == thin - 1:
            kept.append(x.copy())
            kept_lp.append(lp.copy())
    return Chains(
        theta=np.asarray(np.stack(kept, axis=1), dtype=np.float64),
        log_post=np.asarray(np.stack(kept_lp, axis=1), dtype=np.float64),
        acceptance=accepted / (keep * thin),
    )


def _split(x: FloatArray) -> FloatArray:
    """Each chain ``(m, n)`` cut into two halves ``(2m, n//2)``."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, half : 2 * half]], axis=0)


def split_rhat(x: FloatArray) -> float:
    """Split R-hat of one quantity over chains ``(m, n)`` (BDA3, eq. 11.4)."""
    s = _split(np.asarray(x, dtype=np.float64))
    n = s.shape[1]
    w = float(np.mean(np.var(s, axis=1, ddof=1)))
    b = n * float(np.var(np.mean(s, axis=1), ddof=1))
    var_plus = (n - 1) / n * w + b / n
    return math.sqrt(var_plus / w) if w > 0 else math.inf


def effective_sample_size(x: FloatArray) -> float:
    """Effective sample size over chains ``(m, n)`` (BDA3, eqs. 11.7-11.10, Geyer's truncation)."""
    s = _split(np.asarray(x, dtype=np.float64))
    m, n = s.shape
    w = float(np.mean(np.var(s, axis=1, ddof=1)))
    b = n * float(np.var(np.mean(s, axis=1), ddof=1))
    var_plus = (n - 1) / n * w + b / n
    if var_plus <= 0:
        return 0.0
    rho = []
    for t in range(1, n):
        v_t = float(np.mean((s[:, t:] - s[:, :-t]) ** 2))
        rho.append(1.0 - v_t / (2.0 * var_plus))
    total = 0.0
    for k in range(0, len(rho) - 1, 2):  # sum while pairs of autocorrelations stay positive
        pair = rho[k] + rho[k + 1]
        if pair < 0:
            break
        total += pair
    return float(m * n / (1.0 + 2.0 * total))


def diagnostics(theta: FloatArray) -> dict[str, dict[str, float]]:
    """Split R-hat and ESS of every fitted parameter's log over chains ``(m, n, d)``."""
    return {
        name: {
            "rhat": round(split_rhat(theta[:, :, j]), 4),
            "ess": round(effective_sample_size(theta[:, :, j]), 1),
        }
        for j, name in enumerate(FITTED)
    }


def predictive_checks(
    draws: FloatArray, base: ModelParams, rng: np.random.Generator
) -> dict[str, Any]:
    """Posterior predictive checks over parameter draws ``(K, d)`` (log-parameters).

    For each trial measurement, the predictive p10/p50/p90 of a replicated measurement (model
    value plus its measurement error and link discrepancy) and the predictive tail probability
    of the measured value; for each seed claim, the share of draws for which it holds.
    """
    trials = load_trials().measurements
    preds: dict[str, list[float]] = {m.id: [] for m in trials}
    holds: dict[str, list[bool]] = {}
    for th in draws:
        p = from_theta(th, base)
        for k, v in trial_predictions(p).items():
            preds[k].append(v)
        for r in evaluate_claims(p):
            holds.setdefault(r.claim.id, []).append(r.holds)
    out_trials = {}
    for m in trials:
        model = np.asarray(preds[m.id])
        rep = model + m.total_sd * rng.standard_normal(model.size)
        q10, q50, q90 = np.quantile(rep, [0.1, 0.5, 0.9])
        out_trials[m.id] = {
            "measured": m.value,
            "p10": round(float(q10), 4),
            "p50": round(float(q50), 4),
            "p90": round(float(q90), 4),
            "tail_probability": round(float(np.mean(rep <= m.value)), 3),
        }
    return {
        "draws": int(draws.shape[0]),
        "trials": out_trials,
        "claims_share_holding": {k: round(float(np.mean(v)), 3) for k, v in holds.items()},
    }


def run(
    *,
    seed: int = SEED,
    chains: int = CHAINS,
    burn: int = BURN,
    keep: int = KEEP,
    thin: int = THIN,
    ppc_draws: int = PPC_DRAWS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Sample the posterior and return the document :data:`POSTERIOR_PATH` holds."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    base = load_params(None)
    targets = load_targets()
    centre = to_theta(base)
    cov = laplace_covariance(centre, base, targets)
    starts = np.empty((chains, centre.size))
    for c in range(chains):  # overdispersed, inside the prior's support (ordered time constants)
        while True:
            starts[c] = centre + 1.5 * rng.multivariate_normal(np.zeros(centre.size), cov)
            if math.isfinite(log_posterior(starts[c], base, targets)):
                break
    log(f"Laplace sd of log-parameters at the point fit: {np.sqrt(np.diag(cov)).round(3)}")
    res = adaptive_metropolis(
        lambda th: log_posterior(th, base, targets),
        starts,
        cov,
        burn=burn,
        keep=keep,
        thin=thin,
        rng=rng,
    )
    diag = diagnostics(res.theta)
    flat = res.theta.reshape(-1, centre.size)
    pick = rng.choice(flat.shape[0], size=min(ppc_draws, flat.shape[0]), replace=False)
    ppc = predictive_checks(flat[np.sort(pick)], base, rng)
    values = np.exp(flat)
    q = np.quantile(values, [0.05, 0.5, 0.95], axis=0)
    doc: dict[str, Any] = {
        "script": "python -m needleplan.forecasting.calibration.posterior",
        "settings": {"seed": seed, "chains": chains, "burn": burn, "keep": keep, "thin": thin},
        "names": list(FITTED),
        "chain": np.repeat(np.arange(chains), res.theta.shape[1]).tolist(),
        "draws": [[float(f"{v:.6g}") for v in row] for row in values],
        "log_posterior": [round(float(v), 6) for v in res.log_post.reshape(-1)],
        "acceptance": [round(float(a), 3) for a in res.acceptance],
        "diagnostics": diag,
        "summary": {
            n: {
                "p5": float(f"{q[0, j]:.4g}"),
                "p50": float(f"{q[1, j]:.4g}"),
                "p95": float(f"{q[2, j]:.4g}"),
            }
            for j, n in enumerate(FITTED)
        },
        "predictive_checks": ppc,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return doc


def check(path: Path = POSTERIOR_PATH, *, recompute: int = 4) -> list[str]:
    """Problems with the stored draws (empty when they pass).

    Re-derives the diagnostics from the stored draws (R-hat <= :data:`MAX_RHAT`, ESS >=
    :data:`MIN_ESS` for every parameter), re-evaluates the log posterior of ``recompute`` stored
    draws with the code and data as they are now (it must agree within 1e-3: the draws were
    sampled from this model). How often each claim holds is reported, not required
    (:func:`weak_claims`).
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    if doc["names"] != list(FITTED):
        return [f"names {doc['names']} differ from the fitted parameters {list(FITTED)}"]
    values = np.asarray(doc["draws"], dtype=np.float64)
    chain = np.asarray(doc["chain"])
    n_chains = int(chain.max()) + 1
    theta = np.log(values).reshape(n_chains, -1, values.shape[1])
    for name, d in diagnostics(theta).items():
        if not d["rhat"] <= MAX_RHAT:
            problems.append(f"{name}: R-hat {d['rhat']} > {MAX_RHAT}")
        if not d["ess"] >= MIN_ESS:
            problems.append(f"{name}: ESS {d['ess']} < {MIN_ESS}")
    base = load_params(None)
    targets = load_targets()
    stored = np.asarray(doc["log_posterior"], dtype=np.float64)
    idx = np.linspace(0, values.shape[0] - 1, recompute).astype(int)
    for i in idx:
        lp = log_posterior(np.log(values[i]), base, targets)
        if not abs(lp - stored[i]) <= 1e-3 * max(1.0, abs(stored[i])):
            problems.append(f"draw {i}: log posterior {lp:.6g} != stored {stored[i]:.6g}")
    return problems


def weak_claims(doc: dict[str, Any], below: float = 0.5) -> dict[str, float]:
    """Seed claims that fewer than ``below`` of the predictive-check draws satisfy.

    A finding to report (docs/model.md), not a failure: the claims enter as soft ranges, so
    the posterior may trade a claim against the trials.
    """
    shares = doc["predictive_checks"]["claims_share_holding"]
    return {k: float(v) for k, v in shares.items() if float(v) < below}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="verify the stored draws only")
    parser.add_argument("--out", type=Path, default=POSTERIOR_PATH, help="file to write")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chains", type=int, default=CHAINS)
    parser.add_argument("--burn", type=int, default=BURN)
    parser.add_argument("--keep", type=int, default=KEEP)
    parser.add_argument("--thin", type=int, default=THIN)
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        doc = json.loads(args.out.read_text(encoding="utf-8"))
        for name, d in doc["diagnostics"].items():
            s = doc["summary"][name]
            print(
                f"{name:22s} p5 {s['p5']:<9g} p50 {s['p50']:<9g} p95 {s['p95']:<9g} "
                f"R-hat {d['rhat']:.3f}  ESS {d['ess']:.0f}"
            )
        for cid, share in weak_claims(doc).items():
            print(f"note: claim {cid} holds for {share:.0%} of the predictive-check draws")
        for p in problems:
            print("FAIL", p)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 0 if not problems else 1
    doc = run(seed=args.seed, chains=args.chains, burn=args.burn, keep=args.keep, thin=args.thin)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for name, d in doc["diagnostics"].items():
        print(f"{name:22s} {doc['summary'][name]}  R-hat {d['rhat']}  ESS {d['ess']}")
    print(f"acceptance {doc['acceptance']}, {doc['seconds']} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

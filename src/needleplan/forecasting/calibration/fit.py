"""Calibration: fit the model parameters to the seed claims and write ``params.json``.

Run ``python -m needleplan.forecasting.calibration.fit`` (add ``--check`` to only compare with
the shipped file). The fit is a regularised least-squares problem solved with
``scipy.optimize.least_squares`` in log-parameter space:

- for every range claim of ``targets.toml``, a hinge residual that is 0 while the model's value
  lies inside the claim's interval shrunk by a safety margin (15 % of its width, or the claim's
  own ``margin``), and grows linearly outside, scaled by the interval width;
- for every fitted parameter, a weak prior residual ``log(theta/theta_0)/sd`` pulling it toward
  its literature or judgement value (:data:`PRIORS`), so that a claim the data leave free does
  not drift.

Only the parameters in :data:`~needleplan.forecasting.params.FITTED` move; the others keep their
documented values. :func:`fit_curves` fits the same parameters to observed curves and is what
the parameter-recovery tests use.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from needleplan.domain import Assessment, reference_assessment
from needleplan.forecasting.calibration.claims import (
    ClaimResult,
    Targets,
    bound,
    evaluate_claims,
    load_targets,
    quantity,
    run_scenarios,
)
from needleplan.forecasting.calibration.trials import (
    load_trials,
    trial_predictions,
    trial_residuals,
)
from needleplan.forecasting.chain import simulate
from needleplan.forecasting.observation import (
    derived_noticeable_threshold,
    shipped_noticeable_threshold,
)
from needleplan.forecasting.params import FITTED, PARAMS_PATH, ModelParams, load_params

#: Prior centre, log-scale sd and source of each fitted parameter.
PRIORS: dict[str, tuple[float, float, str]] = {
    "gain": (6.0, 0.7, "judgement: one session ~ a just-noticeable change"),
    "capacity": (14.0, 0.5, "judgement: a full series tightens by ~10-15 % at most"),
    "build_days": (
        45.0,
        0.7,
        "wide: procollagen synthesis rises within the first week (K1: Haukipuro et al. 1991) and "
        "remodelling goes on for at least 6 months (K2); the trials set it",
    ),
    "fast_fade_days": (120.0, 0.6, "seed: some tightness reverses within 3-12 months"),
    "slow_fade_years": (3.0, 0.6, "seed: remodelled tone retained 1-3 years"),
    "remodelled_fraction": (0.3, 0.6, "judgement"),
    "ageing_rate_per_year": (
        0.01,
        0.3,
        "the often cited ~1 %/year (Shuster, Black & McVitie 1975) is unverified (A4); the adult "
        "range of A1/A2 is about 0.3-1.2 %/year",
    ),
}

#: Starting points of the multi-start fit (gain, capacity, remodelled_fraction, build_days);
#: the other fitted parameters start at their prior centres. The lowest final cost wins.
STARTS: tuple[tuple[float, float, float, float], ...] = (
    (6.0, 14.0, 0.3, 45.0),
    (20.0, 14.0, 0.5, 45.0),
    (15.0, 16.0, 0.5, 45.0),
    (13.0, 16.0, 0.35, 80.0),
    (14.0, 16.0, 0.5, 80.0),
)

CLAIM_WEIGHT = 10.0
RELATIVE_MARGIN = 0.15


def to_theta(params: ModelParams, names: Sequence[str] = FITTED) -> NDArray[np.float64]:
    """Log of the fitted parameters."""
    return np.log(np.array([getattr(params, n) for n in names], dtype=np.float64))


def from_theta(
    theta: NDArray[np.float64], base: ModelParams, names: Sequence[str] = FITTED
) -> ModelParams:
    """Parameters with the fitted ones set from ``theta`` (log values)."""
    return base.with_values(**{n: float(v) for n, v in zip(names, np.exp(theta), strict=True)})


def hinge(value: float, lower: float | None, upper: float | None, scale: float) -> float:
    """0 inside ``[lower, upper]``, else the distance outside divided by ``scale``."""
    if lower is not None and value < lower:
        return (lower - value) / scale
    if upper is not None and value > upper:
        return (value - upper) / scale
    return 0.0


def claim_residuals(params: ModelParams, targets: Targets) -> NDArray[np.float64]:
    """Hinge residual of every range claim (0 when it holds with margin)."""
    results = run_scenarios(targets, params)
    out = []
    for c in targets.claims:
        if c.kind != "range":
            continue
        res = results[c.scenario]
        value, censored = quantity(c, res)
        lo = bound(c.min, res.noticeable_threshold)
        hi = bound(c.max, res.noticeable_threshold)
        if lo is not None and hi is not None:
            width = hi - lo
            m = c.margin if c.margin else RELATIVE_MARGIN * width
            r = hinge(value, lo + m, hi - m, width)
        else:
            m = c.margin
            r = hinge(value, None if lo is None else lo + m, None if hi is None else hi - m, 1.0)
        if c.uncensored and censored:
            r = max(r, 1.0)
        out.append(CLAIM_WEIGHT * r)
    return np.asarray(out, dtype=np.float64)


def prior_residuals(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    centre = np.log([PRIORS[n][0] for n in FITTED])
    sd = np.array([PRIORS[n][1] for n in FITTED])
    return np.asarray((theta - centre) / sd, dtype=np.float64)


def _valid(theta: NDArray[np.float64], base: ModelParams) -> ModelParams | None:
    try:
        return from_theta(theta, base)
    except ValueError:
        return None


@dataclass(frozen=True)
class FitResult:
    params: ModelParams
    cost: float
    evaluations: int
    claims: list[ClaimResult]


def _fit_from(targets: Targets, base: ModelParams, max_nfev: int) -> tuple[ModelParams, float, int]:
    theta0 = to_theta(base)
    n_claims = sum(1 for c in targets.claims if c.kind == "range")
    n_trials = len(load_trials().measurements)

    def residuals(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        p = _valid(theta, base)
        if p is None:
            return np.full(n_claims + n_trials + theta.size, 1e3)
        return np.concatenate(
            [claim_residuals(p, targets), trial_residuals(p), prior_residuals(theta)]
        )

    sol = least_squares(residuals, theta0, method="trf", x_scale=1.0, max_nfev=max_nfev)
    return from_theta(sol.x, base), float(sol.cost), int(sol.nfev)


def fit_claims(
    targets: Targets | None = None,
    starts: Sequence[ModelParams] | None = None,
    *,
    max_nfev: int = 200,
) -> FitResult:
    """Fit :data:`FITTED` to the range claims of ``targets`` (default: the shipped file).

    A multi-start regularised least-squares fit: each start in ``starts`` (default
    :data:`STARTS` around the prior centres) is polished with ``least_squares`` and the lowest
    cost wins, because the hinge residuals make the problem non-convex.
    """
    t = load_targets() if targets is None else targets
    if starts is None:
        centre = {n: PRIORS[n][0] for n in FITTED}
        starts = [
            ModelParams(
                **{
                    **centre,
                    "noticeable_threshold": shipped_noticeable_threshold(),
                    "gain": g,
                    "capacity": c,
                    "remodelled_fraction": f,
                    "build_days": b,
                    "fast_fade_days": max(centre["fast_fade_days"], 2.0 * b),
                }
            )
            for g, c, f, b in STARTS
        ]
    best: tuple[ModelParams, float, int] | None = None
    total = 0
    for st in starts:
        params, cost, nfev = _fit_from(t, st, max_nfev)
        total += nfev
        if best is None or cost < best[1]:
            best = (params, cost, nfev)
    assert best is not None
    return FitResult(best[0], best[1], total, evaluate_claims(best[0], t))


def fit_curves(
    observed: Mapping[str, tuple[Sequence[float], NDArray[np.float64], NDArray[np.float64]]],
    start: ModelParams,
    *,
    patient: Assessment | None = None,
    years: float = 10.0,
    names: Sequence[str] = FITTED,
) -> ModelParams:
    """Fit parameters to observed typical-patient curves (least squares on the improvement).

    Parameters
    ----------
    observed : mapping
        ``name -> (session_days, day, improvement)``: each schedule's observed improvement
        [% of pre-treatment firmness] on the given days [days].
    start : ModelParams
        Starting values; parameters not in ``names`` stay fixed.
    patient : Assessment, optional
        The patient observed (default: the reference patient); the typical patient (``z = 0``)
        is fitted.
    """
    a = reference_assessment() if patient is None else patient

    def residuals(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        try:
            p = from_theta(theta, start, names)
        except ValueError:
            return np.full(sum(len(v[1]) for v in observed.values()), 1e3)
        out = []
        for sessions, day, values in observed.values():
            grid, curves = simulate(a, sessions, [0.0], years=years, params=p)
            out.append(np.interp(day, grid, curves[0]) - values)
        return np.concatenate(out)

    sol = least_squares(residuals, to_theta(start, names), method="trf", xtol=1e-12, ftol=1e-12)
    return from_theta(sol.x, start, names)


def write_params(result: FitResult, path: Path = PARAMS_PATH) -> None:
    """Write the parameter file the package ships, with the fit's provenance."""
    doc: dict[str, Any] = {
        "params": result.params.to_dict(),
        "calibration": {
            "script": "python -m needleplan.forecasting.calibration.fit",
            "targets": "src/needleplan/forecasting/calibration/targets.toml",
            "fitted": list(FITTED),
            "cost": round(result.cost, 8),
            "evaluations": result.evaluations,
            "claims": {
                r.claim.id: {"value": round(r.value, 3), "holds": r.holds} for r in result.claims
            },
            "trials": {k: round(v, 4) for k, v in trial_predictions(result.params).items()},
        },
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PARAMS_PATH, help="parameter file to write")
    parser.add_argument(
        "--check", action="store_true", help="evaluate the shipped parameters only, write nothing"
    )
    args = parser.parse_args(argv)
    if args.check:
        results = evaluate_claims(load_params(None))
    else:
        fit = fit_claims()
        write_params(fit, args.out)
        results = fit.claims
        print(f"fit cost {fit.cost:.6g} after {fit.evaluations} evaluations -> {args.out}")
        for name in FITTED:
            print(f"  {name:22s} {getattr(fit.params, name):.6g}")
    params = load_params(None) if args.check else fit.params
    pred = trial_predictions(params)
    for m in load_trials().measurements:
        z = (pred[m.id] - m.value) / m.total_sd
        print(f"trial {m.id:44s} measured {m.value:+.3f}  model {pred[m.id]:+.3f}  ({z:+.2f} sd)")
    derived = shipped_noticeable_threshold()
    ok = params.noticeable_threshold == derived
    print(
        f"{'ok  ' if ok else 'FAIL'} noticeable_threshold {params.noticeable_threshold:g} "
        f"(derived from the observation links: {derived_noticeable_threshold():.3f}, kept to "
        f"{derived:g})"
    )
    for r in results:
        ok &= r.holds
        lo = "" if r.lower is None else f"{r.lower:g} <= "
        hi = "" if r.upper is None else f" <= {r.upper:g}"
        mark = "ok  " if r.holds else "FAIL"
        print(f"{mark} {r.claim.id:48s} {lo}{r.value:.2f}{hi} {r.detail}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

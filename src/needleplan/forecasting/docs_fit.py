"""The fit's figures in docs/model.md: parameters with their priors, seed claims, trials.

Blocks of :mod:`needleplan.forecasting.docs_figures` (``python -m
needleplan.forecasting.docs_figures --write``); a test keeps the page equal to what these
functions compute from the shipped parameter file.
"""

from __future__ import annotations

from needleplan.forecasting.calibration.claims import evaluate_claims
from needleplan.forecasting.calibration.fit import PRIORS
from needleplan.forecasting.calibration.trials import load_trials, trial_predictions
from needleplan.forecasting.durations import response_peak_days
from needleplan.forecasting.params import FITTED, default_params

#: Unit of each fitted parameter as the table shows it.
UNITS = {
    "gain": "% of pre-treatment (dose)",
    "capacity": "% of pre-treatment",
    "build_days": "days",
    "fast_fade_days": "days",
    "slow_fade_years": "years",
    "remodelled_fraction": "-",
    "ageing_rate_per_year": "1/year",
}


def parameters_table() -> str:
    """The fitted parameters: point fit, prior (lognormal centre and log-sd) and its source."""
    p = default_params()
    lines = [
        "| parameter | point fit | unit | prior centre | prior log-sd | prior's source |",
        "|---|---|---|---|---|---|",
    ]
    for name in FITTED:
        centre, sd, source = PRIORS[name]
        lines.append(
            f"| `{name}` | {getattr(p, name):.4g} | {UNITS[name]} | {centre:g} | {sd:g} | "
            f"{source} |"
        )
    lines += [
        "",
        f"The typical response peaks `ln(k_b/k_f)/(k_b - k_f)` = "
        f"{response_peak_days(p):.0f} days after a session (the anchor of the headline).",
    ]
    return "\n".join(lines) + "\n"


def claims_table() -> str:
    """Each seed claim's range and the shipped model's value; each trial's measured and fitted."""
    lines = [
        "| seed claim | quantity | range | model | holds |",
        "|---|---|---|---|---|",
    ]
    for r in evaluate_claims(default_params()):
        lo = "" if r.lower is None else f"{r.lower:g}"
        hi = "" if r.upper is None else f"{r.upper:g}"
        rng = f"{lo} - {hi}" if lo and hi else (f">= {lo}" if lo else f"<= {hi}")
        what = r.claim.quantity.replace("_", " ") or "largest change of months noticeable"
        lines.append(
            f"| `{r.claim.id}` | {what} | {rng} | {r.value:.2f} | {'yes' if r.holds else 'NO'} |"
        )
    pred = trial_predictions(default_params())
    lines += [
        "",
        "| trial measurement | measured | model | total sd | (model - measured) / sd |",
        "|---|---|---|---|---|",
    ]
    for m in load_trials().measurements:
        z = (pred[m.id] - m.value) / m.total_sd
        lines.append(f"| {m.id} | {m.value:g} | {pred[m.id]:.3f} | {m.total_sd:.3f} | {z:+.2f} |")
    return "\n".join(lines) + "\n"


__all__ = ["claims_table", "parameters_table"]

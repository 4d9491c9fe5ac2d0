"""The seed claims as data, and how the model is measured against them.

``targets.toml`` (next to this module) lists each claim; :func:`evaluate_claims` runs the model
for the reference patient and returns, for every claim, the model's value, the bounds and
whether it holds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from needleplan.domain import Assessment, parse_assessment, reference_assessment
from needleplan.exceptions import ConfigError
from needleplan.forecasting.chain import ForecastResult, forecast, noticeable_span, series_days
from needleplan.forecasting.params import ModelParams, default_params

TARGETS_PATH = Path(__file__).with_name("targets.toml")


@dataclass(frozen=True)
class Claim:
    """One seed claim: a bounded quantity of a scenario, or a factor that shortens durations."""

    id: str
    text: str
    source: str
    kind: str
    scenario: str = ""
    quantity: str = ""
    days: float = 0.0
    min: float | str | None = None
    max: float | str | None = None
    margin: float = 0.0
    uncensored: bool = False
    change: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Targets:
    """The targets file: settings, scenarios and claims."""

    years: float
    draws: int
    seed: int
    scenarios: dict[str, dict[str, Any]]
    claims: list[Claim]

    def claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise KeyError(claim_id)


def load_targets(path: str | Path | None = None) -> Targets:
    """Read and check the targets file (``None``: the shipped ``targets.toml``)."""
    p = TARGETS_PATH if path is None else Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
        settings = raw["settings"]
        claims = [Claim(**c) for c in raw["claim"]]
        scenarios = dict(raw["scenarios"])
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError.one("targets", str(p), f"cannot read targets ({exc})") from None
    for c in claims:
        if c.kind == "range" and c.scenario not in scenarios:
            raise ConfigError.one(f"claim.{c.id}.scenario", c.scenario, "unknown scenario")
        if c.kind not in ("range", "shortens"):
            raise ConfigError.one(f"claim.{c.id}.kind", c.kind, "must be range or shortens")
    return Targets(
        years=float(settings["years"]),
        draws=int(settings["draws"]),
        seed=int(settings["seed"]),
        scenarios=scenarios,
        claims=claims,
    )


def scenario_days(spec: dict[str, Any], years: float) -> np.ndarray:
    """Session days of a scenario of the targets file."""
    return series_days(
        int(spec["sessions"]),
        float(spec["interval_days"]),
        maintenance_months=spec.get("maintenance_months"),
        years=years,
    )


def run_scenarios(
    targets: Targets, params: ModelParams, patient: Assessment | None = None
) -> dict[str, ForecastResult]:
    """Forecast every scenario of the targets file for ``patient`` (default: reference)."""
    a = reference_assessment() if patient is None else patient
    # Only a population claim reads the draws; the others read the typical patient's curve.
    banded = {c.scenario for c in targets.claims if c.quantity == "noticeable_days_population"}
    out: dict[str, ForecastResult] = {}
    for name, spec in targets.scenarios.items():
        out[name] = forecast(
            a,
            scenario_days(spec, targets.years),
            years=targets.years,
            draws=targets.draws,
            seed=targets.seed,
            params=params,
            n_initial=int(spec["sessions"]),
            band=name in banded,
        )
    return out


def quantity(claim: Claim, result: ForecastResult) -> tuple[float, bool]:
    """The model's value of a range claim's quantity, and whether it is censored at the horizon."""
    last = result.last_initial_day
    if claim.quantity == "peak_days_after_last_initial":
        return refined_peak_day(result.day, result.median) - last, False
    if claim.quantity == "improvement_after_last_initial":
        return result.improvement_on(last + claim.days), False
    if claim.quantity == "share_of_peak_after_last_initial":
        peak = float(np.max(result.median))
        return (result.improvement_on(last + claim.days) / peak if peak > 0 else 0.0), False
    if claim.quantity == "noticeable_days_median_curve":
        span, cens = noticeable_span(
            result.day,
            result.median[None, :],
            result.noticeable_threshold,
            last,
            last + result.anchor_days,
        )
        return float(span[0]), bool(cens[0])
    if claim.quantity == "noticeable_days_population":
        months = result.milestones.noticeable_months_population_median
        return months * 365.25 / 12.0, result.milestones.noticeable_censored
    raise ConfigError.one(f"claim.{claim.id}.quantity", claim.quantity, "unknown quantity")


def refined_peak_day(day: np.ndarray, values: np.ndarray) -> float:
    """Day of the maximum, refined between grid days by a parabola through its neighbours."""
    i = int(np.argmax(values))
    if i == 0 or i == values.size - 1:
        return float(day[i])
    y0, y1, y2 = values[i - 1], values[i], values[i + 1]
    denom = y0 - 2.0 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    return float(day[i] + shift * (day[i + 1] - day[i]))


def bound(value: float | str | None, threshold: float) -> float | None:
    """A numeric bound from a number, ``"noticeable"`` or ``"baseline"``."""
    if value is None:
        return None
    if value == "noticeable":
        return threshold
    if value == "baseline":
        return 0.0
    if isinstance(value, str):
        raise ConfigError.one("bound", value, "must be a number, noticeable or baseline")
    return float(value)


@dataclass(frozen=True)
class ClaimResult:
    """A claim's model value and whether the claim holds."""

    claim: Claim
    value: float
    lower: float | None
    upper: float | None
    censored: bool
    holds: bool
    detail: str = ""


def check_range(claim: Claim, results: dict[str, ForecastResult]) -> ClaimResult:
    res = results[claim.scenario]
    value, censored = quantity(claim, res)
    lo = bound(claim.min, res.noticeable_threshold)
    hi = bound(claim.max, res.noticeable_threshold)
    holds = (lo is None or value >= lo) and (hi is None or value <= hi)
    if claim.uncensored and censored:
        holds = False
    return ClaimResult(claim, value, lo, hi, censored, holds)


def check_shortens(
    claim: Claim, targets: Targets, params: ModelParams, base: dict[str, ForecastResult]
) -> ClaimResult:
    """The factor in ``claim.change`` lowers the noticeable time of every scenario (or keeps 0)."""
    ref = reference_assessment().to_json_dict()
    changed = parse_assessment({**ref, **claim.change})
    alt = run_scenarios(targets, params, changed)
    worst = -np.inf
    details = []
    for name in ("series", "maintenance_12m", "single"):
        b = base[name].milestones.noticeable_months_after_last_initial.median
        a = alt[name].milestones.noticeable_months_after_last_initial.median
        worst = max(worst, a - b)
        details.append(f"{name}: {b:.1f} -> {a:.1f} months")
    return ClaimResult(claim, float(worst), None, 0.0, False, bool(worst < 0), "; ".join(details))


def evaluate_claims(
    params: ModelParams | None = None, targets: Targets | None = None
) -> list[ClaimResult]:
    """Every claim of the targets file checked against the model with ``params``."""
    p = default_params() if params is None else params
    t = load_targets() if targets is None else targets
    results = run_scenarios(t, p)
    out = []
    for c in t.claims:
        if c.kind == "range":
            out.append(check_range(c, results))
        else:
            out.append(check_shortens(c, t, p, results))
    return out

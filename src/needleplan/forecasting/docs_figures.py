"""The figures docs/model.md shows, computed from the code: ``python -m
needleplan.forecasting.docs_figures`` prints every block; ``--write`` puts them into the page.

Each block sits in docs/model.md between ``<!-- figures:NAME -->`` and ``<!-- /figures -->``;
``tests/forecasting/test_docs_figures.py`` fails when a block differs from what this module
computes, so the page cannot drift from the model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from needleplan.domain import Condition, Smoking, reference_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.chain import curve_inputs, forecast, series_days
from needleplan.forecasting.docs_fit import claims_table, parameters_table
from needleplan.forecasting.learning import Observation, ZPosterior, posterior_effects
from needleplan.forecasting.models import improvement
from needleplan.forecasting.models.covariates import (
    AGE_KEY,
    EFFECTS,
    SPREADS,
    UNCERTAIN_KEYS,
    family_of,
    spread_of,
)
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    JND_SCALES,
    TIGHTENING_SCALES,
    baseline_prior,
    derived_noticeable_threshold,
    noticeable_from_link,
    shipped_noticeable_threshold,
    simulate,
)
from needleplan.forecasting.params import FITTED, default_params
from needleplan.forecasting.uncertainty import POSTERIOR_PATH

DOCS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "model.md"
BLOCK = re.compile(r"(<!-- figures:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)


def posterior_table() -> str:
    """Posterior summary, convergence diagnostics and predictive checks of the stored draws."""
    doc = json.loads(POSTERIOR_PATH.read_text(encoding="utf-8"))
    point = default_params()
    s = doc["settings"]
    lines = [
        f"{len(doc['draws'])} draws: {s['chains']} chains, {s['burn']} burn-in steps, "
        f"{s['keep']} kept per chain every {s['thin']} steps, seed {s['seed']}.",
        "",
        "| parameter | point fit | posterior p5 | p50 | p95 | split R-hat | ESS |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in FITTED:
        q = doc["summary"][name]
        d = doc["diagnostics"][name]
        lines.append(
            f"| `{name}` | {getattr(point, name):.4g} | {q['p5']:.4g} | {q['p50']:.4g} | "
            f"{q['p95']:.4g} | {d['rhat']:.3f} | {d['ess']:.0f} |"
        )
    ppc = doc["predictive_checks"]
    lines += [
        "",
        f"Posterior predictive checks ({ppc['draws']} draws; a replicated measurement is the "
        "model's value plus its measurement error and link discrepancy):",
        "",
        "| trial measurement | measured | predictive p10 | p50 | p90 | P(replicate <= measured) |",
        "|---|---|---|---|---|---|",
    ]
    for mid, t in ppc["trials"].items():
        lines.append(
            f"| {mid} | {t['measured']:g} | {t['p10']:.3f} | {t['p50']:.3f} | {t['p90']:.3f} | "
            f"{t['tail_probability']:.2f} |"
        )
    lines += ["", "| seed claim | share of draws for which it holds |", "|---|---|"]
    for cid, share in ppc["claims_share_holding"].items():
        lines.append(f"| `{cid}` | {share:.0%} |")
    return "\n".join(lines) + "\n"


def band_table() -> str:
    """Noticeable months with and without the model's own uncertainty (the fitted parameters
    and, for a patient with factors, the covariate effects' sizes)."""
    ref = reference_assessment()
    lines = [
        "| schedule | typical patient | 80 % band, patients only | 80 % band, patients + "
        "parameters + covariate effects |",
        "|---|---|---|---|",
    ]
    cases = [
        ("5 sessions, 35 days apart", series_days(5, 35), 5, None),
        ("one session", series_days(1, 35), 1, None),
        ("5 sessions + upkeep every 12 months", series_days(5, 35, maintenance_months=12), 5, 12),
    ]
    smoker = ref.model_copy(
        update={"smoking": Smoking.CURRENT, "conditions": frozenset({Condition.DIABETES})}
    )
    cases.append(("a smoker with diabetes, 5 sessions", series_days(5, 35), 5, None))
    for label, sd, n, m in cases:
        who = smoker if label.startswith("a smoker") else ref
        only = forecast(who, sd, n_initial=n, maintenance_months=m, parameter_uncertainty=False)
        both = forecast(who, sd, n_initial=n, maintenance_months=m)
        a = only.milestones.noticeable_months_after_last_initial
        b = both.milestones.noticeable_months_after_last_initial

        def rng(x: float, y: float, cens: bool) -> str:
            return f"{x:.1f}-{'>=' if cens else ''}{y:.1f}"

        lines.append(
            f"| {label} | {a.median:.1f} months | {rng(a.p10, a.p90, a.p90_censored)} | "
            f"{rng(b.p10, b.p90, b.p90_censored)} |"
        )
    return "\n".join(lines) + "\n"


def threshold_table() -> str:
    """Where the noticeable threshold comes from, and how the headline moves with it."""
    lines = [
        "| scale | first recorded step | cut from no change [scale units] | slope [per %] | "
        "rater noise sd | own just-noticeable improvement [%] | weight in the threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    weights = {s: abs(DEFAULT_LINKS[s].slope) / DEFAULT_LINKS[s].noise_sd for s in JND_SCALES}
    total = sum(weights[s] for s in TIGHTENING_SCALES)
    for scale in JND_SCALES:
        link = DEFAULT_LINKS[scale]
        step = float(link.step or 0.0)
        share = f"{weights[scale] / total:.2f}" if scale in TIGHTENING_SCALES else "- (lines)"
        lines.append(
            f"| {scale.value} | {step:g} | {step / 2:g} | {link.slope:g} | {link.noise_sd:g} | "
            f"{noticeable_from_link(link):.2f} | {share} |"
        )
    derived = derived_noticeable_threshold()
    shipped = shipped_noticeable_threshold()
    lines += [
        "",
        f"Derived: a rating on GAIS or the laxity grade records a change half of the time at "
        f"**{derived:.3f} %**; shipped as **{shipped:g} %**.",
    ]
    ref = reference_assessment()
    base = default_params()
    lines += [
        "",
        "| threshold [%] | series: months noticeable | one session | series + upkeep every "
        "12 months |",
        "|---|---|---|---|",
    ]
    for thr in sorted({4.0, 4.5, base.noticeable_threshold, 5.0, 5.5, 6.0}):
        p = base.with_values(noticeable_threshold=thr)
        out = []
        for sd, n, m in (
            (series_days(5, 35), 5, None),
            (series_days(1, 35), 1, None),
            (series_days(5, 35, maintenance_months=12), 5, 12),
        ):
            r = forecast(ref, sd, n_initial=n, params=p, band=False, maintenance_months=m)
            months = r.milestones.noticeable_months_after_last_initial.median
            out.append(f"{months:.1f}")
        mark = " (derived, shipped)" if thr == base.noticeable_threshold else ""
        lines.append(f"| {thr:g}{mark} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


#: Follow-up days of the shrinkage table: 2-12 months after the last of 5 sessions 35 days apart
#: (day 140) [days from the first session].
SHRINKAGE_FOLLOW_UPS = {1: (320.0,), 5: (200.0, 260.0, 320.0, 410.0, 500.0)}
#: Simulated patients per cell of the shrinkage table (seeded).
SHRINKAGE_PATIENTS = 10
SHRINKAGE_SEED = 20261203


def _simulated_ratings(
    z: float,
    scales: Sequence[MeasurementScale],
    days: Sequence[float],
    rng: np.random.Generator,
    persistence: float | None = None,
) -> list[Observation]:
    """One patient's ratings drawn through the observation model (a pre-treatment rating first
    on an absolute scale, her own pre-treatment value drawn from its prior); ``persistence``
    her ``u_P`` (default: its mean given ``z``)."""
    ref = reference_assessment()
    sessions = series_days(5, 35)
    d = np.asarray(days, dtype=np.float64)
    up = None if persistence is None else [persistence]
    imp = improvement(d, curve_inputs(ref, sessions, [z], default_params(), up))[0]
    out: list[Observation] = []
    for scale in scales:
        link = DEFAULT_LINKS[scale]
        b0, tau = baseline_prior(link, ref)
        b = b0 + tau * float(rng.standard_normal())
        if not link.relative:
            out.append(Observation(scale, float(simulate(link, np.zeros(1), b, rng)[0]), -1.0))
        values = simulate(link, imp, b, rng)
        out += [Observation(scale, float(v), float(t)) for v, t in zip(values, d, strict=True)]
    return out


def shrinkage_table() -> str:
    """How much each scale's follow-ups narrow her response and persistence effects' 80 %
    intervals (patients drawn from the joint prior)."""
    ref = reference_assessment()
    sessions = series_days(5, 35)
    rho = default_params().random_effect_correlation
    prior = ZPosterior.prior().quantile(np.array([0.1, 0.9]))
    prior_width = float(prior[1] - prior[0])
    rows: list[tuple[str, tuple[MeasurementScale, ...]]] = [
        (s.value, (s,)) for s in MeasurementScale
    ]
    rows.append(("all five", tuple(MeasurementScale)))
    counts = sorted(SHRINKAGE_FOLLOW_UPS)
    lines = [
        "| scale | "
        + " | ".join(
            f"{k} follow-up{'s' if k > 1 else ''}: response / persistence interval narrowed by"
            for k in counts
        )
        + " |",
        "|---|" + "---|" * len(counts),
    ]
    for label, scales in rows:
        cells = []
        for k in counts:
            rng = np.random.default_rng(SHRINKAGE_SEED)
            w_r, w_p = [], []
            for _ in range(SHRINKAGE_PATIENTS):
                z = float(rng.standard_normal())
                u_p = rho * z + float(np.sqrt(1.0 - rho * rho) * rng.standard_normal())
                obs = _simulated_ratings(z, scales, SHRINKAGE_FOLLOW_UPS[k], rng, u_p)
                post = posterior_effects(ref, sessions, obs)
                lo, hi = post.response.quantile(np.array([0.1, 0.9]))
                w_r.append(float(hi - lo))
                lo, hi = post.persistence.quantile(np.array([0.1, 0.9]))
                w_p.append(float(hi - lo))
            r = 1.0 - float(np.mean(w_r)) / prior_width
            p = 1.0 - float(np.mean(w_p)) / prior_width
            cells.append(f"{r:.0%} / {p:.0%}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def covariate_table() -> str:
    """The covariate multipliers (``EFFECTS``), one row per factor, blank where 1."""
    names = ("response", "fade", "ageing", "heal", "capacity", "threshold")
    lines = [
        "| factor | " + " | ".join(names) + " | source |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for key, eff in EFFECTS.items():
        cells = [f"{getattr(eff, n):.2f}" if getattr(eff, n) != 1.0 else "" for n in names]
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {eff.source} |")
    return "\n".join(lines) + "\n"


def spread_table() -> str:
    """Each factor's strength spread: its 80 % range and what it does to the strongest level's
    response (or threshold) multiplier, with the source of the spread."""
    z = 1.2815515655446004  # the standard normal's 90th percentile
    lines = [
        "| factor | spread sigma | strength, 80 % of draws | strongest level: multiplier (before the "
        "stacking bounds), 80 % of draws | source of the spread |",
        "|---|---|---|---|---|",
    ]
    for fam in UNCERTAIN_KEYS:
        sigma = spread_of(fam)
        lo, hi = float(np.exp(-z * sigma)), float(np.exp(z * sigma))
        if fam == AGE_KEY:
            level = "age terms beta_A, beta_r: x" + f"{lo:.2f}-x{hi:.2f}"
        else:
            keys = [k for k in EFFECTS if family_of(k) == fam]
            name, m = "response", 1.0
            for k in keys:
                for attr in ("response", "threshold"):
                    v = getattr(EFFECTS[k], attr)
                    if abs(np.log(v)) > abs(np.log(m)):
                        name, m, key = attr, v, k
            if m == 1.0:
                key, name, m = keys[0], "ageing", EFFECTS[keys[0]].ageing
                if m == 1.0:
                    name, m = "fade", EFFECTS[keys[0]].fade
            a, b = sorted((m**lo, m**hi))
            level = f"{key} {name} {m:.2f}: {a:.2f}-{b:.2f}"
        source = SPREADS[fam][1] if fam in SPREADS else "judgement prior"
        lines.append(f"| {fam} | {sigma:g} | {lo:.2f}-{hi:.2f} | {level} | {source} |")
    return "\n".join(lines) + "\n"


FIGURES: dict[str, Callable[[], str]] = {
    "parameters": parameters_table,
    "claims": claims_table,
    "covariates": covariate_table,
    "spreads": spread_table,
    "shrinkage": shrinkage_table,
    "posterior": posterior_table,
    "band": band_table,
    "threshold": threshold_table,
}


def render(page: str) -> str:
    """``page`` with every figures block replaced by what the code computes now."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in FIGURES:
            raise KeyError(f"docs/model.md has an unknown figures block {name!r}")
        return m.group(1) + FIGURES[name]() + m.group(4)

    return BLOCK.sub(sub, page)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="update docs/model.md in place")
    args = parser.parse_args(argv)
    if args.write:
        DOCS_PAGE.write_text(render(DOCS_PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        for name, fn in FIGURES.items():
            print(f"<!-- figures:{name} -->\n{fn()}<!-- /figures -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

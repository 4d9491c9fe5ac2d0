"""The owner's projection: the clinic's own patients over the next 12-60 months.

The dashboard runs the cohort engine (:func:`needleplan.cohort.simulate_cohort`) on every
patient's newest assessment with the clinic's prices and recall threshold, and states the
engine's assumptions in plain words beside the chart (:func:`assumptions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from needleplan.cohort.engine import simulate_cohort
from needleplan.cohort.population import fixed_population
from needleplan.cohort.result import CohortResult
from needleplan.cohort.settings import make_settings
from needleplan.domain.assessment import Assessment
from needleplan.exceptions import InputError
from needleplan.forecasting.optimise import Prices
from needleplan.guideline import Guideline, load_guideline
from needleplan.scheduling import ClinicConfig

#: The horizons offered [months].
HORIZONS = (12, 24, 36, 48, 60)
#: The seed of the dashboard's projection: the same records give the same chart.
SEED = 0
#: Patients start their course on a random day of the first this many months.
SPREAD_MONTHS = 6


@dataclass(frozen=True)
class Projection:
    """The engine's result and the sentences that state its assumptions."""

    result: CohortResult
    assumptions: tuple[str, ...]
    left_out_invalid: int


def _first_of_next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def _money(result: CohortResult, key: str) -> str:
    return f"{float(result.prices[key]):,.2f} {result.currency}"


def assumptions(result: CohortResult, invalid: int) -> tuple[str, ...]:
    """The projection's assumptions, in plain words, with the numbers it used."""
    excluded = sum(result.summary.excluded.values())
    left = excluded + invalid
    return (
        f"Who: the {result.summary.patients} patients with an assessment on record, each as "
        "her newest assessment describes her (age, skin, lifestyle); "
        + (
            f"{left} left out (a contraindication blocks the plan, an age outside the model's "
            "range, or a record that no longer validates)."
            if left
            else "nobody left out."
        ),
        "What: each starts the course the clinic's guideline gives her on a random day of the "
        f"first {result.spread_months} months from {result.start:%B %Y}, as if starting now "
        "(sessions already delivered are not subtracted).",
        f"Adherence: {result.adherence.series:.0%} complete the initial series; each "
        f"maintenance visit is kept with probability {result.adherence.maintenance:.0%}.",
        f"Recall: she is due when her forecast improvement falls to {result.recall_threshold:g}% "
        "(the clinic's recall threshold); no new patients arrive in the projection.",
        f"Money: {_money(result, 'initial_session')} per initial session and "
        f"{_money(result, 'maintenance_session')} per maintenance session (the clinic's "
        "prices); no discounts, no price changes.",
        "Model: the shipped forecast calibration; one simulation run with a fixed seed, so the "
        "chart is the same for the same records. It is a planning aid, not a promise.",
    )


def clinic_projection(
    assessments: Sequence[Assessment],
    clinic: ClinicConfig,
    months: int,
    *,
    today: date,
    invalid: int = 0,
    guideline: Guideline | None = None,
) -> Projection:
    """Project the clinic's own patients ``months`` (12, 24, ... 60) from next month on.

    Raises
    ------
    InputError
        naming ``horizon`` for another horizon, ``prices`` when the clinic has none.
    """
    if months not in HORIZONS:
        raise InputError.one(
            "horizon", months, "must be one of " + ", ".join(str(h) for h in HORIZONS) + " months"
        )
    if clinic.prices is None:
        raise InputError.one("prices", None, "the clinic settings need prices for a projection")
    g = guideline or load_guideline()
    population = fixed_population(assessments, g, description="the clinic's patients")
    settings = make_settings(
        years=months // 12,
        start=_first_of_next_month(today),
        spread_months=SPREAD_MONTHS,
        seed=SEED,
        recall_threshold=clinic.recall_threshold,
    )
    prices = Prices(
        initial_session=clinic.prices.initial_session,
        maintenance_session=clinic.prices.maintenance_session,
        currency=clinic.prices.currency,
    )
    result = simulate_cohort(population, settings, prices=prices, guideline=g)
    return Projection(result, assumptions(result, invalid), invalid)

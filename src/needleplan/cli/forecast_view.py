"""What ``needleplan forecast``, ``compare`` and ``consult`` print: milestones, the reading and
the scenarios.

Imported by the commands when they run (it loads numpy and the model), never at start-up.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.domain import Assessment, Protocol
from needleplan.exceptions import BlockedError, InputError
from needleplan.forecasting.chain import (
    Band,
    ForecastResult,
)
from needleplan.forecasting.optimise import Prices, load_prices
from needleplan.forecasting.params import DAYS_PER_MONTH, DAYS_PER_YEAR
from needleplan.forecasting.result import calibration_words
from needleplan.forecasting.scenarios import Comparison
from needleplan.forecasting.wording import (
    BAND_MEANING,
    BAND_PARTS,
    EVIDENCE_LIMIT,
    HEADLINE_MEANING,
    band_phrase,
    factor_notes,
)
from needleplan.guideline import load_guideline, make_protocol


def protocol_for(assessment: Assessment, guideline: Path | None) -> Protocol:
    protocol = make_protocol(assessment, load_guideline(guideline) if guideline else None)
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons)
    return protocol


def parse_days(text: str) -> list[float]:
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise InputError.one(
            "--session-days", text, "must be comma-separated days, e.g. 0,35,70"
        ) from None


def _years(days: float) -> str:
    return f"{days / DAYS_PER_YEAR:.1f} years"


def _band_text(band: Band) -> str:
    """``p10-p90`` with ``≥`` before a quantile the horizon cut off (a lower bound)."""
    lo = ("≥" if band.p10_censored else "") + f"{band.p10:.1f}"
    hi = ("≥" if band.p90_censored else "") + f"{band.p90:.1f}"
    return f"{lo}-{hi}"


def _months(m: float) -> str:
    return f"{m:.1f} months" if m < 24 else f"{m:.0f} months ({m / 12:.1f} years)"


def _phrase(result: ForecastResult) -> str:
    band = result.milestones.noticeable_months_after_last_initial
    return band_phrase(
        band.p10,
        band.p90,
        p90_censored=band.p90_censored,
        parameters=result.parameter_uncertainty,
    )


def reading(result: ForecastResult) -> str:
    """One plain-language sentence that reads the chart."""
    m = result.milestones
    band = m.noticeable_months_after_last_initial
    peak_after = (m.peak_day - m.last_initial_day) / DAYS_PER_MONTH
    lasts = (
        f"stays noticeably firmer to the end of the {result.years:g}-year horizon"
        if m.noticeable_censored
        else (
            f"is noticeably firmer for about {_months(band.median)} after the last initial "
            f"session ({_phrase(result)})"
        )
    )
    if m.peak_improvement < result.noticeable_threshold:
        lasts = "never becomes noticeably firmer for a typical patient like her"
    back = (
        f"and is back to her pre-treatment firmness after about {_years(m.back_to_baseline_day)}"
        if m.back_to_baseline_day is not None
        else "and stays above her pre-treatment firmness over the horizon"
    )
    when = (
        f"{peak_after:.1f} months after the last initial session"
        if m.peak_day >= m.last_initial_day
        else f"on day {m.peak_day}"
    )
    return f"Her skin is firmest {when} (+{m.peak_improvement:.1f} % over before), {lasts}, {back}."


def render_forecast(result: ForecastResult, console: Console) -> None:
    m = result.milestones
    band = m.noticeable_months_after_last_initial
    table = Table(title="Forecast milestones", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    n_maint = result.session_days.size - result.n_initial
    days = ", ".join(f"{d:g}" for d in result.session_days[: result.n_initial])
    table.add_row("initial sessions", f"{result.n_initial} on days {days}")
    table.add_row("maintenance sessions", f"{n_maint}" if n_maint else "none")
    table.add_row(
        "peak",
        f"day {m.peak_day} ({m.peak_day / DAYS_PER_MONTH:.1f} months): "
        f"+{m.peak_improvement:.1f} % firmness",
    )
    table.add_row(
        "noticeable after the last initial session",
        f"{'at least ' if m.noticeable_censored else ''}{band.median:.1f} months "
        f"(range in the model {_band_text(band)})",
    )
    table.add_row(
        "back to pre-treatment level",
        "not within the horizon"
        if m.back_to_baseline_day is None
        else f"day {m.back_to_baseline_day} ({_years(m.back_to_baseline_day)})",
    )
    table.add_row("noticeable threshold", f"{result.noticeable_threshold:g} % firmness")
    table.add_row(
        "horizon / draws / seed", f"{result.years:g} years / {result.draws} / {result.seed}"
    )
    table.add_row("calibration", calibration_words(result.calibration))
    console.print(table)
    console.print(escape(reading(result)))
    console.print(escape(f"{HEADLINE_MEANING} {BAND_MEANING} {EVIDENCE_LIMIT}"))
    for note in factor_notes(result.factors):
        console.print(escape(note))
    console.print(f"[dim]{escape(DISCLAIMER)}[/]")


def render_comparison(comp: Comparison, console: Console) -> None:
    cur = comp.prices.currency
    table = Table(
        title=f"Scenarios over {comp.years:g} years",
        title_justify="left",
        caption=(
            f"months: typical patient (p10-p90 range in the model: {BAND_PARTS}); "
            "≥ marks a value cut off by the horizon (a lower bound)"
        ),
        caption_justify="left",
    )
    for col in (
        "scenario",
        "sessions",
        f"cost [{cur}]",
        "noticeable after last initial [months]",
        "noticeable in total [years]",
        f"cost per noticeable year [{cur}]",
    ):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for sc in comp.scenarios:
        b = sc.result.milestones.noticeable_months_after_last_initial
        cens = "≥" if sc.result.milestones.noticeable_censored else ""
        cpy = sc.cost_per_noticeable_year
        table.add_row(
            escape(sc.label),
            f"{sc.initial_sessions} + {sc.maintenance_sessions}",
            f"{sc.cost:,.0f}",
            f"{cens}{b.median:.1f} ({_band_text(b)})",
            f"{sc.noticeable_years:.1f}",
            "-" if cpy is None else f"{cpy:,.0f}",
        )
    console.print(table)
    if comp.cheapest is None:
        console.print(
            f"No schedule within the guideline's bounds keeps the improvement noticeable for "
            f"{comp.keep_years:g} years."
        )
    else:
        ch = comp.cheapest
        maint = (
            f"maintenance every {ch.maintenance_months} months"
            if ch.maintenance_months
            else "no maintenance"
        )
        console.print(
            f"Cheapest plan noticeable for {comp.keep_years:g} years: {ch.sessions} sessions "
            f"{ch.interval_days} days apart, {maint}: {ch.session_count} sessions, "
            f"{ch.cost:,.0f} {cur} (of {ch.candidates_checked} schedules checked)."
        )
    u = comp.upkeep_vs_lapse

    def per_year(cost: float | None) -> str:
        return "-" if cost is None else f"{cost:,.0f} {cur}"

    console.print(
        f"Upkeep (the series, then maintenance every {u.maintenance_months:g} months) costs "
        f"{u.upkeep.cost:,.0f} {cur} for {u.upkeep.noticeable_years:.1f} noticeable years "
        f"({per_year(u.upkeep.cost_per_noticeable_year)} a year); letting it lapse and repeating "
        f"the full series costs {u.lapse_and_repeat.cost:,.0f} {cur} for "
        f"{u.lapse_and_repeat.noticeable_years:.1f} "
        f"({per_year(u.lapse_and_repeat.cost_per_noticeable_year)} a year)."
    )
    console.print(f"[dim]{escape(DISCLAIMER)}[/]")


def prices_from(path: Path | None) -> Prices:
    return load_prices(path) if path is not None else load_prices(None)

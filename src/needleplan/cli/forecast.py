"""``needleplan forecast`` and ``needleplan compare``: how long results last, and what it costs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli import common as c
from needleplan.domain import Assessment, Protocol
from needleplan.exceptions import BlockedError, InputError
from needleplan.forecasting.chain import (
    Band,
    ForecastResult,
    forecast,
    series_days,
)
from needleplan.forecasting.optimise import Prices, load_prices
from needleplan.forecasting.params import DAYS_PER_MONTH, DAYS_PER_YEAR
from needleplan.forecasting.scenarios import Comparison, compare_scenarios
from needleplan.guideline import load_guideline, make_protocol


def _protocol(assessment: Assessment, guideline: Path | None) -> Protocol:
    protocol = make_protocol(assessment, load_guideline(guideline) if guideline else None)
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons)
    return protocol


def _parse_days(text: str) -> list[float]:
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


def reading(result: ForecastResult) -> str:
    """One plain-language sentence that reads the chart."""
    m = result.milestones
    band = m.noticeable_months_after_last_initial
    peak_after = (m.peak_day - m.last_initial_day) / DAYS_PER_MONTH
    lasts = (
        f"stays noticeably firmer to the end of the {result.years:g}-year horizon"
        if m.noticeable_censored
        else (
            f"stays noticeably firmer for about {_months(band.median)} after the last initial "
            f"session (8 in 10 patients like her: {band.p10:.0f}-"
            f"{'at least ' if band.p90_censored else ''}{band.p90:.0f} months)"
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
        f"(80 % band {_band_text(band)})",
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
    console.print(table)
    console.print(escape(reading(result)))
    console.print(f"[dim]{escape(DISCLAIMER)}[/]")


def render_comparison(comp: Comparison, console: Console) -> None:
    cur = comp.prices.currency
    table = Table(
        title=f"Scenarios over {comp.years:g} years",
        title_justify="left",
        caption="months: median (80 % band); ≥ marks a value cut off by the horizon (a lower bound)",
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


def _prices(path: Path | None) -> Prices:
    return load_prices(path) if path is not None else load_prices(None)


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    def forecast_cmd(
        source: Path = typer.Option(
            ..., "--from", "-f", help="Assessment JSON file ('-' reads standard input)."
        ),
        sessions: int | None = typer.Option(
            None,
            "--sessions",
            help="Initial sessions (default: the protocol's); with --session-days, how many of "
            "those days are the initial series (required there).",
            min=1,
        ),
        interval_days: float | None = typer.Option(
            None, "--interval-days", help="Days between initial sessions (default: protocol's)."
        ),
        maintenance_months: float | None = typer.Option(
            None, "--maintenance-months", help="Maintenance every M months after the series."
        ),
        no_maintenance: bool = typer.Option(
            False, "--no-maintenance", help="No maintenance (the default)."
        ),
        session_days: str | None = typer.Option(
            None,
            "--session-days",
            help="Explicit session days from the first session, e.g. 0,35,70,400.",
        ),
        years: float = typer.Option(10.0, "--years", help="Horizon [years], at most 15."),
        draws: int = typer.Option(1000, "--draws", help="Population draws for the band."),
        seed: int = typer.Option(0, "--seed", help="Random seed (reproducible)."),
        plot: Path | None = typer.Option(None, "--plot", help="Write a PNG chart here."),
        as_json: bool = typer.Option(False, "--json", help="Print the forecast as JSON."),
        guideline: Path | None = typer.Option(
            None, "--guideline", help="A clinic's guideline TOML (default: the shipped one)."
        ),
    ) -> None:
        """Forecast firmness over the years for a schedule, with the 80 % population band.

        Default schedule: the protocol's initial sessions at its recommended interval, no
        maintenance, 10 years, 1000 draws. Exit codes: 0 ok, 2 bad input or outside the model's
        validated range, 3 blocked by a contraindication.
        """
        if maintenance_months is not None and no_maintenance:
            raise InputError.one(
                "--maintenance-months",
                maintenance_months,
                "cannot be combined with --no-maintenance",
            )
        assessment = c.build_assessment(source, c.AssessmentFlags())
        protocol = _protocol(assessment, guideline)
        if session_days is not None:
            if interval_days is not None or maintenance_months is not None:
                raise InputError.one(
                    "--session-days",
                    session_days,
                    "cannot be combined with --interval-days or --maintenance-months",
                )
            days = np.asarray(_parse_days(session_days), dtype=np.float64)
            if sessions is None:
                raise InputError.one(
                    "--sessions",
                    None,
                    "is required with --session-days: how many of those days are the initial "
                    "series (the rest are maintenance)",
                )
            n_initial = sessions
        else:
            n = sessions if sessions is not None else protocol.initial_sessions
            interval = (
                interval_days if interval_days is not None else protocol.recommended_interval_days
            )
            days = series_days(n, interval, maintenance_months=maintenance_months, years=years)
            n_initial = n
        result = forecast(
            assessment, days, years=years, draws=draws, seed=seed, n_initial=n_initial
        )
        if plot is not None:
            from needleplan.reports.charts import plot_forecast

            n_maint = result.session_days.size - result.n_initial
            if maintenance_months is not None:
                label = (
                    f"{result.n_initial} sessions + maintenance every {maintenance_months:g} months"
                )
            elif n_maint:
                label = f"{result.n_initial} sessions + {n_maint} maintenance sessions"
            else:
                label = f"{result.n_initial} sessions, no maintenance"
            plot_forecast([(label, result)], plot)
        if as_json:
            typer.echo(json.dumps(result.to_json()))
            return
        console = Console(highlight=False)
        render_forecast(result, console)
        if plot is not None:
            console.print(f"chart written to {escape(str(plot))}")

    @app.command("compare")
    def compare_cmd(
        source: Path = typer.Option(
            ..., "--from", "-f", help="Assessment JSON file ('-' reads standard input)."
        ),
        years: float = typer.Option(10.0, "--years", help="Horizon [years], at most 15."),
        keep_years: float = typer.Option(
            5.0, "--keep-years", help="The cheapest plan keeps it noticeable this long [years]."
        ),
        draws: int = typer.Option(1000, "--draws", help="Population draws for the band."),
        seed: int = typer.Option(0, "--seed", help="Random seed (reproducible)."),
        prices: Path | None = typer.Option(
            None, "--prices", help="Prices TOML ([prices] initial_session, maintenance_session)."
        ),
        plot: Path | None = typer.Option(None, "--plot", help="Write a PNG chart here."),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
        guideline: Path | None = typer.Option(
            None, "--guideline", help="A clinic's guideline TOML (default: the shipped one)."
        ),
    ) -> None:
        """Compare one session, the series, and the series with maintenance every 6/9/12 months.

        Shows months noticeable, sessions, cost and cost per noticeable year for each, the
        cheapest plan that stays noticeable for --keep-years, and upkeep vs. lapse-and-repeat.
        """
        assessment = c.build_assessment(source, c.AssessmentFlags())
        protocol = _protocol(assessment, guideline)
        comp = compare_scenarios(
            assessment,
            protocol,
            prices=_prices(prices),
            years=years,
            draws=draws,
            seed=seed,
            keep_years=keep_years,
        )
        if plot is not None:
            from needleplan.reports.charts import plot_forecast

            keys = ("single", "series", "maintenance_12m", "maintenance_6m")
            plot_forecast([(comp.scenario(k).label, comp.scenario(k).result) for k in keys], plot)
        if as_json:
            typer.echo(json.dumps(comp.to_json()))
            return
        console = Console(highlight=False)
        render_comparison(comp, console)
        if plot is not None:
            console.print(f"chart written to {escape(str(plot))}")

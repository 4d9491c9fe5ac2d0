"""``needleplan forecast`` and ``needleplan compare``: how long results last, and what it costs.

The model (numpy, the forecasting package) and the printing (:mod:`needleplan.cli.forecast_view`)
are imported when a command runs, so that ``needleplan --help`` does not load them.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from needleplan.cli import common as c
from needleplan.exceptions import InputError

#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


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
    import numpy as np

    from needleplan.cli.forecast_view import parse_days, protocol_for, render_forecast
    from needleplan.forecasting.chain import forecast, series_days

    if maintenance_months is not None and no_maintenance:
        raise InputError.one(
            "--maintenance-months",
            maintenance_months,
            "cannot be combined with --no-maintenance",
        )
    assessment = c.build_assessment(source, c.AssessmentFlags())
    protocol = protocol_for(assessment, guideline)
    if session_days is not None:
        if interval_days is not None or maintenance_months is not None:
            raise InputError.one(
                "--session-days",
                session_days,
                "cannot be combined with --interval-days or --maintenance-months",
            )
        days = np.asarray(parse_days(session_days), dtype=np.float64)
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
        assessment,
        days,
        years=years,
        draws=draws,
        seed=seed,
        n_initial=n_initial,
        maintenance_months=None if session_days is not None else maintenance_months,
    )
    if plot is not None:
        from needleplan.reports.charts import plot_forecast

        n_maint = result.session_days.size - result.n_initial
        if maintenance_months is not None:
            label = f"{result.n_initial} sessions + maintenance every {maintenance_months:g} months"
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
    from needleplan.cli.forecast_view import prices_from, protocol_for, render_comparison
    from needleplan.forecasting.scenarios import compare_scenarios

    assessment = c.build_assessment(source, c.AssessmentFlags())
    protocol = protocol_for(assessment, guideline)
    comp = compare_scenarios(
        assessment,
        protocol,
        prices=prices_from(prices),
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

"""``needleplan consult``: a whole consultation in the terminal (plan, forecast, scenarios)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.rule import Rule

from needleplan.cli import common as c
from needleplan.cli.exit_codes import EXIT_BLOCKED
from needleplan.cli.plan import render_protocol

#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


@app.command("consult")
def consult(
    source: Path | None = c.FromOpt,
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write the patient chart (PNG) here.", show_default=False
    ),
) -> None:
    """Run a consultation: the protocol and its reasons, then how long results last.

    Without --from it uses the reference patient (50, moderate laxity, full face, no raising
    factor), which is what `make run` shows. Exit code 3 when a contraindication blocks the plan.
    """
    from needleplan.cli.forecast_view import render_comparison
    from needleplan.domain.assessment import reference_assessment
    from needleplan.forecasting.optimise import load_prices
    from needleplan.forecasting.scenarios import compare_scenarios
    from needleplan.guideline import make_protocol

    console = Console(highlight=False)
    assessment = (
        c.build_assessment(source, c.AssessmentFlags())
        if source is not None
        else reference_assessment()
    )
    who = "reference patient" if source is None else str(source)
    console.print(Rule(f"needleplan consultation: {who}"))
    protocol = make_protocol(assessment)
    render_protocol(protocol, console)
    if protocol.blocked:
        raise typer.Exit(EXIT_BLOCKED)
    console.print(Rule("How long the results last"))
    comparison = compare_scenarios(assessment, protocol, prices=load_prices(None))
    render_comparison(comparison, console)
    if plot is not None:
        from needleplan.reports.charts import plot_forecast

        keys = ("single", "series", "maintenance_12m", "maintenance_6m")
        plot_forecast(
            [(comparison.scenario(k).label, comparison.scenario(k).result) for k in keys], plot
        )
        console.print(f"chart written to {plot}")

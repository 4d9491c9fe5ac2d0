"""Outcome learning commands: ``needleplan outcome forecast KEY`` and ``needleplan outcome report``.

Both read the clinic records (``--database`` like the record commands). ``forecast`` shows what
her measurements say about her (the posterior of her random effect ``z``) and her personalised
forecast next to the population one, with the recall day from each; ``report`` shows how the
clinic's patients respond against the default calibration. Exit codes as everywhere: 2 bad
input, 4 patient (or her assessment / sessions) not found.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli.actor import audited
from needleplan.cli.records import DatabaseOpt, clinic_in_force, open_records

if TYPE_CHECKING:
    from needleplan.services.learning import ClinicResponseReport, PatientOutcome

console = Console(highlight=False, soft_wrap=True)


def _months(band: Any) -> str:
    return f"{band.median:.1f} (80 % band {band.p10:.1f}-{band.p90:.1f})"


def render_outcome(out: PatientOutcome, con: Console) -> None:
    """Her posterior and the two forecasts as a short table."""
    post = out.update.posterior
    tally = Counter(m.scale.value for m in out.measurements)
    counts = ", ".join(f"{n} {scale}" for scale, n in sorted(tally.items()))
    con.print(
        f"patient {escape(out.patient.mrn)}: first session {out.first_session.isoformat()}, "
        f"{out.performed_sessions} performed, {len(out.session_dates)} in the schedule; "
        f"measurements: {escape(counts) or 'none'}"
    )
    con.print(f"calibration: {escape(out.calibration)}")
    if post.is_prior:
        con.print("her response so far: no measurement after treatment yet; population forecast")
    else:
        q10, q90 = (float(x) for x in post.quantile([0.1, 0.9]))
        con.print(
            f"her response z: mean {post.mean:+.2f}, sd {post.sd:.2f} (80 % {q10:+.2f} to "
            f"{q90:+.2f}); population prior N(0, 1)"
        )
        fx = out.update.effects
        if fx is not None:
            pers = fx.persistence
            p10, p90 = (float(x) for x in pers.quantile([0.1, 0.9]))
            con.print(
                f"her persistence u_P: mean {pers.mean:+.2f}, sd {pers.sd:.2f} (80 % {p10:+.2f} "
                f"to {p90:+.2f}); population prior N(0, 1), correlation with z "
                f"{fx.correlation:+.2f}"
            )
    table = Table(title_justify="left")
    table.add_column("")
    table.add_column("population (patients like her)")
    table.add_column("her, from her measurements")
    pop, own = out.update.population.milestones, out.update.personal.milestones
    table.add_row(
        "peak",
        f"day {pop.peak_day}, +{pop.peak_improvement:.1f} %",
        f"day {own.peak_day}, +{own.peak_improvement:.1f} %",
    )
    table.add_row(
        "noticeable months after the series",
        _months(pop.noticeable_months_after_last_initial),
        _months(own.noticeable_months_after_last_initial),
    )
    table.add_row(
        "back to pre-treatment level",
        "-" if pop.back_to_baseline_day is None else f"day {pop.back_to_baseline_day}",
        "-" if own.back_to_baseline_day is None else f"day {own.back_to_baseline_day}",
    )
    if out.recall_population is not None and out.recall_personal is not None:
        table.add_row(
            "maintenance recall",
            out.recall_population.due.isoformat(),
            out.recall_personal.due.isoformat(),
        )
    con.print(table)
    con.print(f"[dim]{escape(DISCLAIMER)}[/]")


def render_report(report: ClinicResponseReport, con: Console) -> None:
    """The clinic report as a few lines and a per-scale table."""
    con.print(f"patients with usable measurements: {report.n} ({report.measurements} measurements)")
    if report.skipped:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items()))
        con.print(f"skipped: {escape(skipped)}")
    if report.n:
        con.print(
            f"posterior mean z: mean {report.z_mean:+.2f} (shift score {report.shift_score:+.1f}), "
            f"sd {report.z_sd:.2f} (a calibrated model gives {report.expected_sd:.2f}); "
            f"prior N(0, 1)"
        )
        con.print(
            f"typical session response x{report.response_multiplier:.2f} of the default calibration"
        )
    if report.band_share is not None:
        table = Table(title="follow-ups inside the predicted 80 % band", title_justify="left")
        table.add_column("scale")
        table.add_column("follow-ups", justify="right")
        table.add_column("inside", justify="right")
        for c in report.by_scale:
            table.add_row(c.scale.value, str(c.follow_ups), f"{100 * c.inside_share:.0f} %")
        table.add_row("all", str(report.follow_ups), f"{100 * report.band_share:.0f} %")
        con.print(table)
    con.print(f"verdict: {report.verdict}")
    con.print(f"[dim]{escape(DISCLAIMER)}[/]")


app = typer.Typer(
    rich_markup_mode=None,
    name="outcome",
    help="Learn from outcome measurements: her own forecast, the clinic's response.",
    no_args_is_help=True,
)


@app.command("forecast")
def outcome_forecast(
    key: str = typer.Argument(..., help="Patient record number or id."),
    clinic_file: Path | None = typer.Option(
        None,
        "--clinic",
        help=(
            "Clinic calendar TOML for the recall threshold instead of the one in force (default: "
            "the version saved in the database, else $NEEDLEPLAN_CLINIC_FILE, else the bundled "
            "example clinic)."
        ),
        show_default=False,
    ),
    years: float | None = typer.Option(
        None, "--years", help="Horizon in years (default: at least 10, at most 15)."
    ),
    draws: int = typer.Option(1000, "--draws", help="Population draws for the band."),
    seed: int = typer.Option(0, "--seed", help="Random seed (reproducible)."),
    curves: bool = typer.Option(False, "--curves", help="Include daily curves in --json."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG chart here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """Her forecast updated from her measurements, next to the population forecast."""
    from needleplan import services
    from needleplan.services.learning import patient_outcome

    with open_records(database) as db:
        clinic = clinic_in_force(db, clinic_file)
        with audited(db, "outcome.read") as event:
            patient = services.find_patient(db, key)
            event.patient_id = patient.id
            out = patient_outcome(
                db, patient.id, clinic=clinic, years=years, draws=draws, seed=seed
            )
    if plot is not None:
        from needleplan.reports.charts import plot_forecast

        plot_forecast(
            [
                ("patients like her (population)", out.update.population),
                ("her, from her measurements", out.update.personal),
            ],
            plot,
            title="Her forecast, updated from her measurements",
        )
    if as_json:
        typer.echo(json.dumps(out.to_json(curves=curves)))
        return
    render_outcome(out, console)
    if plot is not None:
        console.print(f"chart written to {escape(str(plot))}")


@app.command("report")
def outcome_report(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """How the clinic's patients respond against the default calibration."""
    from needleplan.services.learning import clinic_response_report

    with open_records(database) as db:
        report = clinic_response_report(db)
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    render_report(report, console)

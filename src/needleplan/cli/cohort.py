"""``needleplan cohort simulate``: a clinic's population over the years, month by month.

The population is every patient's latest assessment in the clinic database (``--from-db``,
read only), a synthetic population from a spec file (``--population FILE``; ``needleplan cohort
example-spec`` prints one to copy), or N copies of the reference patient (``--reference N``).
Exit codes as everywhere: 2 bad input (one line naming the option, the value and the rule).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli.records import DATABASE_HELP, open_records
from needleplan.exceptions import FieldProblem, InputError

if TYPE_CHECKING:
    from needleplan.cohort import CohortResult, FixedPopulation, PopulationSpec
    from needleplan.forecasting.optimise import Prices
    from needleplan.guideline import Guideline

# The engine (numpy, scipy, the model) is imported inside the command, so that
# ``needleplan --help`` and the other commands do not pay for it.

#: Settings fields -> the options that set them (so errors name what the user typed).
OPTION_OF = {
    "years": "--years",
    "start": "--start",
    "spread_months": "--spread-months",
    "adherence.series": "--series-adherence",
    "adherence.maintenance": "--maintenance-adherence",
    "seed": "--seed",
    "chunk_size": "--chunk-size",
    "replicates": "--replicates",
    "recall_threshold": "recall_threshold",
}


def parse_month(value: str | None, *, today: date | None = None) -> date:
    """``YYYY-MM`` -> the first day of that month; ``None`` -> the first day of next month."""
    if value is None:
        t = today or date.today()
        return date(t.year + t.month // 12, t.month % 12 + 1, 1)
    try:
        year, month = (int(p) for p in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise InputError.one("--start", value, "must be a month like 2026-01") from None


def _population(
    from_db: bool,
    database: str | None,
    population: Path | None,
    reference: int | None,
    guideline: Guideline,
) -> PopulationSpec | FixedPopulation:
    from needleplan.cohort import fixed_population, load_population_spec, reference_population

    chosen = [
        name
        for name, on in (
            ("--from-db", from_db),
            ("--population", population is not None),
            ("--reference", reference is not None),
        )
        if on
    ]
    if len(chosen) != 1:
        raise InputError.one(
            "population",
            ", ".join(chosen) or "(none)",
            "give exactly one of --from-db, --population FILE, --reference N",
        )
    if population is not None:
        return load_population_spec(population)
    if reference is not None:
        if not 1 <= reference <= 10_000_000:
            raise InputError.one("--reference", reference, "must be 1-10000000 patients")
        return reference_population(reference, guideline)
    from needleplan import services

    with open_records(database, read_only=True) as db:
        assessments, invalid = services.latest_assessments(db)
    if not assessments:
        raise InputError.one("--from-db", db.display_url, "the database holds no assessment")
    pop = fixed_population(assessments, guideline, description="clinic database")
    if invalid:
        return replace(pop, excluded={**pop.excluded, "invalid stored assessment": invalid})
    return pop


def _prices_and_threshold(prices: Path | None, clinic: Path | None) -> tuple[Prices, float | None]:
    from needleplan.forecasting.optimise import Prices, load_prices

    if prices is not None and clinic is not None:
        raise InputError.one("--prices", str(prices), "give either --prices or --clinic, not both")
    if clinic is None:
        return load_prices(prices), None
    from needleplan.scheduling.clinic import load_clinic

    config = load_clinic(clinic)
    found = load_prices(None)
    if config.prices is not None:
        found = Prices(
            config.prices.initial_session,
            config.prices.maintenance_session,
            config.prices.currency,
        )
    return found, config.recall_threshold


@contextmanager
def progress_bar(console: Console, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar over chunks; yields the engine's ``progress`` callback (or None)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "simulating",
        BarColumn(),
        MofNCompleteColumn(),
        "chunks",
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("chunks", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def render_cohort(result: CohortResult, con: Console) -> None:
    """The year and month tables and the summary."""
    s = result.summary
    band = result.replicates > 1
    excluded = ", ".join(f"{n} {why}" for why, n in s.excluded.items())
    con.print(
        f"cohort: {s.patients:,} patients ({escape(result.population)}), {result.years} years "
        f"from {result.start:%Y-%m}, starts spread over {result.spread_months} months; "
        f"adherence: series {result.adherence.series:g}, maintenance visits "
        f"{result.adherence.maintenance:g}; seed {result.seed}, {result.replicates} replicate"
        f"{'s' if band else ''}" + (f"; left out: {escape(excluded)}" if excluded else "")
    )
    years = Table(
        title="Per year",
        title_justify="left",
        caption="firmer: share of the cohort noticeably firmer on the 15th, mean of the months",
        caption_justify="left",
    )
    for col in ("year", "sessions", "initial", "maint.", f"revenue [{result.currency}]"):
        years.add_column(col, justify="left" if col == "year" else "right", no_wrap=col == "year")
    years.add_column("recalls", justify="right")
    years.add_column("firmer [%]", justify="right")
    for y in range(result.years):
        rows = result.months[12 * y : 12 * y + 12]
        years.add_row(
            f"{y + 1}: {rows[0].month}",
            _count(sum(m.sessions for m in rows)),
            _count(sum(m.initial_sessions for m in rows)),
            _count(sum(m.maintenance_sessions for m in rows)),
            _money(sum(m.revenue for m in rows)),
            _count(sum(m.recalls_due for m in rows)),
            _pct(sum(m.noticeable_share for m in rows) / len(rows)),
        )
    con.print(years)
    months = Table(
        title="Per month" + (" (means over replicates)" if band else ""),
        title_justify="left",
        caption="recalls: recalls falling due; firmer: share noticeably firmer on the 15th"
        + ("; band: 10-90 % of replicates" if band else ""),
        caption_justify="left",
    )
    cols = ["month", "new", "initial", "maint.", "sessions", f"revenue [{result.currency}]"]
    cols += ["recalls", "firmer [%]"]
    if band:
        cols.append("band [%]")
    for col in cols:
        months.add_column(
            col, justify="left" if col == "month" else "right", no_wrap=col == "month"
        )
    for m in result.months:
        row = [
            m.month,
            _count(m.new_patients),
            _count(m.initial_sessions),
            _count(m.maintenance_sessions),
            _count(m.sessions),
            _money(m.revenue),
            _count(m.recalls_due),
            _pct(m.noticeable_share),
        ]
        if band:
            row.append(f"{_pct(m.noticeable_share_p10)}-{_pct(m.noticeable_share_p90)}")
        months.add_row(*row)
    con.print(months)

    def spread(
        mean: float, p10: float | None, p90: float | None, fmt: Callable[[float], str]
    ) -> str:
        if p10 is None or p90 is None:
            return fmt(mean)
        return f"{fmt(mean)} (10-90 % of replicates {fmt(p10)}-{fmt(p90)})"

    kept = "-" if s.kept_recall_share is None else f"{100 * s.kept_recall_share:.0f} %"
    con.print(
        f"total: {spread(s.sessions.mean, s.sessions.p10, s.sessions.p90, _count)} sessions "
        f"({_count(s.initial_sessions)} initial, {_count(s.maintenance_sessions)} maintenance), "
        f"revenue {spread(s.revenue.mean, s.revenue.p10, s.revenue.p90, _money)} "
        f"{result.currency}, {_count(s.recalls_due)} recalls due ({kept} kept); "
        f"{100 * s.completed_series_share:.0f} % completed the initial series"
    )
    con.print(
        f"months noticeably firmer per patient (on the 15th, within the horizon): median "
        f"{s.noticeable_months_median:g} (80 % of patients {s.noticeable_months_p10:g}-"
        f"{s.noticeable_months_p90:g})"
    )
    con.print(f"[dim]{escape(DISCLAIMER)}[/]")


def _settings(options: dict[str, str], **values: Any) -> Any:
    """Validated settings; a problem names the option that set the field."""
    from needleplan.cohort import make_settings

    names = {**OPTION_OF, **options}
    try:
        return make_settings(**values)
    except InputError as exc:
        raise InputError(
            [FieldProblem(names.get(p.field, p.field), p.value, p.rule) for p in exc.problems]
        ) from None


app = typer.Typer(
    rich_markup_mode=None,
    name="cohort",
    help="Simulate a clinic's population of patients over the years.",
    no_args_is_help=True,
)


@app.command("simulate")
def simulate_cmd(
    from_db: bool = typer.Option(
        False, "--from-db", help="Every patient's latest assessment in the clinic database."
    ),
    database: str | None = typer.Option(
        None, "--database", "-d", help=DATABASE_HELP + " Read only.", show_default=False
    ),
    population: Path | None = typer.Option(
        None, "--population", help="A population spec TOML (see `cohort example-spec`)."
    ),
    reference: int | None = typer.Option(
        None, "--reference", help="N copies of the reference patient.", show_default=False
    ),
    patients: int | None = typer.Option(
        None,
        "--patients",
        help="Cohort size for --population (default: the spec's `patients`).",
        show_default=False,
    ),
    years: int = typer.Option(5, "--years", help="Horizon [years], 1-15."),
    start: str | None = typer.Option(
        None, "--start", help="First month, YYYY-MM (default: next month).", show_default=False
    ),
    spread_months: int = typer.Option(
        12, "--spread-months", help="Patients start on a random day of the first N months."
    ),
    adherence: float | None = typer.Option(
        None, "--adherence", help="Sets both adherence probabilities below.", show_default=False
    ),
    series_adherence: float | None = typer.Option(
        None,
        "--series-adherence",
        help="Probability of completing the initial series [default: 0.8].",
        show_default=False,
    ),
    maintenance_adherence: float | None = typer.Option(
        None,
        "--maintenance-adherence",
        help="Probability of keeping each maintenance visit [default: 0.6].",
        show_default=False,
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same result)."),
    chunk_size: int = typer.Option(
        65_536, "--chunk-size", help="Patients per chunk, a multiple of 64 (memory, not result)."
    ),
    replicates: int = typer.Option(
        1, "--replicates", help="Independent runs for a Monte Carlo band (1-200)."
    ),
    prices: Path | None = typer.Option(
        None, "--prices", help="Prices TOML ([prices] initial_session, maintenance_session)."
    ),
    clinic: Path | None = typer.Option(
        None, "--clinic", help="Clinic TOML: its [prices] and recall_threshold."
    ),
    guideline: Path | None = typer.Option(
        None, "--guideline", help="A clinic's guideline TOML (default: the shipped one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG chart here."),
    dask: str | None = typer.Option(
        None,
        "--dask",
        help="Run the chunks on Dask: local:N (N worker processes) or tcp://host:8786.",
        show_default=False,
    ),
    processes: int = typer.Option(
        1,
        "--processes",
        help="Run the chunks in N worker processes of this machine (same result; not with --dask).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Sessions, revenue, recalls and the share noticeably firmer, month by month.

    Each patient follows her protocol from the guideline, starts on a random day of the
    first months, completes her series and keeps each maintenance visit with the given
    probabilities, and is recalled when her forecast falls to the clinic's recall threshold.
    Exit codes: 0 ok, 2 bad input.
    """
    from needleplan.cohort import simulate_cohort
    from needleplan.guideline import load_guideline

    if patients is not None and population is None:
        raise InputError.one("--patients", patients, "only applies to --population")
    if not 1 <= processes <= 64:
        raise InputError.one("--processes", processes, "must be a whole number 1-64")
    if processes > 1 and dask is not None:
        raise InputError.one("--processes", processes, "cannot be combined with --dask")
    g = load_guideline(guideline) if guideline is not None else load_guideline()
    found_prices, threshold = _prices_and_threshold(prices, clinic)
    adh: dict[str, float] = {}
    for key, value in (
        ("series", series_adherence if series_adherence is not None else adherence),
        (
            "maintenance",
            maintenance_adherence if maintenance_adherence is not None else adherence,
        ),
    ):
        if value is not None:
            adh[key] = value
    extra: dict[str, Any] = {} if threshold is None else {"recall_threshold": threshold}
    # With --adherence alone, a bad value is reported as --adherence.
    shared = {
        f"adherence.{key}": "--adherence"
        for key, own in (("series", series_adherence), ("maintenance", maintenance_adherence))
        if own is None and adherence is not None
    }
    settings = _settings(
        shared,
        years=years,
        start=parse_month(start),
        spread_months=spread_months,
        adherence=adh,
        seed=seed,
        chunk_size=chunk_size,
        replicates=replicates,
        **extra,
    )
    pop = _population(from_db, database, population, reference, g)
    err = Console(stderr=True, highlight=False)
    from needleplan.cohort.allocator import keep_freed_memory

    keep_freed_memory()  # this process runs the cohort, then exits (cohort/allocator.py)
    with progress_bar(err, enabled=not quiet and err.is_terminal) as progress:
        result = simulate_cohort(
            pop,
            settings,
            patients=patients,
            prices=found_prices,
            guideline=g,
            dask=dask,
            processes=processes,
            progress=progress,
        )
    if plot is not None:
        from needleplan.cohort.plot import plot_cohort

        plot_cohort(result, plot)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    console = Console(highlight=False)
    render_cohort(result, console)
    if plot is not None:
        console.print(f"chart written to {escape(str(plot))}")


@app.command("example-spec")
def example_spec_cmd() -> None:
    """Print the bundled example population spec (copy it, change it, pass --population)."""
    from needleplan.cohort import example_spec_text

    typer.echo(example_spec_text(), nl=False)

"""``needleplan calibration``: the clinic's own calibration of the forecast model.

* ``calibration fit [--note] [--json]`` — check the data-sufficiency rule and, with enough data,
  fit the clinic's population parameters from its records and store the fit as a proposal (not
  in force). With too little data it says how much more is needed and stores nothing (exit 0:
  the clinic stays on what is in force).
* ``calibration show [--proposal N] [--chart FILE] [--json]`` — the calibration in force (or a
  proposal), its estimates against the default, and the visual predictive check (``--chart``
  writes it as PNG, or SVG for a ``.svg`` name).
* ``calibration adopt PROPOSAL [--note]`` — put a proposal in force as the next version.
* ``calibration revert [--to VERSION] [--note]`` — back to the version before (or VERSION; 0 is
  the default), appended as a new version.

All are admin actions (the config permission), audited; ``--database URL`` as the record
commands. Equations and the rule: docs/calibration.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan.cli.records import DatabaseOpt, open_records

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.storage import Database

app = typer.Typer(
    name="calibration",
    help="The clinic's own calibration: fit from its records, review, adopt, revert.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)


def _who(db: Database) -> tuple[User | None, str]:
    from needleplan.cli.actor import resolve_actor

    actor = resolve_actor(db)
    return actor.user, actor.username


def _estimates_table(fit: dict[str, Any]) -> Table:
    table = Table(title="estimates (the clinic's own against the default)", title_justify="left")
    for col in ("value", "default", "clinic", "unit"):
        table.add_column(col)
    for e in fit.get("estimates", []):
        table.add_row(escape(e["label"]), f"{e['default']:.3g}", f"{e['value']:.3g}", e["unit"])
    return table


def _print_fit(fit: dict[str, Any]) -> None:
    console.print(_estimates_table(fit))
    console.print(
        f"log-likelihood {fit['log_likelihood']:.1f} (default {fit['log_likelihood_default']:.1f}), "
        f"likelihood ratio {fit['likelihood_ratio']:.1f} on {fit['degrees_of_freedom']} values; "
        f"{fit['measurements']} measurements; "
        f"{'converged' if fit['converged'] else 'NOT converged'}"
    )
    console.print(
        "[dim]The spreads (log sd) are weakly determined unless many patients are followed "
        "for a year or more; the means and offsets are the firmer estimates.[/]"
    )
    if fit.get("fixed_scales"):
        console.print(
            "offsets kept at the default (too few patients): " + ", ".join(fit["fixed_scales"])
        )


@app.command("fit")
def fit_cmd(
    note: str = typer.Option("", "--note", help="Why (one line, at most 200 characters)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """Fit the clinic's calibration from its records and store it as a proposal to review."""
    from needleplan.services.calibrations import fit_calibration

    with open_records(database) as db:
        user, name = _who(db)
        out = fit_calibration(db, user, note=note, username=name)
    if as_json:
        typer.echo(json.dumps(out.to_json()))
        return
    console.print(escape(out.sufficiency.message()))
    if out.proposal is None:
        return
    _print_fit(out.proposal.fit)
    console.print(
        f"stored as proposal {out.proposal.id}; review it with `needleplan calibration show "
        f"--proposal {out.proposal.id} --chart check.png`, then `needleplan calibration adopt "
        f"{out.proposal.id}`"
    )


@app.command("show")
def show_cmd(
    proposal: int | None = typer.Option(
        None, "--proposal", help="Show this proposal instead of the calibration in force."
    ),
    chart: Path | None = typer.Option(
        None, "--chart", help="Write the predictive-check chart here (.png or .svg)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print it as JSON."),
    database: str | None = DatabaseOpt,
) -> None:
    """The calibration in force (or a proposal), its estimates and the predictive check."""
    from needleplan.exceptions import InputError
    from needleplan.services import calibrations as cal

    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        raise InputError.one("--chart", str(chart), "must end in .png or .svg")
    with open_records(database) as db:
        user, name = _who(db)
        from needleplan.services.audit import audited

        with audited(db, user, "calibration.read", username=name, detail="cli show"):
            force = cal.calibration_in_force(db)
            shown = cal.get_proposal(db, proposal) if proposal is not None else None
            newest = cal.newest_proposal(db)
            enough = cal.clinic_data(db).sufficiency
        checks: list[Any] = []
        title = ""
        if chart is not None or as_json:
            title, checks = cal.predictive_check_of(db, user, proposal_id=proposal, username=name)
    if chart is not None:
        from needleplan.reports.calibration_chart import predictive_check_chart

        chart.write_bytes(
            predictive_check_chart(checks, title=title, fmt=chart.suffix.lower().lstrip("."))
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "in_force": force.to_json(),
                    "proposal": shown.to_json() if shown else None,
                    "newest_proposal": newest.id if newest else None,
                    "sufficiency": enough.to_json(),
                    "predictive_check": [c.to_json() for c in checks],
                }
            )
        )
        return
    console.print(f"in force: {escape(force.label)}")
    if force.adopted_by:
        console.print(f"adopted by {escape(force.adopted_by)} from proposal {force.proposal_id}")
    console.print(escape(enough.message()))
    if shown is not None:
        console.print(f"proposal {shown.id}, fitted {shown.created_at:%Y-%m-%d %H:%M} UTC")
        _print_fit(shown.fit)
    elif newest is not None:
        console.print(
            f"newest proposal: {newest.id} (fitted {newest.created_at:%Y-%m-%d}); "
            f"`--proposal {newest.id}` shows it"
        )
    if chart is not None:
        console.print(f"predictive-check chart written to {escape(str(chart))}")


@app.command("adopt")
def adopt_cmd(
    proposal: int = typer.Argument(..., help="The proposal number (from `calibration fit`)."),
    note: str = typer.Option("", "--note", help="Why (one line, at most 200 characters)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Put a proposal in force as the next version: every forecast uses and names it."""
    from needleplan.services.calibrations import adopt_calibration

    with open_records(database) as db:
        user, name = _who(db)
        force = adopt_calibration(db, proposal, user, note=note, username=name)
    console.print(f"in force: {escape(force.label)}")


@app.command("revert")
def revert_cmd(
    to: int | None = typer.Option(
        None, "--to", help="The version to put back (0: the default; default: the one before)."
    ),
    note: str = typer.Option("", "--note", help="Why (one line, at most 200 characters)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Put the previous version (or --to VERSION, 0 for the default) back in force."""
    from needleplan.services.calibrations import revert_calibration

    with open_records(database) as db:
        user, name = _who(db)
        force = revert_calibration(db, user, to_version=to, note=note, username=name)
    console.print(f"in force: {escape(force.label)}")

"""``needleplan plan``: how many sessions, how far apart, how often upkeep, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan import DISCLAIMER
from needleplan.cli import common as c
from needleplan.cli.exit_codes import EXIT_BLOCKED

if TYPE_CHECKING:
    from needleplan.domain.protocol import Protocol


def render_protocol(protocol: Protocol, console: Console) -> None:
    """Print a protocol as Rich tables: the recommendation, then the reasons."""
    head = Table(title="Recommended protocol", show_header=False, title_justify="left")
    head.add_column("what", style="bold")
    head.add_column("value")
    if protocol.blocked:
        head.add_row("status", "[bold red]BLOCKED[/] - do not treat until resolved")
    head.add_row(
        "initial sessions",
        f"{protocol.initial_sessions} (range {protocol.session_range.min}-{protocol.session_range.max})",
    )
    head.add_row(
        "interval",
        f"{protocol.interval_days.min}-{protocol.interval_days.max} days "
        f"(aim for {protocol.recommended_interval_days})",
    )
    head.add_row(
        "maintenance",
        f"every {protocol.maintenance_interval_months.min}-{protocol.maintenance_interval_months.max} months",
    )
    head.add_row("difficult case", "yes" if protocol.difficult_case else "no")
    head.add_row("guideline", escape(protocol.guideline_version))
    console.print(head)

    why = Table(title="Why", title_justify="left")
    why.add_column("factor", style="bold")
    why.add_column("effect")
    for item in protocol.rationale:
        why.add_row(escape(item.factor), escape(item.effect))
    console.print(why)

    areas = Table(title="Areas", title_justify="left")
    areas.add_column("area", style="bold")
    areas.add_column("needle depth [mm]")
    areas.add_column("note")
    for note in protocol.area_notes:
        areas.add_row(
            note.area.value,
            f"{note.needle_depth_mm.min:g}-{note.needle_depth_mm.max:g}",
            escape(note.note),
        )
    console.print(areas)
    for reason in protocol.block_reasons:
        console.print(f"[bold red]blocked:[/] {escape(reason)}")
    for warning in protocol.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(f"[dim]{DISCLAIMER}[/]")


#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


@app.command("plan")
def plan(
    source: Path | None = c.FromOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the protocol as JSON."),
    guideline: Path | None = typer.Option(
        None,
        "--guideline",
        help="A clinic's guideline TOML file (default: the shipped one).",
        show_default=False,
    ),
    age: int | None = c.AgeOpt,
    severity: str | None = c.SeverityOpt,
    area: list[str] | None = c.AreaOpt,
    goal: str | None = c.GoalOpt,
    concern: list[str] | None = c.ConcernOpt,
    condition: list[str] | None = c.ConditionOpt,
    genetics: list[str] | None = c.GeneticsOpt,
    repair_capacity: str | None = c.RepairOpt,
    smoking: str | None = c.SmokingOpt,
    sun_exposure: str | None = c.SunOpt,
    spf_habit: bool | None = c.SpfOpt,
    sun_damage_history: bool | None = c.SunDamageOpt,
    diet: str | None = c.DietOpt,
    aftercare: str | None = c.AftercareOpt,
    contraindication: list[str] | None = c.ContraOpt,
    fitzpatrick_type: int | None = c.FitzOpt,
    glogau_class: int | None = c.GlogauOpt,
    sex: str | None = c.SexOpt,
    menopause: str | None = c.MenopauseOpt,
) -> None:
    """Recommend initial sessions, spacing and maintenance, with the reasons.

    The assessment comes from --from FILE (JSON), from the flags, or both (flags win).
    Exit codes: 0 plan made, 2 bad input, 3 blocked by a contraindication.
    """
    flags = c.AssessmentFlags(
        age=age,
        severity=severity,
        area=area,
        goal=goal,
        concern=concern,
        condition=condition,
        genetics=genetics,
        repair_capacity=repair_capacity,
        smoking=smoking,
        sun_exposure=sun_exposure,
        spf_habit=spf_habit,
        sun_damage_history=sun_damage_history,
        diet=diet,
        aftercare=aftercare,
        contraindication=contraindication,
        fitzpatrick_type=fitzpatrick_type,
        glogau_class=glogau_class,
        sex=sex,
        menopause=menopause,
    )
    from needleplan.guideline import load_guideline, make_protocol

    assessment = c.build_assessment(source, flags)
    rules = load_guideline(guideline) if guideline is not None else None
    protocol = make_protocol(assessment, rules)
    if as_json:
        typer.echo(json.dumps(protocol.to_public_json(), indent=2))
    else:
        render_protocol(protocol, Console(highlight=False))
    if protocol.blocked:
        raise typer.Exit(EXIT_BLOCKED)

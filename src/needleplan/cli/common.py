"""Options and helpers shared by the CLI commands that take an assessment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.domain.assessment import Assessment


def read_json_file(path: Path, *, field: str = "--from") -> Any:
    """Read a JSON file, raising InputError (naming the option) when it cannot be used."""
    try:
        text = (
            path.read_text(encoding="utf-8")
            if str(path) != "-"
            else typer.get_text_stream("stdin").read()
        )
    except FileNotFoundError:
        raise InputError.one(field, str(path), "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one(
            field, str(path), f"cannot be read ({exc.__class__.__name__})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError.one(
            field,
            str(path),
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
        ) from None


@dataclass
class AssessmentFlags:
    """Assessment fields given as command-line flags (each overrides the file's value)."""

    age: int | None = None
    severity: str | None = None
    area: list[str] | None = None
    goal: str | None = None
    concern: list[str] | None = None
    condition: list[str] | None = None
    genetics: list[str] | None = None
    repair_capacity: str | None = None
    smoking: str | None = None
    sun_exposure: str | None = None
    spf_habit: bool | None = None
    sun_damage_history: bool | None = None
    diet: str | None = None
    aftercare: str | None = None
    contraindication: list[str] | None = None
    fitzpatrick_type: int | None = None
    glogau_class: int | None = None
    sex: str | None = None
    menopause: str | None = None

    def overrides(self) -> dict[str, Any]:
        renamed = {
            "area": "areas",
            "concern": "concerns",
            "condition": "conditions",
            "contraindication": "contraindications",
        }
        out: dict[str, Any] = {}
        for key, value in vars(self).items():
            if value is None or (isinstance(value, list) and not value):
                continue
            out[renamed.get(key, key)] = value
        return out


def build_assessment(source: Path | None, flags: AssessmentFlags) -> Assessment:
    """Merge ``--from FILE`` (if any) with the flags and validate the result."""
    from needleplan.domain.assessment import parse_assessment

    data: dict[str, Any] = {}
    if source is not None:
        loaded = read_json_file(source)
        if not isinstance(loaded, dict):
            raise InputError.one("--from", str(source), "must hold a JSON object (the assessment)")
        data.update(loaded)
    data.update(flags.overrides())
    if not data:
        raise InputError.one(
            "assessment",
            "(none)",
            "give --from FILE or the assessment flags (at least --age, --severity, --area)",
        )
    return parse_assessment(data)


# Typer option declarations, reused by every command that takes an assessment.
FromOpt = typer.Option(
    None,
    "--from",
    "-f",
    help="Assessment JSON file ('-' reads standard input).",
    show_default=False,
)
AgeOpt = typer.Option(None, "--age", help="Age [years], 18-90.", show_default=False)
SeverityOpt = typer.Option(
    None, "--severity", help="mild | moderate | advanced | severe.", show_default=False
)
AreaOpt = typer.Option(
    None,
    "--area",
    help=(
        "Treated area, repeatable: under_eyes forehead cheeks perioral full_face neck chest "
        "hands arms abdomen thighs knees back."
    ),
    show_default=False,
)
GoalOpt = typer.Option(
    None, "--goal", help="preventive | subtle | noticeable | maximal.", show_default=False
)
ConcernOpt = typer.Option(
    None,
    "--concern",
    help="Repeatable: deep_wrinkles enlarged_pores loose_neck_skin.",
    show_default=False,
)
ConditionOpt = typer.Option(
    None, "--condition", help="Repeatable: diabetes autoimmune.", show_default=False
)
GeneticsOpt = typer.Option(
    None, "--genetics", help="Repeatable: accelerated_aging slow_healing.", show_default=False
)
RepairOpt = typer.Option(
    None, "--repair-capacity", help="reduced | normal | good.", show_default=False
)
SmokingOpt = typer.Option(None, "--smoking", help="never | former | current.", show_default=False)
SunOpt = typer.Option(None, "--sun-exposure", help="low | moderate | high.", show_default=False)
SpfOpt = typer.Option(None, "--spf/--no-spf", help="Daily sunscreen habit.", show_default=False)
SunDamageOpt = typer.Option(
    None, "--sun-damage/--no-sun-damage", help="History of sun damage.", show_default=False
)
DietOpt = typer.Option(None, "--diet", help="poor | average | good.", show_default=False)
AftercareOpt = typer.Option(None, "--aftercare", help="good | fair | poor.", show_default=False)
ContraOpt = typer.Option(
    None,
    "--contraindication",
    help=(
        "Repeatable: active_infection active_acne isotretinoin_recent pregnancy keloid_tendency "
        "anticoagulants uncontrolled_diabetes recent_radiation."
    ),
    show_default=False,
)
FitzOpt = typer.Option(None, "--fitzpatrick", help="Fitzpatrick skin type 1-6.", show_default=False)
SexOpt = typer.Option(
    None, "--sex", help="female | male (optional; needed only for --menopause).", show_default=False
)
MenopauseOpt = typer.Option(
    None,
    "--menopause",
    help="none | recent (within 5 years) | past (longer ago); weak evidence (A5).",
    show_default=False,
)
GlogauOpt = typer.Option(
    None,
    "--glogau",
    help="Glogau class 1-4 (implies severity when --severity is absent).",
    show_default=False,
)

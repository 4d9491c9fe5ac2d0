"""A synthetic clinic population described in a small TOML file, validated on load.

The file gives the share of patients at each level of each factor; a patient is drawn factor by
factor, independently (age from its distribution, severity from its shares, and so on). Every
factor not given keeps the reference patient's value (age 50, moderate, full face, never smoked,
moderate sun with SPF, average diet, good aftercare, goal "noticeable"). The bundled example is
``example_population.toml`` (``needleplan cohort example-spec`` prints it); the format is in
``docs/cohort.md``.

Bad files raise :class:`~needleplan.exceptions.InputError` naming the key, the value and the rule.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from needleplan.domain.assessment import (
    FACE_SUBAREAS,
    MAX_AGE,
    MIN_AGE,
    Aftercare,
    Area,
    Diet,
    Goal,
    Menopause,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
    problems_from_validation,
)
from needleplan.exceptions import FieldProblem, InputError

EXAMPLE_SPEC = "example_population.toml"
#: Shares in a table must add up to 1 within this tolerance.
SHARE_TOLERANCE = 1e-6
MAX_PATIENTS = 10_000_000


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number (a share within 0-1)")
    return value


#: The share of patients at a level or with a trait [-].
Share = Annotated[float, BeforeValidator(_number), Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _sums_to_one(table: Mapping[Any, float]) -> None:
    if not table:
        raise ValueError("needs at least one level with its share")
    total = sum(table.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares must add up to 1 (they add up to {total:g})")


def parse_area_set(key: str) -> list[Area]:
    """``"full_face+neck"`` -> ``[Area.FULL_FACE, Area.NECK]`` (validated like an assessment)."""
    names = [part.strip() for part in key.split("+")]
    allowed = {a.value for a in Area}
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ValueError(
            f"area {bad[0]!r} is not one of: {', '.join(a.value for a in Area)} "
            "(join several with '+')"
        )
    areas = [Area(n) for n in names]
    if len(set(areas)) != len(areas):
        raise ValueError(f"area set {key!r} lists an area twice")
    if Area.FULL_FACE in areas and any(a in FACE_SUBAREAS for a in areas):
        raise ValueError(f"area set {key!r}: full_face already includes the separate face areas")
    return areas


class AgeSpec(BaseModel):
    """Age at the first session [years]: uniform on min-max, or normal truncated to min-max."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    distribution: Literal["uniform", "normal"] = "uniform"
    min: int = Field(default=50, ge=MIN_AGE, le=MAX_AGE, description="youngest [years]")
    max: int = Field(default=50, ge=MIN_AGE, le=MAX_AGE, description="oldest [years]")
    mean: float | None = Field(default=None, description="normal only: mean [years]")
    sd: float | None = Field(default=None, gt=0, le=50, description="normal only: sd [years]")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        if self.distribution == "normal":
            if self.mean is None or self.sd is None:
                raise ValueError("a normal age distribution needs mean and sd")
            if not self.min <= self.mean <= self.max:
                raise ValueError(f"mean ({self.mean:g}) must lie within min-max")
        elif self.mean is not None or self.sd is not None:
            raise ValueError("mean and sd only apply to distribution = 'normal'")
        return self


class PopulationSpec(BaseModel):
    """Shares of each factor level in a synthetic population (see ``docs/cohort.md``).

    Share tables (``severity``, ``areas``, ``goal``, ``smoking``, ``sun_exposure``, ``diet``,
    ``aftercare``, ``repair_capacity``, ``menopause``) map each level to its share; the shares
    add up to 1. Menopause is drawn for every patient and set to ``none`` below
    ``menopause_from_age``, so its shares are those among the patients of that age or older.
    Single shares (``diabetes``, ``autoimmune``, ``spf_habit``, ``sun_damage_history``,
    ``accelerated_aging``, ``slow_healing``) are the share of patients with that trait.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="synthetic population", min_length=1, max_length=200)
    patients: int = Field(default=1000, ge=1, le=MAX_PATIENTS, description="default size")
    age: AgeSpec = Field(default_factory=AgeSpec)
    severity: dict[Severity, Share] = Field(default_factory=lambda: {Severity.MODERATE: 1.0})
    areas: dict[str, Share] = Field(default_factory=lambda: {"full_face": 1.0})
    goal: dict[Goal, Share] = Field(default_factory=lambda: {Goal.NOTICEABLE: 1.0})
    smoking: dict[Smoking, Share] = Field(default_factory=lambda: {Smoking.NEVER: 1.0})
    sun_exposure: dict[SunExposure, Share] = Field(
        default_factory=lambda: {SunExposure.MODERATE: 1.0}
    )
    diet: dict[Diet, Share] = Field(default_factory=lambda: {Diet.AVERAGE: 1.0})
    aftercare: dict[Aftercare, Share] = Field(default_factory=lambda: {Aftercare.GOOD: 1.0})
    repair_capacity: dict[RepairCapacity, Share] = Field(
        default_factory=lambda: {RepairCapacity.NORMAL: 1.0}
    )
    menopause: dict[Menopause, Share] = Field(default_factory=lambda: {Menopause.NONE: 1.0})
    menopause_from_age: int = Field(
        default=45,
        ge=MIN_AGE,
        le=MAX_AGE,
        description="patients younger than this are drawn menopause none [years]",
    )
    diabetes: Share = 0.0
    autoimmune: Share = 0.0
    spf_habit: Share = 1.0
    sun_damage_history: Share = 0.0
    accelerated_aging: Share = 0.0
    slow_healing: Share = 0.0

    @field_validator(
        "severity",
        "goal",
        "smoking",
        "sun_exposure",
        "diet",
        "aftercare",
        "repair_capacity",
        "areas",
        "menopause",
    )
    @classmethod
    def _table(cls, value: dict[Any, float]) -> dict[Any, float]:
        _sums_to_one(value)
        return value

    @field_validator("areas")
    @classmethod
    def _area_sets(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            parse_area_set(key)
        return value


def parse_population_spec(data: Any, *, source: str = "population spec") -> PopulationSpec:
    """Validate a mapping (parsed TOML) into a :class:`PopulationSpec`.

    Raises
    ------
    InputError
        naming the source, each failing key (dotted path), its value and the rule.
    """
    if isinstance(data, PopulationSpec):
        return data
    if not isinstance(data, dict):
        raise InputError.one("spec", type(data).__name__, "must be a table", source=source)
    try:
        return PopulationSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for p in problems_from_validation(exc, fallback="spec"):
            if p.value == "{...}" and p.field in data:
                # A rule on a whole table (shares adding up, min <= max) shows that table.
                p = FieldProblem(p.field, data[p.field], p.rule)
            elif p.field.endswith(".[key]"):  # an unknown level of a share table
                p = FieldProblem(
                    p.field.removesuffix(".[key]"), p.value, f"unknown level: {p.rule}"
                )
            problems.append(p)
        raise InputError(problems, source=source) from None


def example_spec_text() -> str:
    """The bundled example population spec (TOML text, with comments)."""
    return resources.files("needleplan.cohort").joinpath(EXAMPLE_SPEC).read_text("utf-8")


def load_population_spec(path: str | Path | None = None) -> PopulationSpec:
    """Load a population spec TOML file; ``None`` loads the bundled example.

    Raises
    ------
    InputError
        when the file is missing, is not TOML, or breaks a rule (file, key, value, rule).
    """
    if path is None:
        text, source = example_spec_text(), f"<bundled {EXAMPLE_SPEC}>"
    else:
        file = Path(path)
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError.one("--population", str(file), "file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.one(
                "--population", str(file), f"cannot be read ({exc.__class__.__name__})"
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError.one("toml", source, f"is not valid TOML ({exc})", source=source) from None
    return parse_population_spec(data, source=source)

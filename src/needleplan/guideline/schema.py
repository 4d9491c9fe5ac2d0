"""The guideline file's schema: pydantic models validated on load.

A guideline is a TOML file (see ``default.toml`` and ``docs/guideline.md``). Loading a file that
breaks the schema raises :class:`~needleplan.exceptions.GuidelineError` naming the file, the key
and the rule.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from needleplan.domain.assessment import (
    Aftercare,
    Area,
    Concern,
    Condition,
    Contraindication,
    Diet,
    Genetic,
    Goal,
    Menopause,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
    problems_from_validation,
)
from needleplan.exceptions import FieldProblem, GuidelineError

SCHEMA_VERSION = 1


class FactorId(StrEnum):
    """Every raising factor the engine can recognise in an assessment."""

    DEEP_WRINKLES = "concern:deep_wrinkles"
    ENLARGED_PORES = "concern:enlarged_pores"
    LOOSE_NECK_SKIN = "concern:loose_neck_skin"
    DIABETES = "condition:diabetes"
    AUTOIMMUNE = "condition:autoimmune"
    ACCELERATED_AGING = "genetics:accelerated_aging"
    SLOW_HEALING = "genetics:slow_healing"
    REDUCED_REPAIR = "repair_capacity:reduced"
    SUN_DAMAGE = "sun_damage_history"
    SMOKING_CURRENT = "smoking:current"
    SMOKING_FORMER = "smoking:former"
    SUN_HIGH = "sun_exposure:high"
    NO_SPF = "spf:none"
    DIET_POOR = "diet:poor"
    AFTERCARE_FAIR = "aftercare:fair"
    AFTERCARE_POOR = "aftercare:poor"
    MENOPAUSE_RECENT = "menopause:recent"
    MENOPAUSE_PAST = "menopause:past"


# What each factor id means, as (assessment attribute, value that makes it present).
FACTOR_MEANING: dict[FactorId, tuple[str, object]] = {
    FactorId.DEEP_WRINKLES: ("concerns", Concern.DEEP_WRINKLES),
    FactorId.ENLARGED_PORES: ("concerns", Concern.ENLARGED_PORES),
    FactorId.LOOSE_NECK_SKIN: ("concerns", Concern.LOOSE_NECK_SKIN),
    FactorId.DIABETES: ("conditions", Condition.DIABETES),
    FactorId.AUTOIMMUNE: ("conditions", Condition.AUTOIMMUNE),
    FactorId.ACCELERATED_AGING: ("genetics", Genetic.ACCELERATED_AGING),
    FactorId.SLOW_HEALING: ("genetics", Genetic.SLOW_HEALING),
    FactorId.REDUCED_REPAIR: ("repair_capacity", RepairCapacity.REDUCED),
    FactorId.SUN_DAMAGE: ("sun_damage_history", True),
    FactorId.SMOKING_CURRENT: ("smoking", Smoking.CURRENT),
    FactorId.SMOKING_FORMER: ("smoking", Smoking.FORMER),
    FactorId.SUN_HIGH: ("sun_exposure", SunExposure.HIGH),
    FactorId.NO_SPF: ("spf_habit", False),
    FactorId.DIET_POOR: ("diet", Diet.POOR),
    FactorId.AFTERCARE_FAIR: ("aftercare", Aftercare.FAIR),
    FactorId.AFTERCARE_POOR: ("aftercare", Aftercare.POOR),
    FactorId.MENOPAUSE_RECENT: ("menopause", Menopause.RECENT),
    FactorId.MENOPAUSE_PAST: ("menopause", Menopause.PAST),
}

NonNegative = Annotated[float, Field(ge=0.0, le=10.0)]
Weight = Annotated[float, Field(ge=-5.0, le=10.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Strict):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class DepthRange(_Strict):
    min: float = Field(gt=0.0, le=3.0)
    max: float = Field(gt=0.0, le=3.0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Tier(_Strict):
    sessions: Bounds
    interval_days: Bounds

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if not 1 <= self.sessions.min <= self.sessions.max <= 20:
            raise ValueError("sessions must lie within 1..20")
        if not 7 <= self.interval_days.min <= self.interval_days.max <= 90:
            raise ValueError("interval_days must lie within 7..90 (healing needs at least a week)")
        return self


class DifficultTier(Tier):
    raising_points_at_least: NonNegative


class Maintenance(_Strict):
    standard_months: Bounds
    high_risk_months: Bounds
    high_risk_points_at_least: NonNegative

    @model_validator(mode="after")
    def _sane(self) -> Self:
        for name in ("standard_months", "high_risk_months"):
            b: Bounds = getattr(self, name)
            if not 1 <= b.min <= b.max <= 36:
                raise ValueError(f"{name} must lie within 1..36 months")
        if self.high_risk_months.max > self.standard_months.max:
            raise ValueError("high_risk_months.max must not exceed standard_months.max")
        return self


class AreaRule(_Strict):
    weight: Weight
    needle_depth_mm: DepthRange
    note: str = Field(min_length=1)


class AreaLoad(_Strict):
    per_extra_area: NonNegative
    extra_max: NonNegative


class FactorRule(_Strict):
    sessions: NonNegative
    retention_risk: NonNegative
    reason: str = Field(min_length=1)


class ContraindicationRule(_Strict):
    kind: Literal["absolute", "relative"]
    reason: str = Field(min_length=1)


class SkinType(_Strict):
    pigmentation_warning_from: int = Field(ge=1, le=7)
    pigmentation_warning: str


class Milestones(_Strict):
    text: list[str]


class Guideline(_Strict):
    """A validated guideline. Build it with :func:`load_guideline`."""

    schema_: int = Field(alias="schema")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1, max_length=64)
    standard: Tier
    difficult: DifficultTier
    maintenance: Maintenance
    severity: dict[Severity, Weight]
    goal: dict[Goal, Weight]
    area_load: AreaLoad
    areas: dict[Area, AreaRule]
    factors: dict[FactorId, FactorRule]
    contraindications: dict[Contraindication, ContraindicationRule]
    skin_type: SkinType
    milestones: Milestones

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.schema_ != SCHEMA_VERSION:
            raise ValueError(f"schema {self.schema_} is not supported (expected {SCHEMA_VERSION})")
        for name, enum in (
            ("severity", Severity),
            ("goal", Goal),
            ("areas", Area),
            ("contraindications", Contraindication),
        ):
            missing = [m.value for m in enum if m not in getattr(self, name)]
            if missing:
                raise ValueError(f"{name} must cover every value; missing {', '.join(missing)}")
        ranks = [self.severity[s] for s in Severity]
        if ranks != sorted(ranks):
            raise ValueError("severity weights must not decrease from mild to severe")
        if self.difficult.sessions.min <= self.standard.sessions.max:
            raise ValueError("difficult.sessions.min must exceed standard.sessions.max")
        return self

    @property
    def session_bounds(self) -> Bounds:
        """The widest session counts the guideline can recommend."""
        return Bounds(min=self.standard.sessions.min, max=self.difficult.sessions.max)

    @property
    def interval_bounds(self) -> Bounds:
        """The widest interval window [days] the guideline can recommend."""
        lo = min(self.standard.interval_days.min, self.difficult.interval_days.min)
        hi = max(self.standard.interval_days.max, self.difficult.interval_days.max)
        return Bounds(min=lo, max=hi)

    @property
    def maintenance_bounds(self) -> Bounds:
        """The widest maintenance window [months] the guideline can recommend."""
        m = self.maintenance
        lo = min(m.standard_months.min, m.high_risk_months.min)
        hi = max(m.standard_months.max, m.high_risk_months.max)
        return Bounds(min=lo, max=hi)


DEFAULT_GUIDELINE = "default.toml"


def _read(path: Path | None) -> tuple[str, str]:
    if path is None:
        text = resources.files("needleplan.guideline").joinpath(DEFAULT_GUIDELINE).read_text()
        return text, f"<needleplan>/{DEFAULT_GUIDELINE}"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise GuidelineError.one("guideline", str(path), "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GuidelineError.one("guideline", str(path), f"cannot be read ({exc})") from None


def load_guideline(path: str | Path | None = None) -> Guideline:
    """Load and validate a guideline file; ``None`` loads the shipped default.

    Raises
    ------
    GuidelineError
        naming the file, the key and the rule.
    """
    text, source = _read(Path(path) if path is not None else None)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GuidelineError(
            FieldProblem("toml", "", f"not valid TOML: {exc}"), source=source
        ) from None
    try:
        return Guideline.model_validate(data)
    except ValidationError as exc:
        raise GuidelineError(
            problems_from_validation(exc, fallback="guideline"), source=source
        ) from None

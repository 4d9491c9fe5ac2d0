"""The protocol a guideline recommends for an assessment."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from needleplan.domain.assessment import Area
from needleplan.domain.disclaimer import DISCLAIMER


class IntRange(BaseModel):
    """A closed integer range ``[min, max]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.min <= value <= self.max

    @property
    def mid(self) -> float:
        return (self.min + self.max) / 2


class FloatRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class RationaleItem(BaseModel):
    """One factor and how much it moved the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: str
    effect: str
    sessions_delta: float = 0.0
    interval_shift_days: int = 0
    maintenance_shift_months: int = 0


class AreaNote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    area: Area
    needle_depth_mm: FloatRange
    note: str
    source: str


class Protocol(BaseModel):
    """Initial sessions, spacing, maintenance and the reasons behind them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_sessions: int = Field(ge=0)
    session_range: IntRange
    interval_days: IntRange
    maintenance_interval_months: IntRange
    difficult_case: bool
    blocked: bool
    block_reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    rationale: list[RationaleItem] = Field(default_factory=list)
    areas: list[Area]
    area_notes: list[AreaNote] = Field(default_factory=list)
    milestones: list[str] = Field(default_factory=list)
    guideline_version: str

    @property
    def recommended_interval_days(self) -> int:
        """The middle of the interval window, rounded to whole days."""
        return round(self.interval_days.mid)

    def to_public_json(self) -> dict[str, object]:
        """The JSON shape every interface prints for a plan (``plan --json``, the API)."""
        return {
            "initial_sessions": self.initial_sessions,
            "session_range": self.session_range.model_dump(),
            "interval_days": self.interval_days.model_dump(),
            "recommended_interval_days": self.recommended_interval_days,
            "maintenance_interval_months": self.maintenance_interval_months.model_dump(),
            "difficult_case": self.difficult_case,
            "blocked": self.blocked,
            "block_reasons": list(self.block_reasons),
            "rationale": [r.model_dump() for r in self.rationale],
            "warnings": list(self.warnings),
            "areas": [a.value for a in self.areas],
            "area_notes": [n.model_dump(mode="json") for n in self.area_notes],
            "milestones": list(self.milestones),
            "guideline_version": self.guideline_version,
            "disclaimer": DISCLAIMER,
        }

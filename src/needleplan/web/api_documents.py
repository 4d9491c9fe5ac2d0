"""The JSON documents the stateless API answers with, as schemas for the OpenAPI document.

The routes build their answers directly (``Protocol.to_public_json``, ``ForecastResult`` and
``Comparison`` serialised with orjson, numpy arrays without a Python float per point), so these
models are never instantiated on the hot path: they state the shape for integrators, and the
Schemathesis conformance test checks every answer against them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntRangeDoc(_Doc):
    min: int
    max: int


class FloatRangeDoc(_Doc):
    min: float
    max: float


class RationaleDoc(_Doc):
    factor: str
    effect: str
    sessions_delta: float
    interval_shift_days: int
    maintenance_shift_months: int


class AreaNoteDoc(_Doc):
    area: str
    needle_depth_mm: FloatRangeDoc
    note: str
    source: str


class PlanDocument(_Doc):
    """A plan (``needleplan plan --json``)."""

    initial_sessions: int
    session_range: IntRangeDoc
    interval_days: IntRangeDoc
    recommended_interval_days: int
    maintenance_interval_months: IntRangeDoc
    difficult_case: bool
    blocked: bool
    block_reasons: list[str]
    rationale: list[RationaleDoc]
    warnings: list[str]
    areas: list[str]
    area_notes: list[AreaNoteDoc]
    milestones: list[str]
    guideline_version: str
    disclaimer: str


class BandDoc(_Doc):
    median: float
    p10: float
    p90: float
    p10_censored: bool
    p90_censored: bool
    censored_at_horizon: bool | None = None


class MilestonesDoc(_Doc):
    peak_day: int
    peak_improvement: float
    noticeable_months_after_last_initial: BandDoc
    back_to_baseline_day: int | None
    last_initial_day: int
    noticeable_years_total: float
    noticeable_months_population_median: float


class CurveDoc(_Doc):
    day: list[int]
    median: list[float]
    p10: list[float]
    p90: list[float]
    untreated: list[float] | None = Field(
        default=None, description="her skin without treatment (only with untreated: true)"
    )


class ForecastDocument(_Doc):
    """A forecast (``needleplan forecast --json``): improvement in % of pre-treatment firmness."""

    session_days: list[float]
    initial_sessions: int
    noticeable_threshold: float
    years: float
    draws: int
    seed: int
    factors: list[str]
    calibration: str = Field(description='"default" or the clinic calibration in force')
    milestones: MilestonesDoc
    curve: CurveDoc


class PricesDoc(_Doc):
    initial_session: float
    maintenance_session: float
    currency: str


class ScenarioDoc(_Doc):
    key: str
    label: str
    session_days: list[float]
    initial_sessions: int
    maintenance_sessions: int
    cost: float
    noticeable_months_after_last_initial: BandDoc
    noticeable_censored: bool
    noticeable_years_total: float
    cost_per_noticeable_year: float | None
    peak_day: int
    peak_improvement: float
    back_to_baseline_day: int | None


class CheapestDoc(_Doc):
    initial_sessions: int
    interval_days: int
    maintenance_months: float | None = Field(description="none: the series alone is enough")
    sessions_total: int
    cost: float
    keep_noticeable_years: float
    candidates_checked: int


class PlanCostDoc(_Doc):
    session_days: list[float]
    initial_sessions: int
    maintenance_sessions: int
    cost: float
    noticeable_years: float
    cost_per_noticeable_year: float | None


class UpkeepVsLapseDoc(_Doc):
    maintenance_months: float
    years: float
    upkeep: PlanCostDoc
    lapse_and_repeat: PlanCostDoc
    saving: float


class ScenarioCurveDoc(_Doc):
    median: list[float]
    p10: list[float]
    p90: list[float]


class CompareDocument(_Doc):
    """The scenarios side by side (``needleplan compare --json``)."""

    years: float
    calibration: str = Field(description='"default" or the clinic calibration in force')
    currency: str
    prices: PricesDoc
    scenarios: list[ScenarioDoc]
    cheapest: CheapestDoc | None
    keep_noticeable_years: float
    upkeep_vs_lapse: UpkeepVsLapseDoc
    curves: dict[str, ScenarioCurveDoc] | None = Field(
        default=None, description="each scenario's curves (only with curves: true)"
    )
    day: list[int] | None = Field(default=None, description="the curves' days (with curves)")

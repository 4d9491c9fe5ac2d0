"""What a cohort simulation returns: one row per calendar month and a summary (pydantic)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Adherence(BaseModel):
    """How reliably patients follow their plan (assumptions; see ``docs/cohort.md``).

    Attributes
    ----------
    series : float
        Probability that a patient completes her initial series [-]. One who does not stops
        after 1 to n-1 sessions (uniformly) and is not recalled.
    maintenance : float
        Probability that she keeps each maintenance visit she is recalled for [-], independently
        per visit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    series: float = Field(default=0.8, ge=0.0, le=1.0, allow_inf_nan=False)
    maintenance: float = Field(default=0.6, ge=0.0, le=1.0, allow_inf_nan=False)


class CohortMonth(BaseModel):
    """One calendar month of the cohort (means over the replicates).

    ``noticeable_share`` is the share of the whole cohort whose improvement is at least the
    noticeable threshold on the 15th of the month (not yet started counts as not firmer); ``noticeable_share_p10``/``p90`` are
    the 10th and 90th percentiles of that share across replicates (``None`` with one replicate).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    month: str = Field(description="YYYY-MM")
    new_patients: float
    initial_sessions: float
    maintenance_sessions: float
    sessions: float
    revenue: float
    recalls_due: float
    noticeable_share: float
    noticeable_share_p10: float | None = None
    noticeable_share_p90: float | None = None


class Spread(BaseModel):
    """Mean over replicates and the 10th/90th percentiles across them (``None``: one run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float
    p10: float | None = None
    p90: float | None = None


class CohortSummary(BaseModel):
    """Totals over the horizon (the sums of the monthly rows) and per-patient figures.

    ``noticeable_months`` counts, for each patient, the months of the horizon in which she is
    noticeably firmer on the 15th: its median and 10th/90th percentiles over all simulated
    patients (all replicates pooled).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: int
    excluded: dict[str, int]
    completed_series_share: float
    initial_sessions: float
    maintenance_sessions: float
    sessions: Spread
    revenue: Spread
    recalls_due: float
    kept_recall_share: float | None
    noticeable_months_median: float
    noticeable_months_p10: float
    noticeable_months_p90: float


class CohortResult(BaseModel):
    """The ``needleplan cohort simulate --json`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    population: str
    start: date
    years: int
    seed: int
    chunk_size: int
    replicates: int
    spread_months: int
    adherence: Adherence
    currency: str
    prices: dict[str, Any]
    recall_threshold: float
    noticeable_threshold: float
    guideline_version: str
    months: list[CohortMonth]
    summary: CohortSummary
    disclaimer: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

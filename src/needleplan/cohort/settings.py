"""How to run a cohort: validated settings, the simulated months, what a run shares, and what
a chunk returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from needleplan.cohort.result import Adherence
from needleplan.domain.assessment import problems_from_validation
from needleplan.exceptions import InputError
from needleplan.forecasting.chain import MAX_YEARS
from needleplan.forecasting.params import ModelParams
from needleplan.guideline import Guideline
from needleplan.scheduling.clinic import DEFAULT_RECALL_THRESHOLD
from needleplan.scheduling.recall import add_months

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Chunks start at multiples of this many patients (see :mod:`needleplan.cohort.draws`).
SEED_BLOCK = 64
#: Patients per chunk by default: large enough that numpy's per-call cost is small, small
#: enough that a chunk's arrays stay far below 1 GiB.
DEFAULT_CHUNK_SIZE = 65_536
MAX_CHUNK_SIZE = 131_072
MAX_REPLICATES = 200


class CohortSettings(BaseModel):
    """How to run a cohort (validated; every rule names the field).

    Attributes
    ----------
    years : int
        Horizon from ``start`` [years], 1-15 (the model's validated horizon).
    start : date
        First day of the first simulated month (must be the 1st of a month).
    spread_months : int
        Patients start on a uniformly drawn day of the first ``spread_months`` months.
    adherence : Adherence
    seed : int
    chunk_size : int
        Patients per chunk (a multiple of 64); memory grows with it, results do not change.
    replicates : int
        Independent runs with fresh draws, for the Monte Carlo band.
    recall_threshold : float
        The clinic's recall threshold [% of pre-treatment firmness].
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: int = Field(default=5, ge=1, le=int(MAX_YEARS))
    start: date
    spread_months: int = Field(default=12, ge=1)
    adherence: Adherence = Field(default_factory=Adherence)
    seed: int = Field(default=0, ge=0)
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=SEED_BLOCK, le=MAX_CHUNK_SIZE)
    replicates: int = Field(default=1, ge=1, le=MAX_REPLICATES)
    recall_threshold: float = Field(default=DEFAULT_RECALL_THRESHOLD, gt=0, lt=100)

    @field_validator("start")
    @classmethod
    def _first_of_month(cls, value: date) -> date:
        if value.day != 1:
            raise ValueError("must be the first day of a month")
        return value

    @field_validator("chunk_size")
    @classmethod
    def _whole_blocks(cls, value: int) -> int:
        if value % SEED_BLOCK:
            raise ValueError(f"must be a multiple of {SEED_BLOCK} (the seed block)")
        return value

    @field_validator("spread_months")
    @classmethod
    def _spread_fits(cls, value: int, info: ValidationInfo) -> int:
        years = info.data.get("years")
        if isinstance(years, int) and value > 12 * years:
            raise ValueError(f"must not exceed the horizon ({12 * years} months)")
        return value


def make_settings(**values: Any) -> CohortSettings:
    """Validate settings, raising :class:`InputError` (field, value, rule) on bad values."""
    try:
        return CohortSettings.model_validate(values)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, fallback="settings")) from None


@dataclass(frozen=True)
class Calendar:
    """The simulated months: day offsets of each month's first day from ``start``."""

    start: date
    month_starts: IntArray  # shape (M + 1,): the last entry is the horizon [days]

    @classmethod
    def of(cls, start: date, years: int) -> Calendar:
        starts = [(add_months(start, m) - start).days for m in range(12 * years + 1)]
        return cls(start, np.asarray(starts, dtype=np.int64))

    @property
    def months(self) -> int:
        return int(self.month_starts.size - 1)

    @property
    def days(self) -> int:
        """Days in the horizon; cohort days run 0 .. days - 1."""
        return int(self.month_starts[-1])

    def labels(self) -> list[str]:
        return [add_months(self.start, m).strftime("%Y-%m") for m in range(self.months)]

    @property
    def checkpoints(self) -> FloatArray:
        """The 15th of each month [days from ``start``]."""
        return np.asarray(self.month_starts[:-1] + 14, dtype=np.float64)

    def month_of(self, day: NDArray[Any]) -> IntArray:
        """The month of each cohort day (-1 before the start, ``months`` from the horizon on):
        by a table over the days for whole days in range, else by ``searchsorted``."""
        d = np.asarray(day)
        if d.size and d.dtype.kind in "iu" and d.min() >= 0 and d.max() < self.days:
            return np.asarray(_month_table(self)[d], dtype=np.int64)
        return np.asarray(np.searchsorted(self.month_starts, d, side="right") - 1, np.int64)


_TABLES: dict[tuple[date, int], IntArray] = {}


def _month_table(cal: Calendar) -> IntArray:
    """Month index of every day of the horizon (one table per calendar)."""
    key = (cal.start, cal.months)
    table = _TABLES.get(key)
    if table is None:
        days = np.arange(cal.days)
        table = np.searchsorted(cal.month_starts, days, side="right").astype(np.int64) - 1
        if len(_TABLES) >= 16:
            _TABLES.clear()
        _TABLES[key] = table
    return table


@dataclass(frozen=True)
class RunSetup:
    """What every chunk of a run shares."""

    settings: CohortSettings
    params: ModelParams
    guideline: Guideline
    guideline_key: str
    calendar: Calendar
    rounds: int
    noticeable_threshold: float

    @property
    def spread_days(self) -> int:
        return int(self.calendar.month_starts[self.settings.spread_months])


@dataclass(frozen=True)
class ChunkResult:
    """A chunk's monthly counts and per-patient figures (merged by :func:`merge`)."""

    replicate: int
    index: int
    new_patients: IntArray
    initial: IntArray
    maintenance: IntArray
    recalls: IntArray
    noticeable: IntArray  # patients noticeably firmer on the 15th of each month
    noticeable_months: IntArray  # per patient: months she is noticeably firmer on the 15th
    completed: int

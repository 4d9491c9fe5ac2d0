"""Cohort simulation: many patients, their plans, their adherence, month by month.

The work is split into chunks of patients. One chunk is one call of :func:`simulate_chunk`,
a pure function of its :class:`ChunkTask`: numpy over the chunk's patients (loops run over
seed blocks, session slots and maintenance rounds, never over days or patients), so its memory
is bounded by the chunk size. The chunks run one after the other in this process, or as tasks on
a Dask cluster (the same function, ``client.map``); the results are merged in chunk order.

Randomness
----------
Patients are grouped in seed blocks of :data:`SEED_BLOCK` = 64 consecutive patients. Replicate
``r`` and block ``b`` draw from ``Generator(PCG64(SeedSequence(seed).spawn(R)[r].spawn(B)[b]))``,
in a fixed order: the block's synthetic patients (if any), then her response effect ``z``
(``u_R``), start day, series completion, dropout point, one uniform per maintenance round, and
last the independent normal ``e`` of her persistence effect ``u_P = rho u_R + sqrt(1-rho^2) e``. A chunk is a whole number of
blocks (the chunk size must be a multiple of 64), so

- the same seed gives the same result, serially or on Dask, with any number of workers or
  threads, in any completion order (each chunk is computed by the same code from the same
  inputs, and the merge is in chunk order);
- every patient gets the same draws whatever the chunk size, and each patient's figures are
  computed from her own draws only, so the result does not depend on the chunk size either
  (the tests check both);
- replicate 0 is the same run whatever the number of replicates;
- the draws do not depend on the adherence probabilities (a visit is kept when its uniform is
  below the probability), so raising adherence only adds sessions: the same seed with higher
  adherence never delivers fewer sessions.

The serial path never imports Dask.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
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

from needleplan import DISCLAIMER
from needleplan.cohort.model import improvement, patient_rates, session_doses, session_states
from needleplan.cohort.plan import initial_days, max_rounds, plan_courses
from needleplan.cohort.population import (
    AGEING,
    CAPACITY,
    FADE,
    HEAL,
    INTERVAL,
    N_INITIAL,
    RESPONSE,
    FixedPopulation,
    PatientTable,
    SpecTables,
    guideline_key,
    sample_patients,
)
from needleplan.cohort.result import (
    Adherence,
    CohortMonth,
    CohortResult,
    CohortSummary,
    Spread,
)
from needleplan.cohort.spec import MAX_PATIENTS, PopulationSpec
from needleplan.domain.assessment import problems_from_validation
from needleplan.exceptions import InputError
from needleplan.forecasting.chain import MAX_YEARS
from needleplan.forecasting.models import persistence_from
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.params import ModelParams, default_params
from needleplan.guideline import Guideline, load_guideline
from needleplan.scheduling.clinic import DEFAULT_RECALL_THRESHOLD
from needleplan.scheduling.recall import add_months

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SEED_BLOCK = 64
#: Rows evaluated together in the inner kernels: small enough for the CPU cache.
TILE = 256
DEFAULT_CHUNK_SIZE = 512
MAX_CHUNK_SIZE = 65_536
MAX_REPLICATES = 200

#: ``progress(done_chunks, total_chunks)``
Progress = Callable[[int, int], None]


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
        return np.asarray(np.searchsorted(self.month_starts, day, side="right") - 1, np.int64)


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
class ChunkTask:
    """One chunk: patients ``lo:hi`` of replicate ``replicate``, with one seed per block.

    ``source`` is the population spec (patients are drawn in the chunk) or the chunk's slice of
    a fixed population.
    """

    setup: RunSetup
    replicate: int
    index: int
    lo: int
    hi: int
    seeds: tuple[np.random.SeedSequence, ...]
    source: SpecTables | PatientTable


@dataclass(frozen=True)
class Draws:
    """Per-patient random draws of a chunk (see the module docstring for the order)."""

    z: FloatArray
    start: IntArray
    u_complete: FloatArray
    u_drop: FloatArray
    u_keep: FloatArray  # shape (n, rounds)
    e_persistence: FloatArray

    def persistence(self, params: ModelParams) -> FloatArray:
        """Her persistence effect ``u_P = rho z + sqrt(1 - rho^2) e``."""
        return persistence_from(self.z, self.e_persistence, params)


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


def draw_chunk(task: ChunkTask) -> tuple[PatientTable, Draws]:
    """The chunk's patients and their draws, block by block (same for any chunk size)."""
    setup = task.setup
    parts: list[PatientTable] = []
    draws: list[tuple[FloatArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray]] = []
    for b, seed in enumerate(task.seeds):
        size = min(SEED_BLOCK, task.hi - (task.lo + b * SEED_BLOCK))
        rng = np.random.Generator(np.random.PCG64(seed))
        if isinstance(task.source, SpecTables):
            parts.append(
                sample_patients(task.source, rng, size, setup.guideline, setup.guideline_key)
            )
        draws.append(
            (
                rng.standard_normal(size),
                rng.integers(0, setup.spread_days, size, dtype=np.int64),
                rng.random(size),
                rng.random(size),
                rng.random((size, setup.rounds)),
                rng.standard_normal(size),
            )
        )
    table = PatientTable.concat(parts) if parts else task.source
    assert isinstance(table, PatientTable)
    z, start, u_c, u_d, u_k, e_p = (np.concatenate(col) for col in zip(*draws, strict=True))
    return table, Draws(z, start.astype(np.int64), u_c, u_d, u_k.reshape(-1, setup.rounds), e_p)


@dataclass(frozen=True)
class Courses:
    """Each patient's sessions and recalls in her own days (from her first session)."""

    initial: FloatArray  # (n, I) planned initial days, NaN past her series
    maintenance: FloatArray  # (n, R) planned maintenance (recall) days, NaN past the horizon
    initial_given: NDArray[np.bool_]  # (n, I)
    recalled: NDArray[np.bool_]  # (n, R) recall due inside the horizon
    kept: NDArray[np.bool_]  # (n, R)
    completed: NDArray[np.bool_]  # (n,)


def courses(table: PatientTable, draws: Draws, setup: RunSetup) -> Courses:
    """Series and recall plans (recalls once per distinct profile and age), with adherence."""
    settings = setup.settings
    n_init = table.values[:, N_INITIAL].astype(np.int64)
    initial = initial_days(table.values[:, N_INITIAL], table.values[:, INTERVAL])
    own_last = (setup.calendar.days - 1 - draws.start).astype(np.float64)  # her last day
    # Series: completed with probability `series`; otherwise she stops after 1..n-1 sessions.
    completed = (draws.u_complete < settings.adherence.series) | (n_init == 1)
    stop_after = 1 + np.floor(draws.u_drop * (n_init - 1)).astype(np.int64)
    n_given = np.where(completed, n_init, np.minimum(stop_after, n_init))
    k = np.arange(initial.shape[1])[None, :]
    initial_given = (k < n_given[:, None]) & (initial <= own_last[:, None])
    # Only those who complete the series are recalled: plan maintenance for them.
    maintenance = np.full((table.n, setup.rounds), np.nan)
    who = np.nonzero(completed)[0]
    if who.size:
        keys = np.column_stack([table.age[who], table.values[who]])
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        inv = np.asarray(inverse, dtype=np.int64).reshape(-1)
        last_day = np.full(unique.shape[0], -np.inf)
        np.maximum.at(last_day, inv, own_last[who])
        plans = [
            plan_courses(
                unique[lo : lo + TILE, 0],
                unique[lo : lo + TILE, 1:],
                params=setup.params,
                recall_threshold=settings.recall_threshold,
                last_day=last_day[lo : lo + TILE],
                rounds=setup.rounds,
            ).maintenance
            for lo in range(0, unique.shape[0], TILE)  # tiles that fit the CPU cache
        ]
        maintenance[who] = np.concatenate(plans)[inv]
    recalled = completed[:, None] & (maintenance <= own_last[:, None])  # NaN compares False
    kept = recalled & (draws.u_keep < settings.adherence.maintenance)
    return Courses(initial, maintenance, initial_given, recalled, kept, completed)


def simulate_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk of patients (the function the serial loop and Dask both run)."""
    setup = task.setup
    cal = setup.calendar
    params = setup.params
    table, draws = draw_chunk(task)
    c = courses(table, draws, setup)
    months = cal.months
    start = draws.start

    def per_month(days: FloatArray, mask: NDArray[np.bool_]) -> IntArray:
        cohort_day = (start[:, None] + np.nan_to_num(days, nan=0.0))[mask].astype(np.int64)
        return np.bincount(cal.month_of(cohort_day), minlength=months).astype(np.int64)

    # Her sessions: the initial series (past her last initial day: repeats of it, zero dose),
    # then maintenance (past the horizon: a day beyond it), all in ascending order per row.
    last_initial = np.nanmax(c.initial, axis=1, keepdims=True)
    pad = float(cal.days + 1)
    days = np.concatenate(
        [
            np.where(np.isnan(c.initial), last_initial, c.initial),
            np.where(np.isnan(c.maintenance), pad, c.maintenance),
        ],
        axis=1,
    )
    given = np.concatenate([c.initial_given, c.kept], axis=1)
    rates = patient_rates(
        params,
        age=table.age,
        response=table.values[:, RESPONSE],
        fade=table.values[:, FADE],
        ageing=table.values[:, AGEING],
        heal=table.values[:, HEAL],
        capacity=table.values[:, CAPACITY],
        z=draws.z,
        persistence=draws.persistence(params),
    )
    states = session_states(days, session_doses(days, given, rates, params), rates, params)
    # Noticeably firmer on the 15th of each month (her own day; 0 before her first session).
    own_day = cal.checkpoints[None, :] - start[:, None].astype(np.float64)
    noticeable = improvement(own_day, states, rates, params) >= setup.noticeable_threshold
    return ChunkResult(
        replicate=task.replicate,
        index=task.index,
        new_patients=np.bincount(cal.month_of(start), minlength=months).astype(np.int64),
        initial=per_month(c.initial, c.initial_given),
        maintenance=per_month(c.maintenance, c.kept),
        recalls=per_month(c.maintenance, c.recalled),
        noticeable=noticeable.sum(axis=0, dtype=np.int64),
        noticeable_months=noticeable.sum(axis=1, dtype=np.int64),
        completed=int(c.completed.sum()),
    )


# --------------------------------------------------------------------------------------------
# Running the chunks
# --------------------------------------------------------------------------------------------
def make_tasks(
    setup: RunSetup, source: PopulationSpec | FixedPopulation, n_patients: int
) -> list[ChunkTask]:
    """All chunks of all replicates, in merge order."""
    settings = setup.settings
    if isinstance(source, PopulationSpec):
        tables: SpecTables | None = SpecTables.build(source, setup.guideline)
        fixed: PatientTable | None = None
    else:
        tables, fixed = None, source.table
    n_blocks = math.ceil(n_patients / SEED_BLOCK)
    per_chunk = settings.chunk_size // SEED_BLOCK
    tasks: list[ChunkTask] = []
    replicate_seeds = np.random.SeedSequence(settings.seed).spawn(settings.replicates)
    for r, rseed in enumerate(replicate_seeds):
        block_seeds = rseed.spawn(n_blocks)
        for index, first in enumerate(range(0, n_blocks, per_chunk)):
            lo = first * SEED_BLOCK
            hi = min(n_patients, lo + settings.chunk_size)
            src: SpecTables | PatientTable
            if tables is not None:
                src = tables
            else:
                assert fixed is not None
                src = fixed.take(lo, hi)
            tasks.append(
                ChunkTask(
                    setup,
                    r,
                    index,
                    lo,
                    hi,
                    tuple(block_seeds[first : first + per_chunk]),
                    src,
                )
            )
    return tasks


def run_serial(tasks: Sequence[ChunkTask], progress: Progress | None) -> list[ChunkResult]:
    out: list[ChunkResult] = []
    for i, task in enumerate(tasks):
        out.append(simulate_chunk(task))
        if progress is not None:
            progress(i + 1, len(tasks))
    return out


def _dask_client(spec: str) -> tuple[Any, Callable[[], None]]:
    """A Dask client for ``local:N`` (a LocalCluster of N worker processes) or an address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError.one(
            "--dask",
            spec,
            "needs the optional Dask dependency: pip install 'needleplan[cohort]'",
        ) from None
    if spec.startswith("local:"):
        count = spec.removeprefix("local:")
        if not count.isdigit() or not 1 <= int(count) <= 256:
            raise InputError.one("--dask", spec, "local:N needs N workers, 1-256")
        cluster = LocalCluster(
            n_workers=int(count),
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # None still binds port 8787 (clashes)
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)

        def close_local() -> None:
            client.close()
            cluster.close()

        return client, close_local
    if "://" not in spec:
        raise InputError.one(
            "--dask", spec, "must be local:N or a scheduler address like tcp://host:8786"
        )
    try:
        client = Client(spec, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError.one("--dask", spec, f"cannot connect ({exc.__class__.__name__})") from None
    return client, client.close


def run_dask(tasks: Sequence[ChunkTask], dask: Any, progress: Progress | None) -> list[ChunkResult]:
    """Run the chunks as Dask tasks (``dask`` is ``local:N``, an address, or a Client)."""
    close: Callable[[], None] | None = None
    if isinstance(dask, str):
        client, close = _dask_client(dask)
    else:
        client = dask
    try:
        from distributed import as_completed

        futures = client.map(simulate_chunk, list(tasks), pure=False)
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(tasks))
        results: list[ChunkResult] = client.gather(futures)
        return results
    finally:
        if close is not None:
            close()


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------
def _spread(values: FloatArray) -> Spread:
    if values.size == 1:
        return Spread(mean=float(values[0]))
    p10, p90 = np.quantile(values, [0.1, 0.9])
    return Spread(mean=float(values.mean()), p10=float(p10), p90=float(p90))


def merge(
    results: Sequence[ChunkResult],
    setup: RunSetup,
    *,
    n_patients: int,
    prices: Prices,
    population: str,
    excluded: dict[str, int],
) -> CohortResult:
    """Sum the chunks of each replicate, then average the replicates month by month."""
    settings = setup.settings
    cal = setup.calendar
    reps = settings.replicates
    ordered = sorted(results, key=lambda r: (r.replicate, r.index))

    def stack(name: str) -> FloatArray:
        out = np.zeros((reps, cal.months), dtype=np.int64)
        for res in ordered:
            out[res.replicate] += getattr(res, name)
        return out.astype(np.float64)

    new, initial, maint, recalls, noticeable = (
        stack(k) for k in ("new_patients", "initial", "maintenance", "recalls", "noticeable")
    )
    revenue = initial * prices.initial_session + maint * prices.maintenance_session
    share = noticeable / max(n_patients, 1)
    band = np.quantile(share, [0.1, 0.9], axis=0) if reps > 1 else None
    months = [
        CohortMonth(
            month=label,
            new_patients=float(new[:, m].mean()),
            initial_sessions=float(initial[:, m].mean()),
            maintenance_sessions=float(maint[:, m].mean()),
            sessions=float((initial[:, m] + maint[:, m]).mean()),
            revenue=float(revenue[:, m].mean()),
            recalls_due=float(recalls[:, m].mean()),
            noticeable_share=float(share[:, m].mean()),
            noticeable_share_p10=None if band is None else float(band[0, m]),
            noticeable_share_p90=None if band is None else float(band[1, m]),
        )
        for m, label in enumerate(cal.labels())
    ]
    per_patient = (
        np.concatenate([r.noticeable_months for r in ordered]).astype(np.float64)
        if n_patients
        else np.zeros(1)
    )
    q10, q50, q90 = np.quantile(per_patient, [0.1, 0.5, 0.9])
    completed = sum(r.completed for r in ordered)
    total_recalls = float(recalls.sum())
    summary = CohortSummary(
        patients=n_patients,
        excluded=dict(excluded),
        completed_series_share=completed / (n_patients * reps) if n_patients else 0.0,
        initial_sessions=float(initial.sum(axis=1).mean()),
        maintenance_sessions=float(maint.sum(axis=1).mean()),
        sessions=_spread((initial + maint).sum(axis=1)),
        revenue=_spread(revenue.sum(axis=1)),
        recalls_due=float(recalls.sum(axis=1).mean()),
        kept_recall_share=float(maint.sum()) / total_recalls if total_recalls else None,
        noticeable_months_median=float(q50),
        noticeable_months_p10=float(q10),
        noticeable_months_p90=float(q90),
    )
    return CohortResult(
        population=population,
        start=settings.start,
        years=settings.years,
        seed=settings.seed,
        chunk_size=settings.chunk_size,
        replicates=reps,
        spread_months=settings.spread_months,
        adherence=settings.adherence,
        currency=prices.currency,
        prices=prices.to_json(),
        recall_threshold=settings.recall_threshold,
        noticeable_threshold=setup.noticeable_threshold,
        guideline_version=setup.guideline.version,
        months=months,
        summary=summary,
        disclaimer=DISCLAIMER,
    )


def prepare(
    settings: CohortSettings,
    *,
    params: ModelParams | None = None,
    guideline: Guideline | None = None,
) -> RunSetup:
    """The shared part of a run: calendar, parameters, guideline, maintenance rounds."""
    p = default_params() if params is None else params
    g = load_guideline() if guideline is None else guideline
    cal = Calendar.of(settings.start, settings.years)
    return RunSetup(
        settings=settings,
        params=p,
        guideline=g,
        guideline_key=guideline_key(g),
        calendar=cal,
        rounds=max_rounds(cal.days - 1),
        noticeable_threshold=p.noticeable_threshold,
    )


def simulate_cohort(
    population: PopulationSpec | FixedPopulation,
    settings: CohortSettings,
    *,
    patients: int | None = None,
    prices: Prices,
    params: ModelParams | None = None,
    guideline: Guideline | None = None,
    dask: Any = None,
    progress: Progress | None = None,
) -> CohortResult:
    """Simulate a cohort month by month.

    Parameters
    ----------
    population : PopulationSpec or FixedPopulation
        A synthetic population (patients are drawn from it) or given patients
        (:func:`~needleplan.cohort.population.fixed_population`,
        :func:`~needleplan.cohort.population.reference_population`).
    settings : CohortSettings
        Horizon, start, adherence, seed, chunk size, replicates, recall threshold.
    patients : int, optional
        Size of a synthetic cohort (default: the spec's ``patients``); not allowed with a fixed
        population.
    prices : Prices
        Session prices for the revenue.
    params : ModelParams, optional
        Forecast model parameters (default: the shipped calibration).
    guideline : Guideline, optional
        The protocol rules (default: the shipped guideline).
    dask : str or distributed.Client, optional
        ``None`` runs serially in this process; ``"local:N"`` starts a LocalCluster of N worker
        processes; ``"tcp://host:8786"`` connects to a scheduler; a Client is used as it is.
    progress : callable, optional
        Called as ``progress(done_chunks, total_chunks)`` after each chunk.

    Returns
    -------
    CohortResult

    Raises
    ------
    InputError
        for bad settings or population size, or ``--dask`` without Dask installed.
    """
    setup = prepare(settings, params=params, guideline=guideline)
    if isinstance(population, PopulationSpec):
        n = population.patients if patients is None else patients
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PATIENTS:
            raise InputError.one("patients", n, f"must be a whole number 1-{MAX_PATIENTS}")
        description, excluded = population.name, {}
    else:
        if patients is not None:
            raise InputError.one(
                "patients", patients, "only applies to a synthetic population (--population)"
            )
        n, description, excluded = population.size, population.description, population.excluded
    tasks = make_tasks(setup, population, n) if n else []
    results = run_serial(tasks, progress) if dask is None else run_dask(tasks, dask, progress)
    return merge(
        results, setup, n_patients=n, prices=prices, population=description, excluded=excluded
    )

"""Cohort simulation: many patients, their plans, their adherence, month by month.

The work is split into chunks of patients. One chunk is one call of :func:`simulate_chunk`,
a pure function of its :class:`ChunkTask`: numpy over the chunk's patients (loops run over
session slots, months and maintenance rounds, never over days or patients), so its memory
is bounded by the chunk size. The chunks run one after the other in this process, or as tasks on
a Dask cluster (the same function, ``client.map``, :mod:`needleplan.cohort.cluster`); the
results are merged in chunk order.

Randomness
----------
Each random quantity has its own counter-based stream (:mod:`needleplan.cohort.draws`: Philox
under the replicate's key, the stream's number in the counter), addressed by the patient's
position: the synthetic patient's uniforms, her response effect ``z`` (``u_R``), start day,
series completion, dropout point, one uniform per maintenance round, the independent normal
``e`` of her persistence effect ``u_P = rho u_R + sqrt(1-rho^2) e`` and her menopause status. A
chunk draws exactly its own patients' values and starts at a multiple of :data:`SEED_BLOCK`
= 64 patients (the chunk size must be a multiple of 64), so

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

import math
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.cluster import run_dask
from needleplan.cohort.draws import Draws, draw, replicate_key, uniforms
from needleplan.cohort.merge import merge
from needleplan.cohort.model import (
    PatientRates,
    SessionStates,
    patient_rates,
    session_doses,
    session_states,
)
from needleplan.cohort.parallel import run_processes
from needleplan.cohort.plan import initial_days, max_rounds
from needleplan.cohort.population import (
    LATE,
    PATIENT_UNIFORMS,
    FixedPopulation,
    PatientTable,
    SpecTables,
    patients_from,
)
from needleplan.cohort.profiles import (
    AGEING,
    CAPACITY,
    FADE,
    HEAL,
    INTERVAL,
    N_INITIAL,
    RESPONSE,
    guideline_key,
)
from needleplan.cohort.result import CohortResult
from needleplan.cohort.rows import unique_rows
from needleplan.cohort.settings import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MAX_REPLICATES,
    SEED_BLOCK,
    Calendar,
    ChunkResult,
    CohortSettings,
    RunSetup,
    make_settings,
)
from needleplan.cohort.spec import MAX_PATIENTS, PopulationSpec
from needleplan.cohort.status import noticeable_on_days
from needleplan.cohort.store import plan_store
from needleplan.exceptions import InputError
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.params import ModelParams, default_params
from needleplan.guideline import Guideline, load_guideline

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "MAX_REPLICATES",
    "SEED_BLOCK",
    "Calendar",
    "ChunkResult",
    "ChunkTask",
    "CohortSettings",
    "RunSetup",
    "make_settings",
    "make_tasks",
    "merge",
    "prepare",
    "simulate_chunk",
    "simulate_cohort",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Most local worker processes (``processes``).
MAX_PROCESSES = 64

#: ``progress(done_chunks, total_chunks)``
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChunkTask:
    """One chunk: patients ``lo:hi`` of replicate ``replicate`` (``key``: its Philox key,
    :func:`~needleplan.cohort.draws.replicate_key`).

    ``source`` is the population spec (patients are drawn in the chunk) or the chunk's slice of
    a fixed population.
    """

    setup: RunSetup
    replicate: int
    index: int
    lo: int
    hi: int
    key: tuple[int, int]
    source: SpecTables | PatientTable
    run: str = ""  # one per run (make_tasks): names the chunk's patients in HANDED_OVER


def draw_chunk(task: ChunkTask) -> tuple[PatientTable, Draws]:
    """The chunk's patients and their draws (:mod:`~needleplan.cohort.draws`: each patient's
    draws are the same for any chunk size)."""
    setup = task.setup
    return chunk_patients(task), draw(
        task.key, task.lo, task.hi, rounds=setup.rounds, spread_days=setup.spread_days
    )


#: Patients drawn by :func:`plan_keys` in this process, kept for the same chunk's
#: :func:`simulate_chunk` when it runs here too (on Dask it is sent to the worker that
#: reported its rows), so they are not drawn twice; taken out when used, a few at most.
HANDED_OVER: dict[tuple[str, int, int], PatientTable] = {}
_HAND_OVER_BYTES = 256 * 1024 * 1024
_HAND_OVER_LOCK = threading.Lock()


def _size(table: PatientTable) -> int:
    return int(table.values.nbytes + table.age.nbytes + getattr(table.codes, "nbytes", 0))


def _handed_over(task: ChunkTask) -> PatientTable | None:
    with _HAND_OVER_LOCK:
        return HANDED_OVER.pop((task.run, task.replicate, task.index), None) if task.run else None


def _hand_over(task: ChunkTask, table: PatientTable) -> None:
    if not task.run or not isinstance(task.source, SpecTables):
        return  # a fixed population's slice travels with the task anyway
    with _HAND_OVER_LOCK:
        for left in [k for k in HANDED_OVER if k[0] != task.run]:  # an earlier run's
            del HANDED_OVER[left]
        held = sum(_size(t) for t in HANDED_OVER.values())
        if held + _size(table) <= _HAND_OVER_BYTES:
            HANDED_OVER[(task.run, task.replicate, task.index)] = table


def chunk_patients(task: ChunkTask) -> PatientTable:
    """The chunk's patients: drawn from the spec, or its slice of a fixed population (or the
    ones :func:`plan_keys` drew for this chunk in this process)."""
    kept = _handed_over(task)
    if kept is not None:
        return kept
    setup = task.setup
    lo, hi = task.lo, task.hi
    if isinstance(task.source, SpecTables):
        return patients_from(
            task.source,
            np.hstack(
                [
                    uniforms(task.key, "patient", lo, hi, PATIENT_UNIFORMS),
                    uniforms(task.key, "late", lo, hi, len(LATE)).reshape(hi - lo, len(LATE)),
                ]
            ),
            setup.guideline,
            setup.guideline_key,
        )
    return task.source


@dataclass(frozen=True)
class Courses:
    """Each patient's sessions and recalls in her own days (from her first session)."""

    initial: FloatArray  # (n, I) planned initial days, NaN past her series
    maintenance: FloatArray  # (n, R) planned maintenance (recall) days, NaN past the horizon
    initial_given: NDArray[np.bool_]  # (n, I)
    recalled: NDArray[np.bool_]  # (n, R) recall due inside the horizon
    kept: NDArray[np.bool_]  # (n, R)
    completed: NDArray[np.bool_]  # (n,)


def completes_series(table: PatientTable, draws: Draws, setup: RunSetup) -> NDArray[np.bool_]:
    """Who completes her initial series (probability ``series``; a one-session protocol
    always)."""
    return _completes(table, draws.u_complete, setup)


def _completes(table: PatientTable, u_complete: FloatArray, setup: RunSetup) -> NDArray[np.bool_]:
    n_init = table.values[:, N_INITIAL].astype(np.int64)
    return np.asarray((u_complete < setup.settings.adherence.series) | (n_init == 1))


def plan_keys(task: ChunkTask) -> FloatArray:
    """The distinct ``[age, *profile]`` rows whose recall plans the chunk needs (those who
    complete the series), so another process can plan them ahead."""
    table = chunk_patients(task)  # and of the draws only the one that decides it
    _hand_over(task, table)
    u_complete = uniforms(task.key, "complete", task.lo, task.hi)
    who = np.nonzero(_completes(table, u_complete, task.setup))[0]
    return unique_rows(np.column_stack([table.age[who], table.values[who]]))[0]


def courses(table: PatientTable, draws: Draws, setup: RunSetup) -> Courses:
    """Series and recall plans (recalls once per distinct profile and age), with adherence."""
    settings = setup.settings
    n_init = table.values[:, N_INITIAL].astype(np.int64)
    initial = initial_days(table.values[:, N_INITIAL], table.values[:, INTERVAL])
    own_last = (setup.calendar.days - 1 - draws.start).astype(np.float64)  # her last day
    # Series: completed with probability `series`; otherwise she stops after 1..n-1 sessions.
    completed = completes_series(table, draws, setup)
    stop_after = 1 + np.floor(draws.u_drop * (n_init - 1)).astype(np.int64)
    n_given = np.where(completed, n_init, np.minimum(stop_after, n_init))
    k = np.arange(initial.shape[1])[None, :]
    initial_given = (k < n_given[:, None]) & (initial <= own_last[:, None])
    # Only those who complete the series are recalled: plan maintenance for them, once per
    # distinct (age, profile) in this process (plan_store), up to her own last day.
    maintenance = np.full((table.n, setup.rounds), np.nan)
    who = np.nonzero(completed)[0]
    if who.size:
        keys = np.column_stack([table.age[who], table.values[who]])
        unique, inverse = unique_rows(keys)
        store = plan_store(
            setup.params, settings.recall_threshold, setup.rounds, float(setup.calendar.days - 1)
        )
        planned = store.plans(unique)[inverse]
        maintenance[who] = np.where(planned <= own_last[who, None], planned, np.nan)
    # Rounds nobody in the chunk reaches are dropped (they would be zero-dose padding).
    used = int(np.max(np.nonzero(~np.isnan(maintenance).all(axis=0))[0], initial=-1)) + 1
    maintenance = maintenance[:, :used]
    recalled = completed[:, None] & ~np.isnan(maintenance)
    kept = recalled & (draws.u_keep[:, :used] < settings.adherence.maintenance)
    return Courses(initial, maintenance, initial_given, recalled, kept, completed)


def own_curves(
    table: PatientTable, draws: Draws, c: Courses, setup: RunSetup
) -> tuple[SessionStates, PatientRates]:
    """Each patient's own model state after each of her session slots, and her rates."""
    params = setup.params
    # Her sessions: the initial series (past her last initial day: repeats of it, zero dose),
    # then maintenance (past the horizon: a day beyond it), all in ascending order per row.
    last_initial = np.nanmax(c.initial, axis=1, keepdims=True)
    pad = float(setup.calendar.days + 1)
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
    return session_states(days, session_doses(days, given, rates, params), rates, params), rates


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

    states, rates = own_curves(table, draws, c, setup)
    # Noticeably firmer on the 15th of each month (her own day; 0 before her first session):
    # single precision, the undecided values again in double precision (cohort.status).
    noticeable = noticeable_on_days(
        cal.checkpoints,
        start.astype(np.float64),
        states,
        rates,
        params,
        setup.noticeable_threshold,
    )
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
    run = uuid.uuid4().hex
    for r in range(settings.replicates):
        key = replicate_key(settings.seed, r, settings.replicates)
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
                    key,
                    src,
                    run,
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
    processes: int = 1,
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
    processes : int
        Worker processes on this machine (1, the default: in this process). Each runs whole
        chunks with its own plan store; the result is the same whatever the number. Not with
        ``dask``.
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
    if (
        isinstance(processes, bool)
        or not isinstance(processes, int)
        or not 1 <= processes <= MAX_PROCESSES
    ):
        raise InputError.one("processes", processes, f"must be a whole number 1-{MAX_PROCESSES}")
    if processes > 1 and dask is not None:
        raise InputError.one("processes", processes, "cannot be combined with dask (use one)")
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
    if dask is not None:
        results = run_dask(tasks, dask, progress, chunk=simulate_chunk, keys=plan_keys)
    elif processes > 1 and len(tasks) > 1:
        results = run_processes(
            tasks, min(processes, len(tasks)), progress, chunk=simulate_chunk, keys=plan_keys
        )
    else:
        results = run_serial(tasks, progress)
    return merge(
        results, setup, n_patients=n, prices=prices, population=description, excluded=excluded
    )

"""The chunks of a run in several worker processes of this machine (``processes=N``).

Shared nothing: each process runs whole chunks (:func:`~needleplan.cohort.engine.simulate_chunk`)
and the results come back in chunk order, so the result is the serial one. The recall plans are
made once for the whole run, not once per process: the processes first report the distinct
(age, profile) rows their chunks need (and the protocols they found for the guideline scores
they met), the parent splits the rows that have no plan yet among them, stores the plans they
return, and only then starts the processes that run the chunks (a forked child inherits the
parent's plan store and protocols). Where the platform cannot fork, each process is
spawned and each task pickled to it; the plans are then made in each process as they are needed.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.allocator import release_freed_memory
from needleplan.cohort.population import known_protocols, learn_protocols
from needleplan.cohort.rows import row_hash
from needleplan.cohort.settings import ChunkResult, RunSetup
from needleplan.cohort.store import DayArray, PlanStore, join_packed, pack_plans, plan_store

FloatArray = NDArray[np.float64]
T = TypeVar("T")

#: What the forked children read (set by the parent just before it forks; never pickled).
_SHARED: dict[str, Any] = {}


def _keys_of(i: int) -> tuple[FloatArray, NDArray[np.uint64], dict[Any, Any]]:
    keys: FloatArray = _SHARED["keys"](_SHARED["tasks"][i])
    return keys, row_hash(keys), known_protocols()


def _plans_of(i: int) -> DayArray:
    setup: RunSetup = _SHARED["tasks"][0].setup
    store = plan_store(
        setup.params,
        setup.settings.recall_threshold,
        setup.rounds,
        float(setup.calendar.days - 1),
    )
    part: FloatArray = _SHARED["parts"][i]
    return pack_plans(store.compute(part))  # a tenth of the bytes through the pipe


def _chunk_of(i: int) -> ChunkResult:
    result: ChunkResult = _SHARED["chunk"](_SHARED["tasks"][i])
    return result


def _forked(
    processes: int, fn: Callable[[int], T], count: int, done: Callable[[int], None] | None = None
) -> list[T]:
    out: list[T] = []
    release_freed_memory()  # the children would copy the parent's free pages on write
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for i, result in enumerate(pool.imap(fn, range(count)), 1):
            out.append(result)
            if done is not None:
                done(i)
    return out


def _plan_ahead(processes: int, store: PlanStore) -> None:
    """Steps 1 and 2 of :func:`run_processes`: every plan the run needs, in ``store``."""
    found = []
    for keys, hashes, protocols in _forked(processes, _keys_of, len(_SHARED["tasks"])):
        learn_protocols(protocols)  # the chunks' processes inherit them (not found again)
        if keys.size:
            found.append((keys, hashes))
    if not found:
        return
    # Distinct by hash (of two distinct rows with one hash, the chunks plan one themselves).
    first = np.unique(np.concatenate([h for _, h in found]), return_index=True)[1]
    keys = np.concatenate([k for k, _ in found])[first]
    del found
    keys = keys[store.missing(keys)]
    if keys.shape[0]:
        _SHARED["parts"] = np.array_split(keys, processes)
        plans = join_packed(_forked(processes, _plans_of, processes))
        del _SHARED["parts"]
        store.add(keys, plans)


def run_processes(
    tasks: Sequence[Any],
    processes: int,
    progress: Callable[[int, int], None] | None,
    *,
    chunk: Callable[[Any], ChunkResult],
    keys: Callable[[Any], FloatArray],
) -> list[ChunkResult]:
    """Run the chunks in ``processes`` worker processes; results in chunk order.

    ``chunk`` simulates one task (:func:`~needleplan.cohort.engine.simulate_chunk`) and ``keys``
    gives the plan rows a task needs (:func:`~needleplan.cohort.engine.plan_keys`); the tasks
    carry their :class:`~needleplan.cohort.settings.RunSetup` as ``setup``.
    """

    def done(i: int) -> None:
        if progress is not None:
            progress(i, len(tasks))

    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            out = []
            for i, result in enumerate(pool.imap(chunk, tasks), 1):
                out.append(result)
                done(i)
            return out
    setup: RunSetup = tasks[0].setup
    store = plan_store(
        setup.params,
        setup.settings.recall_threshold,
        setup.rounds,
        float(setup.calendar.days - 1),
    )
    _SHARED.update(tasks=tasks, chunk=chunk, keys=keys)
    try:
        # 1. The rows each chunk needs; 2. their plans, made once, split among the processes.
        _plan_ahead(processes, store)
        # 3. The chunks, in processes forked now: they inherit every plan (and nothing else
        # of the first two steps, which _plan_ahead has let go).
        return _forked(processes, _chunk_of, len(tasks), done)
    finally:
        _SHARED.clear()

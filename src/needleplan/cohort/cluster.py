"""The chunks of a run as tasks on a Dask cluster (``dask="local:N"``, an address, a Client).

The recall plans are made once for the run and shipped once to every worker, not built again in
each worker process: the cluster first reports the distinct (age, profile) rows each chunk needs
(:func:`~needleplan.cohort.engine.plan_keys`), the client splits those rows into parts that the
workers plan, gathers the plans and broadcasts them (``client.scatter(..., broadcast=True)``:
one copy per worker); each chunk task then finds every plan in its worker's store
(:func:`~needleplan.cohort.store.install`). The chunks are the serial ones and are merged in
chunk order, so the result is the serial result. Dask is imported only here, only when used.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.allocator import keep_freed_memory
from needleplan.cohort.rows import row_hash
from needleplan.cohort.settings import ChunkResult, RunSetup
from needleplan.cohort.store import (
    DayArray,
    SharedPlans,
    install,
    join_packed,
    pack_plans,
    plan_store,
)
from needleplan.exceptions import InputError

FloatArray = NDArray[np.float64]
HashArray = NDArray[np.uint64]

#: ``progress(done_chunks, total_chunks)``
Progress = Callable[[int, int], None]
#: Parts of the plan rows per worker (a few, so a slow worker does not hold up the others).
PARTS_PER_WORKER = 2


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


def _keys_of(task: Any, keys: Callable[[Any], FloatArray]) -> tuple[FloatArray, HashArray]:
    """The plan rows a chunk needs and their hashes: one task of the first step."""
    rows = keys(task)
    return rows, row_hash(rows)


def _plans_of(part: FloatArray, setup: RunSetup) -> DayArray:
    """Plans of some rows (computed, not stored), packed: one task of the planning step."""
    store = plan_store(
        setup.params, setup.settings.recall_threshold, setup.rounds, setup.calendar.days - 1.0
    )
    return pack_plans(store.compute(part))


def _chunk_with_plans(
    task: Any, shared: SharedPlans, chunk: Callable[[Any], ChunkResult], client_pid: int
) -> ChunkResult:
    """One chunk task: the run's plans into this worker's store (once per worker), then the
    chunk."""
    if os.getpid() != client_pid:  # a worker process of its own (cohort/allocator.py)
        keep_freed_memory()
    install(shared)
    return chunk(task)


def _shared_plans(
    client: Any, tasks: Sequence[Any], keys: Callable[[Any], FloatArray]
) -> tuple[SharedPlans, list[list[str]]]:
    """Steps 1 and 2 on the cluster: the rows the chunks need, and their plans; and for each
    chunk the workers that reported its rows (they hold its patients: engine.HANDED_OVER)."""
    setup: RunSetup = tasks[0].setup
    reports = client.map(_keys_of, list(tasks), keys=keys, pure=False)
    gathered = client.gather(reports)
    held = client.who_has(reports)
    where = [list(held.get(f.key, ())) for f in reports]
    del reports
    found = [f for f in gathered if f[0].size]
    del gathered
    rows = np.empty((0, 10))
    plans: DayArray = np.empty((0, 0), dtype=np.int16)
    if found:
        # Distinct by hash (two distinct rows with one hash: one of them is left to the chunks
        # that need it, which plan it themselves; nothing changes but the time).
        first = np.unique(np.concatenate([h for _, h in found]), return_index=True)[1]
        rows = np.concatenate([k for k, _ in found])[first]
    del found
    if rows.shape[0]:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        parts = np.array_split(rows, min(rows.shape[0], workers * PARTS_PER_WORKER))
        # The rows go to the workers directly, not inside the task graph.
        futures = client.map(_plans_of, client.scatter(parts), setup=setup, pure=False)
        plans = join_packed(client.gather(futures))
    shared = SharedPlans(
        token=uuid.uuid4().hex,
        params=setup.params,
        threshold=setup.settings.recall_threshold,
        rounds=setup.rounds,
        last_day=setup.calendar.days - 1.0,
        keys=rows,
        plans=plans,
    )
    return shared, where


def run_dask(
    tasks: Sequence[Any],
    dask: Any,
    progress: Progress | None,
    *,
    chunk: Callable[[Any], ChunkResult],
    keys: Callable[[Any], FloatArray],
) -> list[ChunkResult]:
    """Run the chunks as Dask tasks (``dask`` is ``local:N``, an address, or a Client).

    ``chunk`` simulates one task (:func:`~needleplan.cohort.engine.simulate_chunk`) and ``keys``
    gives the plan rows a task needs (:func:`~needleplan.cohort.engine.plan_keys`).
    """
    close: Callable[[], None] | None = None
    if isinstance(dask, str):
        client, close = _dask_client(dask)
    else:
        client = dask
    try:
        from distributed import as_completed

        plans, where = _shared_plans(client, tasks, keys)
        shared = client.scatter(plans, broadcast=True)
        del plans
        # Each chunk preferably where its rows were reported (its patients are drawn there).
        futures = [
            client.submit(
                _chunk_with_plans,
                task,
                shared=shared,
                chunk=chunk,
                client_pid=os.getpid(),
                pure=False,
                workers=workers or None,
                allow_other_workers=True,
            )
            for task, workers in zip(tasks, where, strict=True)
        ]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(tasks))
        results: list[ChunkResult] = client.gather(futures)
        del futures, shared
        return results
    finally:
        if close is not None:
            close()

"""The same chunks on a Dask cluster give the same result as the serial loop."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from needleplan.cohort import engine as engine_module
from needleplan.cohort import load_population_spec, simulate_cohort
from needleplan.cohort import store as store_module
from needleplan.cohort.engine import make_tasks, plan_keys, prepare
from needleplan.cohort.rows import unique_rows
from needleplan.exceptions import InputError
from needleplan.forecasting.optimise import Prices

from .conftest import settings as cohort_settings

SPEC = load_population_spec()


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A two-worker LocalCluster in this process (threads; its HTTP server on a free loopback port, no dashboard)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address="127.0.0.1:0",  # None still binds port 8787 (clashes)
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("replicates", [1, 3])
def test_serial_and_dask_give_identical_results(
    client: Any, prices: Prices, replicates: int
) -> None:
    s = cohort_settings(years=3, seed=4, chunk_size=64, replicates=replicates)
    serial = simulate_cohort(SPEC, s, patients=400, prices=prices)
    seen: list[int] = []
    on_dask = simulate_cohort(
        SPEC, s, patients=400, prices=prices, dask=client, progress=lambda d, t: seen.append(d)
    )
    assert on_dask == serial
    assert seen == list(range(1, 7 * replicates + 1))


def test_each_plan_is_made_once_on_the_cluster_and_shipped(
    client: Any, prices: Prices, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk tasks find every plan in their worker's store: each distinct (age, profile)
    row is planned once for the run (in the planning step), none again in a chunk."""
    # A threshold of its own: no earlier test's plans are in the stores.
    s = cohort_settings(years=4, seed=9, chunk_size=128, recall_threshold=4.321)
    tasks = make_tasks(prepare(s), SPEC, 700)
    distinct = unique_rows(np.concatenate([plan_keys(t) for t in tasks]))[0].shape[0]
    planned: list[int] = []
    real = store_module.plan_courses

    def counting(age: Any, *args: Any, **kwargs: Any) -> Any:
        planned.append(int(np.size(age)))
        return real(age, *args, **kwargs)

    missing_in_chunks: list[int] = []
    lookup = store_module.PlanStore._plans

    def chunk_lookup(self: Any, keys: Any) -> Any:
        missing_in_chunks.append(int(np.sum(self._lookup(keys)[1] < 0)))
        return lookup(self, keys)

    monkeypatch.setattr(store_module, "plan_courses", counting)
    monkeypatch.setattr(store_module.PlanStore, "_plans", chunk_lookup)
    on_dask = simulate_cohort(SPEC, s, patients=700, prices=prices, dask=client)
    assert sum(planned) == distinct
    assert len(missing_in_chunks) == len(tasks)
    assert sum(missing_in_chunks) == 0
    monkeypatch.setattr(store_module, "plan_courses", real)
    assert on_dask == simulate_cohort(SPEC, s, patients=700, prices=prices)


def test_a_chunk_s_patients_are_drawn_once_where_its_rows_were_reported(
    client: Any, prices: Prices, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planning step draws each chunk's patients to report its rows; the chunk then runs
    on that worker and uses them (here every worker is a thread of this process), so no chunk
    draws its patients twice, and the result is still the serial one."""
    s = cohort_settings(years=3, seed=11, chunk_size=128)
    serial = simulate_cohort(SPEC, s, patients=600, prices=prices)
    drawn: list[int] = []
    real = engine_module.patients_from

    def counting(tables: Any, uniforms: Any, *args: Any) -> Any:
        drawn.append(int(uniforms.shape[0]))
        return real(tables, uniforms, *args)

    monkeypatch.setattr(engine_module, "patients_from", counting)
    assert simulate_cohort(SPEC, s, patients=600, prices=prices, dask=client) == serial
    assert sum(drawn) == 600
    assert engine_module.HANDED_OVER == {}


def test_dask_without_the_package_is_a_clear_input_error(
    prices: Prices, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(InputError, match=r"--dask: needs the optional Dask dependency"):
        simulate_cohort(SPEC, cohort_settings(years=1), patients=64, prices=prices, dask="local:2")


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("local:0", "local:N needs N workers"),
        ("local:x", "local:N needs N workers"),
        ("somewhere", "must be local:N or a scheduler address"),
    ],
)
def test_bad_dask_specs_are_rejected(prices: Prices, spec: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        simulate_cohort(SPEC, cohort_settings(years=1), patients=64, prices=prices, dask=spec)

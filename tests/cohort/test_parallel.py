"""Chunks in several worker processes of this machine give the serial result, with the recall
plans made once for the run (not once per process)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from needleplan.cohort import load_population_spec, simulate_cohort
from needleplan.cohort import store as store_module
from needleplan.exceptions import InputError
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.params import default_params

from .conftest import settings as cohort_settings

SPEC = load_population_spec()


@pytest.mark.parametrize("replicates", [1, 2])
def test_processes_give_the_serial_result(
    prices: Prices, monkeypatch: pytest.MonkeyPatch, replicates: int
) -> None:
    s = cohort_settings(years=4, seed=8, chunk_size=64, replicates=replicates)
    serial = simulate_cohort(SPEC, s, patients=300, prices=prices)
    monkeypatch.setattr(store_module, "_STORES", {})  # a cold plan store in this process
    seen: list[int] = []
    parallel = simulate_cohort(
        SPEC, s, patients=300, prices=prices, processes=2, progress=lambda d, t: seen.append(d)
    )
    assert parallel == serial
    assert seen == list(range(1, 5 * replicates + 1))
    # The plans were made before the chunks ran, and stored in this (the parent) process.
    (store,) = store_module._STORES.values()
    assert store._size > 0


def test_more_processes_than_chunks(prices: Prices) -> None:
    s = cohort_settings(years=2, seed=3, chunk_size=128)
    serial = simulate_cohort(SPEC, s, patients=200, prices=prices)
    assert simulate_cohort(SPEC, s, patients=200, prices=prices, processes=8) == serial


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"processes": 0}, "must be a whole number 1-64"),
        ({"processes": 65}, "must be a whole number 1-64"),
        ({"processes": True}, "must be a whole number 1-64"),
        ({"processes": 2.0}, "must be a whole number 1-64"),
        ({"processes": 2, "dask": "local:2"}, "cannot be combined with dask"),
    ],
)
def test_bad_processes_are_refused(prices: Prices, values: dict[str, Any], rule: str) -> None:
    with pytest.raises(InputError, match=f"processes: .*{rule}"):
        simulate_cohort(SPEC, cohort_settings(years=1), patients=64, prices=prices, **values)


def test_packed_plans_come_back_exactly() -> None:
    """Plans are kept and shipped between processes packed (16-bit whole days, unreached
    rounds dropped) and come back bit for bit; anything but whole days from 0 is refused."""
    nan = np.nan
    plans = np.array([[100.0, 400.0, nan, nan], [90.0, nan, nan, nan], [nan, nan, nan, nan]])
    packed = store_module.pack_plans(plans)
    assert packed.dtype == np.int16
    assert packed.shape == (3, 2)
    np.testing.assert_array_equal(store_module.unpack_plans(packed, 4), plans)
    for odd in ([[10.5, nan]], [[-1.0, 3.0]], [[2.0**31, 1.0]]):
        with pytest.raises(ValueError, match="whole days from 0"):
            store_module.pack_plans(np.array(odd))
    assert store_module.pack_plans(np.array([[40_000.0]])).dtype == np.int32
    joined = store_module.join_packed([packed, store_module.pack_plans(plans[:1, :1])])
    np.testing.assert_array_equal(
        store_module.unpack_plans(joined, 4), np.r_[plans, [[100.0, nan, nan, nan]]]
    )
    assert store_module.join_packed([]).shape == (0, 0)


def test_a_store_keeps_packed_plans_and_refuses_days_past_its_horizon() -> None:
    """Plans added packed come back from the store as the days they were; a plan past the
    store's last day is refused, not wrapped into 16 bits."""
    store = store_module.PlanStore(default_params(), 5.0, rounds=3, last_day=500.0)
    keys = np.arange(20.0).reshape(2, 10)
    plans = np.array([[100.0, 400.0, np.nan], [90.0, np.nan, np.nan]])
    store.add(keys, store_module.pack_plans(plans))
    np.testing.assert_array_equal(store.plans(keys[::-1]), plans[::-1])
    with pytest.raises(ValueError, match="end by day 500"):
        store.add(keys + 1.0, store_module.pack_plans(np.array([[501.0], [1.0]])))

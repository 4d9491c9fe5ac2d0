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
    """Plans shipped between processes are packed (16-bit whole days, unreached rounds dropped)
    and come back bit for bit; anything but whole non-negative days stays in double precision."""
    nan = np.nan
    plans = np.array([[100.0, 400.0, nan, nan], [90.0, nan, nan, nan], [nan, nan, nan, nan]])
    packed = store_module.pack_plans(plans)
    assert packed.dtype == np.int16
    assert packed.shape == (3, 2)
    np.testing.assert_array_equal(store_module.unpack_plans(packed, 4), plans)
    odd = np.array([[10.5, nan], [-1.0, 3.0]])
    kept = store_module.pack_plans(odd)
    assert kept.dtype == np.float64
    np.testing.assert_array_equal(store_module.unpack_plans(kept, 3), np.c_[odd, [nan, nan]])
    big = store_module.pack_plans(np.array([[40_000.0]]))
    assert big.dtype == np.int32
    joined = store_module.join_packed([packed, store_module.pack_plans(plans[:1, :1])], 4)
    np.testing.assert_array_equal(
        store_module.unpack_plans(joined, 4), np.r_[plans, [[100.0, nan, nan, nan]]]
    )
    mixed = store_module.join_packed([packed, kept], 4)
    assert store_module.unpack_plans(mixed, 4).shape == (5, 4)
    np.testing.assert_array_equal(store_module.unpack_plans(mixed, 4)[3, :2], odd[0])

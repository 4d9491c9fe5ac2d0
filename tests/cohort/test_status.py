"""The monthly status in single precision decides exactly as double precision does."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from needleplan.cohort import load_population_spec
from needleplan.cohort import status as status_module
from needleplan.cohort.engine import courses, draw_chunk, make_tasks, own_curves, prepare
from needleplan.cohort.model import improvement_on_days
from needleplan.cohort.status import noticeable_on_days

from .conftest import settings as cohort_settings

SPEC = load_population_spec()


@pytest.fixture(scope="module")
def chunk() -> dict[str, Any]:
    """One chunk of 2,048 example patients over 10 years: their states, rates and the
    double-precision improvement on the 15th of each month."""
    setup = prepare(cohort_settings(years=10, chunk_size=2048, seed=3))
    task = make_tasks(setup, SPEC, 2048)[0]
    table, draws = draw_chunk(task)
    states, rates = own_curves(table, draws, courses(table, draws, setup), setup)
    start = draws.start.astype(np.float64)
    days = setup.calendar.checkpoints
    exact = improvement_on_days(days, start, states, rates, setup.params)
    return {
        "args": (days, start, states, rates, setup.params),
        "exact": exact,
        "threshold": setup.noticeable_threshold,
    }


def test_decisions_equal_double_precision_even_on_the_threshold(chunk: dict[str, Any]) -> None:
    """Thresholds equal to values of the curves (ties), zero, negative and the default."""
    exact = chunk["exact"]
    rng = np.random.default_rng(5)
    started = exact[exact != 0.0]
    ties = rng.choice(started, 12, replace=False)
    # 1e-50 is 0 in single precision: the days before her first session are then set apart.
    for threshold in [chunk["threshold"], 0.0, -0.5, 1e-9, 1e-50, *ties]:
        got = noticeable_on_days(*chunk["args"], float(threshold))
        np.testing.assert_array_equal(got, exact >= threshold, err_msg=f"at {threshold}")


@pytest.mark.parametrize("threshold", [0.0, 2.0, -0.5])
def test_a_first_session_after_her_start_day_counts_from_the_session(
    chunk: dict[str, Any], threshold: float
) -> None:
    """Sessions a month after her start (her values are 0 until the first): the same decisions
    as double precision (the engine's first session is on her start day)."""
    days, start, states, rates, params = chunk["args"]
    later = dataclasses.replace(states, session_days=states.session_days + 30.0)
    exact = improvement_on_days(days, start, later, rates, params)
    got = noticeable_on_days(days, start, later, rates, params, threshold)
    np.testing.assert_array_equal(got, exact >= threshold)


def test_single_precision_decides_almost_every_value(
    chunk: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only values within the stated error band go to double precision (well under 1 %)."""
    seen: list[int] = []
    real = status_module._exact

    def counting(*args: Any) -> Any:
        seen.append(int(args[5].size))
        return real(*args)

    monkeypatch.setattr(status_module, "_exact", counting)
    got = noticeable_on_days(*chunk["args"], chunk["threshold"])
    np.testing.assert_array_equal(got, chunk["exact"] >= chunk["threshold"])
    assert sum(seen) < 0.01 * chunk["exact"].size


def test_the_error_band_holds_the_single_precision_error(chunk: dict[str, Any]) -> None:
    """The tolerance of the module docstring, against float64: with the band shrunk to the
    stated bound (16 u, not 128 u) the decisions are still exactly those of float64 on every
    value, for thresholds placed just inside and outside the values themselves."""
    exact = chunk["exact"]
    values = exact[exact > 0.5][:4000]
    old = status_module.MARGIN_ULPS
    try:
        status_module.MARGIN_ULPS = 16.0
        for shift in (0.0, 1e-6, -1e-4):
            for threshold in values[::800] + shift:
                got = noticeable_on_days(*chunk["args"], float(threshold))
                np.testing.assert_array_equal(got, exact >= threshold)
    finally:
        status_module.MARGIN_ULPS = old

"""Cohort simulation: the vectorised engine against the per-patient loop, and memory by chunk size.

Both sides simulate the same synthetic patients (the bundled example spec) over 5 years with the
same draws and give the same result (``tests/cohort`` checks that they agree exactly):

- candidate: :func:`needleplan.cohort.simulate_cohort`, numpy over chunks of patients;
- baseline: :func:`needleplan.cohort.naive.simulate_cohort_naive`, a Python loop over patients
  through the per-patient API (``make_protocol``, ``forecast`` + ``recall_day`` for every
  recall, ``simulate`` for her curve).

The side-by-side case uses 1,000 patients because the runner calls each side six times; the
figures time both sides once on 10,000 patients (the loop takes a few minutes) and measure the
peak memory of the engine for three chunk sizes. ``python benchmarks/run.py cohort`` runs only
this file.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import date

from needleplan.cohort import load_population_spec, make_settings, simulate_cohort
from needleplan.cohort.naive import simulate_cohort_naive
from needleplan.forecasting.optimise import load_prices

SPEC = load_population_spec()
PRICES = load_prices()
START = date(2026, 1, 1)
YEARS = 5


def _engine(patients: int, chunk_size: int = 512) -> Callable[[], object]:
    settings = make_settings(start=START, years=YEARS, chunk_size=chunk_size, seed=1)

    def run() -> object:
        return simulate_cohort(SPEC, settings, patients=patients, prices=PRICES)

    return run


def _naive(patients: int) -> Callable[[], object]:
    settings = make_settings(start=START, years=YEARS, seed=1)

    def run() -> object:
        return simulate_cohort_naive(SPEC, settings, patients=patients, prices=PRICES)

    return run


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        ("1k patients, 5 y: engine vs per-patient loop", _engine(1_000), _naive(1_000)),
        ("10k patients, 5 y: chunk 512 vs chunk 4096", _engine(10_000), _engine(10_000, 4096)),
    ]


def _once(fn: Callable[[], object]) -> tuple[float, int]:
    """Wall time [s] and peak traced memory [bytes] of one call (after a warm-up)."""
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak


def figures() -> list[tuple[str, str, str, bool]]:
    _engine(640)()  # warm-up: imports and caches
    engine_s, engine_peak = _once(_engine(10_000))
    t = time.perf_counter()
    _naive(10_000)()
    naive_s = time.perf_counter() - t
    rows = [
        ("10k patients, 5 y, engine, serial (s)", f"{engine_s:.1f}", "< 30", engine_s < 30),
        ("10k patients, 5 y, per-patient loop, once (s)", f"{naive_s:.0f}", "-", True),
        (
            "10k patients: speed-up of the engine",
            f"{naive_s / engine_s:.0f}x",
            ">= 10x",
            naive_s / engine_s >= 10,
        ),
    ]
    peaks = {512: engine_peak}
    for chunk in (64, 4096):
        peaks[chunk] = _once(_engine(10_000, chunk))[1]
    for chunk in sorted(peaks):
        mib = peaks[chunk] / 2**20
        rows.append((f"10k patients, chunk {chunk}: peak memory (MiB)", f"{mib:.0f}", "-", True))
    rows.append(
        (
            "peak memory grows with the chunk size (64 < 512 < 4096)",
            "yes" if peaks[64] < peaks[512] < peaks[4096] else "no",
            "yes",
            peaks[64] < peaks[512] < peaks[4096],
        )
    )
    return rows

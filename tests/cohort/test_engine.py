"""Cohort engine: exact agreement with the per-patient loop, invariances, and the properties a
clinic owner relies on (counts add up, adherence only adds sessions, reproducible)."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.cohort import (
    CohortResult,
    load_population_spec,
    parse_population_spec,
    reference_population,
    simulate_cohort,
)
from needleplan.cohort.engine import (
    SEED_BLOCK,
    make_tasks,
    prepare,
    simulate_chunk,
)
from needleplan.cohort.naive import simulate_cohort_naive
from needleplan.domain import reference_assessment
from needleplan.exceptions import InputError
from needleplan.forecasting.optimise import Prices
from needleplan.guideline import load_guideline, make_protocol
from tests.strategies import examples

from .conftest import settings as cohort_settings

GUIDELINE = load_guideline()
SPEC = load_population_spec()


def _sessions(r: CohortResult) -> float:
    return sum(m.sessions for m in r.months)


def test_one_reference_patient_with_full_adherence_gets_her_protocol(prices: Prices) -> None:
    """A cohort of one reference patient who keeps everything delivers exactly her protocol's
    initial series and one maintenance session per recall (every 12 months for her)."""
    s = cohort_settings(years=5, spread_months=1, adherence={"series": 1, "maintenance": 1})
    r = simulate_cohort(reference_population(1, GUIDELINE), s, prices=prices)
    protocol = make_protocol(reference_assessment(), GUIDELINE)
    assert r.summary.initial_sessions == protocol.initial_sessions
    assert r.summary.recalls_due == r.summary.maintenance_sessions == 4
    assert r.summary.sessions.mean == protocol.initial_sessions + 4
    assert r.summary.revenue.mean == prices.cost(protocol.initial_sessions, 4)
    assert r.summary.completed_series_share == 1.0
    assert r.summary.kept_recall_share == 1.0
    assert sum(m.new_patients for m in r.months) == 1
    assert r.months[0].new_patients == 1


def test_engine_equals_the_per_patient_loop_on_a_synthetic_cohort(prices: Prices) -> None:
    """The vectorised engine and the obvious loop over patients (forecast + recall_day +
    simulate for each one) give exactly the same result."""
    s = cohort_settings(years=4, chunk_size=64, seed=11)
    fast = simulate_cohort(SPEC, s, patients=150, prices=prices)
    slow = simulate_cohort_naive(SPEC, s, patients=150, prices=prices)
    assert fast == slow


def test_engine_equals_the_loop_on_given_assessments(prices: Prices) -> None:
    from needleplan.cohort import fixed_population
    from needleplan.domain import parse_assessment

    ref = reference_assessment().model_dump(mode="json")
    people = [
        parse_assessment({**ref, "age": 35 + 3 * i, "smoking": ["never", "current"][i % 2]})
        for i in range(12)
    ] + [parse_assessment({**ref, "conditions": ["diabetes"], "aftercare": "poor"})]
    pop = fixed_population(people, GUIDELINE, description="given")
    s = cohort_settings(years=6, chunk_size=64, seed=3, adherence={"series": 0.7})
    assert simulate_cohort(pop, s, prices=prices) == simulate_cohort_naive(pop, s, prices=prices)


def test_same_seed_same_result_other_seed_other_result(prices: Prices) -> None:
    s = cohort_settings(years=3, seed=5)
    a = simulate_cohort(SPEC, s, patients=300, prices=prices)
    b = simulate_cohort(SPEC, s, patients=300, prices=prices)
    c = simulate_cohort(SPEC, s.model_copy(update={"seed": 6}), patients=300, prices=prices)
    assert a == b
    assert a.months != c.months


@pytest.mark.parametrize("chunk_size", [64, 192, 1024])
def test_result_does_not_depend_on_the_chunk_size(prices: Prices, chunk_size: int) -> None:
    """Draws are made per seed block of 64 patients, so any chunk size (a multiple of 64)
    gives the same cohort."""
    base = cohort_settings(years=3, seed=2, chunk_size=128)
    expected = simulate_cohort(SPEC, base, patients=333, prices=prices)
    got = simulate_cohort(
        SPEC, base.model_copy(update={"chunk_size": chunk_size}), patients=333, prices=prices
    )
    assert got.model_dump(exclude={"chunk_size"}) == expected.model_dump(exclude={"chunk_size"})


def test_replicate_zero_is_the_single_run(prices: Prices) -> None:
    one = cohort_settings(years=2, seed=9, replicates=1)
    three = one.model_copy(update={"replicates": 3})
    tasks_one = make_tasks(prepare(one), SPEC, 200)
    tasks_three = [t for t in make_tasks(prepare(three), SPEC, 200) if t.replicate == 0]
    assert len(tasks_one) == len(tasks_three)
    for a, b in zip(tasks_one, tasks_three, strict=True):
        ra, rb = simulate_chunk(a), simulate_chunk(b)
        assert np.array_equal(ra.noticeable_months, rb.noticeable_months)
        assert np.array_equal(ra.initial, rb.initial)


def test_replicates_give_a_band(prices: Prices) -> None:
    s = cohort_settings(years=2, seed=1, replicates=4)
    r = simulate_cohort(SPEC, s, patients=128, prices=prices)
    assert r.summary.revenue.p10 is not None
    assert r.summary.revenue.p90 is not None
    assert r.summary.revenue.p10 <= r.summary.revenue.mean <= r.summary.revenue.p90
    for m in r.months:
        assert m.noticeable_share_p10 is not None
        assert m.noticeable_share_p90 is not None
        assert m.noticeable_share_p10 <= m.noticeable_share_p90
    single = simulate_cohort(
        SPEC, s.model_copy(update={"replicates": 1}), patients=128, prices=prices
    )
    assert all(m.noticeable_share_p10 is None for m in single.months)


@st.composite
def adherence_pairs(draw: st.DrawFn) -> tuple[dict[str, float], dict[str, float]]:
    lo_s, hi_s = sorted(draw(st.floats(0, 1)) for _ in range(2))
    lo_m, hi_m = sorted(draw(st.floats(0, 1)) for _ in range(2))
    return {"series": lo_s, "maintenance": lo_m}, {"series": hi_s, "maintenance": hi_m}


@settings(max_examples=examples(15), deadline=None)
@given(pair=adherence_pairs(), seed=st.integers(0, 10_000))
def test_more_adherence_never_means_fewer_sessions(
    pair: tuple[dict[str, float], dict[str, float]], seed: int
) -> None:
    """Same seed, higher adherence: never fewer sessions in total nor in any month, and never
    less revenue (the draws do not depend on adherence; a visit is kept below the threshold)."""
    prices = Prices(350.0, 300.0)
    low, high = pair
    a = simulate_cohort(
        SPEC, cohort_settings(years=3, seed=seed, adherence=low), patients=96, prices=prices
    )
    b = simulate_cohort(
        SPEC, cohort_settings(years=3, seed=seed, adherence=high), patients=96, prices=prices
    )
    assert _sessions(b) >= _sessions(a)
    assert b.summary.revenue.mean >= a.summary.revenue.mean
    for ma, mb in zip(a.months, b.months, strict=True):
        assert mb.initial_sessions >= ma.initial_sessions
        assert mb.maintenance_sessions >= ma.maintenance_sessions
        assert mb.recalls_due >= ma.recalls_due  # more complete the series


@settings(max_examples=examples(15), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    years=st.integers(1, 6),
    spread=st.integers(1, 12),
    series=st.floats(0, 1),
    maintenance=st.floats(0, 1),
    patients=st.integers(1, 200),
)
def test_counts_are_consistent(
    seed: int, years: int, spread: int, series: float, maintenance: float, patients: int
) -> None:
    """Every monthly count is non-negative; totals are the sums of the months; maintenance
    sessions never exceed the recalls of the month; every patient starts once."""
    spread = min(spread, 12 * years)
    prices = Prices(350.0, 300.0)
    s = cohort_settings(
        years=years,
        seed=seed,
        spread_months=spread,
        adherence={"series": series, "maintenance": maintenance},
    )
    r = simulate_cohort(SPEC, s, patients=patients, prices=prices)
    assert len(r.months) == 12 * years
    for m in r.months:
        for value in (m.new_patients, m.initial_sessions, m.maintenance_sessions, m.recalls_due):
            assert value >= 0
            assert float(value).is_integer()
        assert m.sessions == m.initial_sessions + m.maintenance_sessions
        assert m.maintenance_sessions <= m.recalls_due
        assert m.revenue == 350 * m.initial_sessions + 300 * m.maintenance_sessions
        assert 0.0 <= m.noticeable_share <= 1.0
    assert sum(m.new_patients for m in r.months) == patients
    assert all(m.new_patients == 0 for m in r.months[spread:])
    assert r.summary.initial_sessions == sum(m.initial_sessions for m in r.months)
    assert r.summary.maintenance_sessions == sum(m.maintenance_sessions for m in r.months)
    assert r.summary.sessions.mean == _sessions(r)
    assert r.summary.recalls_due == sum(m.recalls_due for m in r.months)
    assert r.summary.revenue.mean == math.fsum(m.revenue for m in r.months)
    assert 0 <= r.summary.noticeable_months_median <= 12 * years


def test_nobody_is_recalled_without_completing_the_series(prices: Prices) -> None:
    s = cohort_settings(years=4, adherence={"series": 0.0, "maintenance": 1.0})
    r = simulate_cohort(reference_population(64, GUIDELINE), s, prices=prices)
    assert r.summary.recalls_due == 0
    assert r.summary.maintenance_sessions == 0
    assert r.summary.completed_series_share == 0.0
    # Each stopped after 1 to 4 of her 5 sessions.
    assert 64 <= r.summary.initial_sessions <= 4 * 64


def test_missed_visits_are_still_recalls(prices: Prices) -> None:
    s = cohort_settings(years=4, adherence={"series": 1.0, "maintenance": 0.0})
    r = simulate_cohort(reference_population(64, GUIDELINE), s, prices=prices)
    assert r.summary.recalls_due > 0
    assert r.summary.maintenance_sessions == 0
    assert r.summary.kept_recall_share == 0.0


def test_maintenance_keeps_more_of_the_cohort_firmer(prices: Prices) -> None:
    kept = simulate_cohort(
        reference_population(128, GUIDELINE),
        cohort_settings(years=6, adherence={"series": 1, "maintenance": 1}),
        prices=prices,
    )
    lapsed = simulate_cohort(
        reference_population(128, GUIDELINE),
        cohort_settings(years=6, adherence={"series": 1, "maintenance": 0}),
        prices=prices,
    )
    assert kept.months[-1].noticeable_share > lapsed.months[-1].noticeable_share
    assert kept.summary.noticeable_months_median > lapsed.summary.noticeable_months_median


def test_progress_is_reported_per_chunk(prices: Prices) -> None:
    seen: list[tuple[int, int]] = []
    s = cohort_settings(years=1, chunk_size=64, replicates=2)
    simulate_cohort(SPEC, s, patients=200, prices=prices, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 8) for i in range(1, 9)]


@pytest.mark.parametrize(
    ("values", "field", "rule"),
    [
        ({"chunk_size": 100}, "chunk_size", "multiple of 64"),
        ({"chunk_size": 0}, "chunk_size", "greater than or equal to 64"),
        ({"start": date(2026, 1, 2)}, "start", "first day of a month"),
        ({"years": 16}, "years", "less than or equal to 15"),
        ({"years": 1, "spread_months": 13}, "spread_months", "must not exceed the horizon"),
        ({"replicates": 0}, "replicates", "greater than or equal to 1"),
        ({"adherence": {"series": 1.5}}, "adherence.series", "less than or equal to 1"),
    ],
)
def test_bad_settings_name_the_field(values: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(InputError) as err:
        cohort_settings(**values)
    assert str(err.value).startswith(f"{field}:")
    assert rule in str(err.value)


def test_patients_only_for_a_synthetic_population(prices: Prices) -> None:
    with pytest.raises(InputError, match="patients: only applies"):
        simulate_cohort(
            reference_population(3, GUIDELINE), cohort_settings(), patients=5, prices=prices
        )
    with pytest.raises(InputError, match="patients: must be a whole number"):
        simulate_cohort(SPEC, cohort_settings(), patients=0, prices=prices)


def test_an_empty_population_gives_zeros(prices: Prices) -> None:
    data = GUIDELINE.model_dump(by_alias=True)
    data["maintenance"]["standard_months"] = {"min": 6, "max": 30}
    wide = type(GUIDELINE).model_validate(data)
    r = simulate_cohort(reference_population(4, wide), cohort_settings(years=1), prices=prices)
    assert r.summary.patients == 0
    assert r.summary.excluded == {"outside the model's validated range": 4}
    assert _sessions(r) == 0


def test_uniform_ages_and_the_spec_size_default(prices: Prices) -> None:
    spec = parse_population_spec({"patients": 70, "age": {"min": 30, "max": 40}})
    r = simulate_cohort(spec, cohort_settings(years=1), prices=prices)
    assert r.summary.patients == 70
    assert r.population == "synthetic population"


def test_seed_blocks_partition_the_patients() -> None:
    tasks = make_tasks(prepare(cohort_settings(chunk_size=128)), SPEC, 300)
    assert [(t.lo, t.hi) for t in tasks] == [(0, 128), (128, 256), (256, 300)]
    assert all(t.lo % SEED_BLOCK == 0 for t in tasks)
    assert len({t.key for t in tasks}) == 1  # one replicate: one key, streams by patient


def test_the_serial_path_does_not_import_dask() -> None:
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from needleplan.cohort import make_settings, simulate_cohort, load_population_spec\n"
        "from needleplan.forecasting.optimise import load_prices\n"
        "s = make_settings(start=date(2026, 1, 1), years=1)\n"
        "simulate_cohort(load_population_spec(), s, patients=64, prices=load_prices())\n"
        "import needleplan.cli.main\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

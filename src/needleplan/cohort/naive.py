"""The cohort simulation written the obvious way: a Python loop over patients.

Each patient goes through the product's per-patient API: :func:`~needleplan.guideline.make_protocol`
for her protocol, :func:`~needleplan.forecasting.chain.forecast` plus
:func:`~needleplan.scheduling.recall.recall_day` for each recall (as
:func:`~needleplan.scheduling.recall.maintenance_due` does), and
:func:`~needleplan.forecasting.chain.simulate` for her own curve. It takes the same draws as the
vectorised engine (:func:`needleplan.cohort.engine.draw_chunk`), so the two must agree exactly;
the tests check that, and ``benchmarks/bench_cohort.py`` times one against the other. It is a
reference, not for production use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from needleplan.cohort.engine import (
    ChunkResult,
    ChunkTask,
    CohortSettings,
    draw_chunk,
    make_tasks,
    merge,
    prepare,
)
from needleplan.cohort.plan import recall_draws
from needleplan.cohort.population import FixedPopulation
from needleplan.cohort.result import CohortResult
from needleplan.cohort.spec import PopulationSpec
from needleplan.forecasting.chain import MAX_YEARS, forecast, series_days, simulate
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.params import DAYS_PER_MONTH, DAYS_PER_YEAR, ModelParams
from needleplan.guideline import Guideline, make_protocol
from needleplan.scheduling.recall import recall_day


def naive_chunk(task: ChunkTask) -> ChunkResult:
    """One chunk, patient by patient."""
    setup = task.setup
    settings = setup.settings
    cal = setup.calendar
    table, draws = draw_chunk(task)
    months = cal.months
    new = np.zeros(months, dtype=np.int64)
    initial = np.zeros(months, dtype=np.int64)
    maint = np.zeros(months, dtype=np.int64)
    recalls = np.zeros(months, dtype=np.int64)
    noticeable = np.zeros(months, dtype=np.int64)
    per_patient = np.zeros(table.n, dtype=np.int64)
    completed_count = 0
    draw_count, draw_seed = recall_draws()

    def month(day: float) -> int:
        return int(np.searchsorted(cal.month_starts, day, side="right") - 1)

    for i in range(table.n):  # the loop over patients the engine avoids
        a = table.assessment(i)
        protocol = make_protocol(a, setup.guideline)
        n = protocol.initial_sessions
        series = series_days(n, float(protocol.recommended_interval_days), years=MAX_YEARS)
        start = int(draws.start[i])
        own_last = cal.days - 1 - start
        new[month(start)] += 1
        completed = bool(draws.u_complete[i] < settings.adherence.series or n == 1)
        completed_count += completed
        n_given = n if completed else min(1 + math.floor(draws.u_drop[i] * (n - 1)), n)
        given = [float(d) for d in series[:n_given] if d <= own_last]
        for d in given:
            initial[month(start + d)] += 1
        planned: list[float] = []
        while completed and len(planned) < setup.rounds:
            sessions = [float(d) for d in series] + planned
            last = sessions[-1]
            lo = last + protocol.maintenance_interval_months.min * DAYS_PER_MONTH
            hi = last + protocol.maintenance_interval_months.max * DAYS_PER_MONTH
            years = min(MAX_YEARS, (math.ceil(hi) + 62) / DAYS_PER_YEAR)
            res = forecast(
                a,
                sessions,
                years=years,
                draws=draw_count,
                seed=draw_seed,
                params=setup.params,
                n_initial=n,
            )
            found = recall_day(res.day, res.median, last, settings.recall_threshold, lo, hi)
            day = math.floor(found.day)
            if day > own_last:
                break
            planned.append(float(day))
        for r, d in enumerate(planned):
            recalls[month(start + d)] += 1
            if draws.u_keep[i, r] < settings.adherence.maintenance:
                maint[month(start + d)] += 1
                given.append(d)
        _, curve = simulate(
            a,
            given,
            [float(draws.z[i])],
            years=(own_last + 1) / DAYS_PER_YEAR,
            params=setup.params,
            persistence=[float(draws.persistence(setup.params)[i])],
        )
        for m, check in enumerate(cal.checkpoints):
            own = int(check) - start
            if own >= 0 and curve[0, own] >= setup.noticeable_threshold:
                noticeable[m] += 1
                per_patient[i] += 1
    return ChunkResult(
        replicate=task.replicate,
        index=task.index,
        new_patients=new,
        initial=initial,
        maintenance=maint,
        recalls=recalls,
        noticeable=noticeable,
        noticeable_months=per_patient,
        completed=completed_count,
    )


def simulate_cohort_naive(
    population: PopulationSpec | FixedPopulation,
    settings: CohortSettings,
    *,
    patients: int | None = None,
    prices: Prices,
    params: ModelParams | None = None,
    guideline: Guideline | None = None,
) -> CohortResult:
    """:func:`needleplan.cohort.engine.simulate_cohort`, one patient at a time (serial only)."""
    setup = prepare(settings, params=params, guideline=guideline)
    extra: dict[str, Any] = {}
    if isinstance(population, PopulationSpec):
        n = population.patients if patients is None else patients
        extra = {"population": population.name, "excluded": {}}
    else:
        n = population.size
        extra = {"population": population.description, "excluded": population.excluded}
    results = [naive_chunk(t) for t in make_tasks(setup, population, n)]
    return merge(results, setup, n_patients=n, prices=prices, **extra)

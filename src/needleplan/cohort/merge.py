"""Merging the chunks of a cohort run into its monthly table and summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from needleplan import DISCLAIMER
from needleplan.cohort.result import CohortMonth, CohortResult, CohortSummary, Spread
from needleplan.cohort.settings import ChunkResult, RunSetup
from needleplan.forecasting.optimise import Prices

FloatArray = NDArray[np.float64]


def _spread(values: FloatArray) -> Spread:
    if values.size == 1:
        return Spread(mean=float(values[0]))
    p10, p90 = np.quantile(values, [0.1, 0.9])
    return Spread(mean=float(values.mean()), p10=float(p10), p90=float(p90))


def merge(
    results: Sequence[ChunkResult],
    setup: RunSetup,
    *,
    n_patients: int,
    prices: Prices,
    population: str,
    excluded: dict[str, int],
) -> CohortResult:
    """Sum the chunks of each replicate, then average the replicates month by month."""
    settings = setup.settings
    cal = setup.calendar
    reps = settings.replicates
    ordered = sorted(results, key=lambda r: (r.replicate, r.index))

    def stack(name: str) -> FloatArray:
        out = np.zeros((reps, cal.months), dtype=np.int64)
        for res in ordered:
            out[res.replicate] += getattr(res, name)
        return out.astype(np.float64)

    new, initial, maint, recalls, noticeable = (
        stack(k) for k in ("new_patients", "initial", "maintenance", "recalls", "noticeable")
    )
    revenue = initial * prices.initial_session + maint * prices.maintenance_session
    share = noticeable / max(n_patients, 1)
    band = np.quantile(share, [0.1, 0.9], axis=0) if reps > 1 else None
    months = [
        CohortMonth(
            month=label,
            new_patients=float(new[:, m].mean()),
            initial_sessions=float(initial[:, m].mean()),
            maintenance_sessions=float(maint[:, m].mean()),
            sessions=float((initial[:, m] + maint[:, m]).mean()),
            revenue=float(revenue[:, m].mean()),
            recalls_due=float(recalls[:, m].mean()),
            noticeable_share=float(share[:, m].mean()),
            noticeable_share_p10=None if band is None else float(band[0, m]),
            noticeable_share_p90=None if band is None else float(band[1, m]),
        )
        for m, label in enumerate(cal.labels())
    ]
    per_patient = (
        np.concatenate([r.noticeable_months for r in ordered]).astype(np.float64)
        if n_patients
        else np.zeros(1)
    )
    q10, q50, q90 = np.quantile(per_patient, [0.1, 0.5, 0.9])
    completed = sum(r.completed for r in ordered)
    total_recalls = float(recalls.sum())
    summary = CohortSummary(
        patients=n_patients,
        excluded=dict(excluded),
        completed_series_share=completed / (n_patients * reps) if n_patients else 0.0,
        initial_sessions=float(initial.sum(axis=1).mean()),
        maintenance_sessions=float(maint.sum(axis=1).mean()),
        sessions=_spread((initial + maint).sum(axis=1)),
        revenue=_spread(revenue.sum(axis=1)),
        recalls_due=float(recalls.sum(axis=1).mean()),
        kept_recall_share=float(maint.sum()) / total_recalls if total_recalls else None,
        noticeable_months_median=float(q50),
        noticeable_months_p10=float(q10),
        noticeable_months_p90=float(q90),
    )
    return CohortResult(
        population=population,
        start=settings.start,
        years=settings.years,
        seed=settings.seed,
        chunk_size=settings.chunk_size,
        replicates=reps,
        spread_months=settings.spread_months,
        adherence=settings.adherence,
        currency=prices.currency,
        prices=prices.to_json(),
        recall_threshold=settings.recall_threshold,
        noticeable_threshold=setup.noticeable_threshold,
        guideline_version=setup.guideline.version,
        months=months,
        summary=summary,
        disclaimer=DISCLAIMER,
    )

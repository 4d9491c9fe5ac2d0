"""The one forecast configuration every surface shows a patient.

The CLI's ``consult``, the consultation page, the public estimator and the handout all forecast
with these settings, so one patient gets the same figures and bands everywhere: the number of
population draws, the seed, the horizon, the day grid (the plan's sessions at its recommended
interval, :func:`~needleplan.forecasting.chain.series_days`) and the maintenance interval shown
as "with upkeep" (the middle of the protocol's window, half months rounded up). The web pages
send no draws, seed or horizon: the REST API's defaults are these constants. A chart keeps every
:data:`CHART_STEP_DAYS`-th day of the curves (the milestones are computed on the daily grid).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.domain.assessment import Assessment
from needleplan.domain.protocol import Protocol
from needleplan.forecasting.chain import ForecastResult, forecast, series_days
from needleplan.forecasting.models import ageing_decline, ageing_rate, patient_modifiers
from needleplan.forecasting.params import ModelParams, default_params

#: Population draws behind the median and the p10-p90 band.
DRAWS = 1000
#: The random seed (the same draws on every surface).
SEED = 0
#: The forecast horizon [years].
YEARS = 10.0
#: A chart's curves keep every k-th day [days].
CHART_STEP_DAYS = 7


def upkeep_months(protocol: Protocol) -> int:
    """The maintenance interval shown as "with upkeep": the middle of the protocol's window,
    a half month rounded up (as the estimator's ``Math.round``) [months]."""
    return math.floor(protocol.maintenance_interval_months.mid + 0.5)


def plan_forecast(
    assessment: Assessment,
    protocol: Protocol,
    *,
    maintenance_months: float | None = None,
    params: ModelParams | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> ForecastResult:
    """The plan's series (its initial sessions at the recommended interval), optionally with
    maintenance every ``maintenance_months`` [months], forecast with the standard settings
    (``draws`` and ``seed`` are overridden only by tests that need speed)."""
    n = protocol.initial_sessions
    days = series_days(
        n,
        protocol.recommended_interval_days,
        maintenance_months=maintenance_months,
        years=YEARS,
    )
    return forecast(
        assessment,
        days,
        years=YEARS,
        draws=draws,
        seed=seed,
        params=params,
        n_initial=n,
        maintenance_months=maintenance_months,
    )


def untreated_ageing(
    assessment: Assessment, day: ArrayLike, params: ModelParams | None = None
) -> NDArray[np.float64]:
    """Her skin without treatment, on the chart's scale: the typical patient's ageing decline
    since the first session, ``-D(t)`` (:func:`~needleplan.forecasting.models.ageing_decline`)
    [% of pre-treatment firmness] on ``day`` [days].

    A chart whose curves fall below zero draws this line, so nobody reads "below the level
    before treatment" as the treatment harming the skin: untreated skin would be lower still.
    """
    p = default_params() if params is None else params
    rate = ageing_rate(
        p.ageing_rate_per_year,
        float(assessment.age),
        p.age_ageing_per_decade,
        patient_modifiers(assessment).ageing,
    )
    return np.asarray(-ageing_decline(day, rate), dtype=np.float64)


__all__ = [
    "CHART_STEP_DAYS",
    "DRAWS",
    "SEED",
    "YEARS",
    "plan_forecast",
    "untreated_ageing",
    "upkeep_months",
]

"""Maintenance recall from the patient's own forecast, not a fixed interval.

The recall day is when her forecast median improvement [% of pre-treatment firmness] falls to
the clinic's recall threshold after the peak that follows her last session, clamped to the
protocol's maintenance bounds (``maintenance_interval_months``, 6-12 months in the default
guideline) counted from the last session.

The core functions (:func:`threshold_crossing`, :func:`recall_day`, :func:`noticeable_days`) are
pure functions of a forecast curve (numpy arrays) so they are tested on synthetic curves; the
thin wrapper :func:`maintenance_due` calls the forecast model
(:func:`needleplan.forecasting.chain.forecast`).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from needleplan.domain.assessment import Assessment
from needleplan.domain.protocol import Protocol as TreatmentProtocol
from needleplan.exceptions import InputError
from needleplan.scheduling.clinic import ClinicConfig
from needleplan.scheduling.models import MaintenanceDue

FloatArray = npt.NDArray[np.float64]


class ForecastCurve(Protocol):
    """What the scheduler reads from a forecast: a day grid and the median improvement."""

    @property
    def day(self) -> npt.NDArray[Any]: ...

    @property
    def median(self) -> npt.NDArray[Any]: ...


#: ``forecast(assessment, session_days, *, years, draws, seed, n_initial) -> ForecastCurve``
Forecaster = Callable[..., ForecastCurve]


def default_forecaster() -> Forecaster:
    """The forecast model, :func:`needleplan.forecasting.chain.forecast`."""
    from needleplan.forecasting.chain import forecast  # imported on use: numpy-heavy

    return forecast


def _curve(day: npt.ArrayLike, median: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    d = np.asarray(day, dtype=np.float64)
    m = np.asarray(median, dtype=np.float64)
    if d.ndim != 1 or d.shape != m.shape or d.size < 2:
        raise InputError.one(
            "forecast",
            f"day {d.shape}, median {m.shape}",
            "needs two 1-D arrays of equal length >= 2",
        )
    if not np.all(np.isfinite(d)) or not np.all(np.isfinite(m)):
        raise InputError.one("forecast", "non-finite", "day and median must be finite")
    if np.any(np.diff(d) <= 0):
        raise InputError.one("forecast.day", "unsorted", "must increase strictly")
    return d, m


def threshold_crossing(
    day: npt.ArrayLike, median: npt.ArrayLike, after_day: float, threshold: float
) -> tuple[float | None, bool]:
    """First day after the post-``after_day`` peak when ``median`` falls to ``threshold``.

    Parameters
    ----------
    day : array_like
        Forecast grid [days since the first session], strictly increasing.
    median : array_like
        Median improvement on that grid [% of pre-treatment firmness].
    after_day : float
        Only the curve from this day on counts [days] (the last session).
    threshold : float
        Recall threshold [% of pre-treatment firmness].

    Returns
    -------
    crossing : float or None
        The day [days] the median reaches the threshold, linearly interpolated between grid
        points; None when it never does within the grid.
    rises_above : bool
        Whether the median is above the threshold at any time from ``after_day`` on. When it
        is not, ``crossing`` is None.
    """
    d, m = _curve(day, median)
    keep = d >= after_day
    d, m = d[keep], m[keep]
    if d.size == 0 or not np.any(m > threshold):
        return None, False
    peak = int(np.argmax(m))
    below = np.nonzero(m[peak:] <= threshold)[0]
    if below.size == 0:
        return None, True
    j = peak + int(below[0])
    d0, d1, m0, m1 = d[j - 1], d[j], m[j - 1], m[j]
    crossing = d0 + (m0 - threshold) * (d1 - d0) / (m0 - m1)
    return float(crossing), True


@dataclass(frozen=True)
class RecallDay:
    """Result of :func:`recall_day` [days since the first session]."""

    day: float
    forecast_day: float | None
    reason: str


def recall_day(
    day: npt.ArrayLike,
    median: npt.ArrayLike,
    last_session_day: float,
    threshold: float,
    earliest_day: float,
    latest_day: float,
) -> RecallDay:
    """The day to recall for maintenance, from a forecast curve, within bounds.

    Parameters
    ----------
    day, median : array_like
        The forecast [days since first session], [% of pre-treatment firmness].
    last_session_day : float
        Day of the last session of the series [days].
    threshold : float
        Recall threshold [% of pre-treatment firmness].
    earliest_day, latest_day : float
        Bounds [days] (the protocol's maintenance interval after the last session).

    Returns
    -------
    RecallDay
        ``day`` is the crossing clamped to ``[earliest_day, latest_day]``; when the median never
        rises above the threshold it is ``earliest_day``, when it never falls to it within the
        forecast it is ``latest_day``.
    """
    if latest_day < earliest_day:
        raise InputError.one(
            "bounds", (earliest_day, latest_day), "latest must not precede earliest"
        )
    crossing, rises = threshold_crossing(day, median, last_session_day, threshold)
    if not rises:
        return RecallDay(
            earliest_day,
            None,
            "earliest bound: the forecast improvement does not rise above the recall threshold",
        )
    if crossing is None:
        return RecallDay(
            latest_day,
            None,
            "latest bound: the forecast stays above the recall threshold past the bound",
        )
    if crossing < earliest_day:
        return RecallDay(
            earliest_day, crossing, "earliest bound: the forecast falls to the threshold sooner"
        )
    if crossing > latest_day:
        return RecallDay(
            latest_day, crossing, "latest bound: the forecast falls to the threshold later"
        )
    return RecallDay(crossing, crossing, "forecast: the improvement falls to the recall threshold")


def noticeable_days(
    day: npt.ArrayLike, median: npt.ArrayLike, last_session_day: float, threshold: float
) -> float:
    """How long after the last session the median stays above the threshold [days].

    0 when it never rises above it; up to the end of the forecast when it never falls.
    """
    d, _ = _curve(day, median)
    crossing, rises = threshold_crossing(day, median, last_session_day, threshold)
    if not rises:
        return 0.0
    end = float(d[-1]) if crossing is None else crossing
    return max(0.0, end - last_session_day)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def session_days(session_dates: Sequence[date]) -> list[int]:
    """Days since the first session for each session date (dates must not go backwards)."""
    if not session_dates:
        raise InputError.one("session_dates", [], "needs at least one session")
    first = session_dates[0]
    out = [(d - first).days for d in session_dates]
    if any(b < a for a, b in pairwise(out)):
        raise InputError.one(
            "session_dates", [str(d) for d in session_dates], "must not go backwards"
        )
    return out


def forecast_years(session_dates: Sequence[date], latest: date) -> float:
    """Forecast horizon covering the latest recall bound plus two months [years]."""
    return math.ceil(((latest - session_dates[0]).days + 61) / 365.25 * 4) / 4


def maintenance_due(
    assessment: Assessment,
    session_dates: Sequence[date],
    clinic: ClinicConfig,
    protocol: TreatmentProtocol,
    *,
    forecaster: Forecaster | None = None,
    draws: int = 400,
    seed: int = 0,
) -> MaintenanceDue:
    """When to recall this patient for maintenance, from her own forecast.

    Parameters
    ----------
    assessment : Assessment
        The patient.
    session_dates : sequence of date
        Dates of the initial series (booked or performed), in order.
    clinic : ClinicConfig
        Supplies ``recall_threshold`` [% of pre-treatment firmness].
    protocol : Protocol
        Supplies ``maintenance_interval_months`` (the bounds after the last session).
    forecaster : callable, optional
        Defaults to :func:`needleplan.forecasting.chain.forecast`.
    draws, seed : int
        Passed to the forecast (population draws for the median; fixed seed, so the same
        inputs give the same date).

    Returns
    -------
    MaintenanceDue
    """
    days = session_days(session_dates)
    first, last = session_dates[0], session_dates[-1]
    earliest = add_months(last, protocol.maintenance_interval_months.min)
    latest = add_months(last, protocol.maintenance_interval_months.max)
    fn = forecaster if forecaster is not None else default_forecaster()
    result = fn(
        assessment,
        [float(d) for d in days],
        years=forecast_years(session_dates, latest),
        draws=draws,
        seed=seed,
        # Recall reads only the median curve after the last session, never the series
        # milestones, so every given session counts as the series here (the model does not
        # guess the series from the gaps).
        n_initial=len(days),
    )
    found = recall_day(
        result.day,
        result.median,
        float(days[-1]),
        clinic.recall_threshold,
        float((earliest - first).days),
        float((latest - first).days),
    )
    due = first + timedelta(days=math.floor(found.day))
    due = min(max(due, earliest), latest)
    forecast_due = (
        None
        if found.forecast_day is None
        else first + timedelta(days=math.floor(found.forecast_day))
    )
    return MaintenanceDue(due=due, forecast_due=forecast_due, reason=found.reason)

"""Forecast results: the band type, milestones, the result object and the band's knots.

The population band is the sample p10/p90 across draws on :func:`knot_days`, linear between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.forecasting.params import DAYS_PER_YEAR

QUANTILES = (0.10, 0.50, 0.90)
#: Days after each session on which the band's knots are weekly (then every 28 days) [days].
KNOT_DENSE_DAYS = 63.0
KNOT_EARLY_DAYS = np.array([2.0, 4.0, 10.0])


def _quantile_positions(n: int, q: float) -> tuple[int, int, float]:
    """Order-statistic indices and weight of numpy's default ('linear') sample quantile."""
    h = (n - 1) * q
    j = math.floor(h)
    return j, min(j + 1, n - 1), h - j


@dataclass(frozen=True)
class Band:
    """The typical patient's value (``median``) and the 80 % band across the population draws.

    ``p10_censored`` / ``p90_censored`` mark a quantile that the horizon cut off: the patients at
    that quantile are still noticeable on the last day, so the value is a lower bound.
    """

    median: float
    p10: float
    p90: float
    p10_censored: bool = False
    p90_censored: bool = False

    def to_json(self, ndigits: int = 2) -> dict[str, float | bool]:
        return {
            "median": round(self.median, ndigits),
            "p10": round(self.p10, ndigits),
            "p90": round(self.p90, ndigits),
            "p10_censored": self.p10_censored,
            "p90_censored": self.p90_censored,
        }


@dataclass(frozen=True)
class Milestones:
    """Landmarks of a forecast (days from the first session).

    Attributes
    ----------
    peak_day : int
        Day of the highest median improvement [days].
    peak_improvement : float
        Median improvement on that day [% of pre-treatment firmness].
    noticeable_months_after_last_initial : Band
        Months from the last initial session until the improvement first falls below the
        noticeable threshold (judged from the typical response peak on, see
        :func:`noticeable_span`), across draws (p10 is the slow responder) [months].
    noticeable_censored : bool
        True if the median is still noticeable at the horizon (the months are a lower bound).
    back_to_baseline_day : int or None
        First day after the peak on which the median improvement is back to 0 (the
        pre-treatment level) [days]; None if not within the horizon.
    last_initial_day : int
        Day of the last session of the initial series [days].
    noticeable_years_total : float
        Time the median curve spends at or above the threshold over the horizon [years].
    noticeable_months_population_median : float
        Median over the draws of each patient's noticeable months (the band's median is the
        typical patient's) [months].
    """

    peak_day: int
    peak_improvement: float
    noticeable_months_after_last_initial: Band
    noticeable_censored: bool
    back_to_baseline_day: int | None
    last_initial_day: int
    noticeable_years_total: float
    noticeable_months_population_median: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "peak_day": self.peak_day,
            "peak_improvement": round(self.peak_improvement, 3),
            "noticeable_months_after_last_initial": {
                **self.noticeable_months_after_last_initial.to_json(),
                "censored_at_horizon": self.noticeable_censored,
            },
            "back_to_baseline_day": self.back_to_baseline_day,
            "last_initial_day": self.last_initial_day,
            "noticeable_years_total": round(self.noticeable_years_total, 3),
            "noticeable_months_population_median": round(
                self.noticeable_months_population_median, 2
            ),
        }


#: How a forecast names the calibration shipped with needleplan.
DEFAULT_CALIBRATION = "default"


def calibration_words(label: str) -> str:
    """A calibration label as a patient or practitioner reads it."""
    if label == DEFAULT_CALIBRATION:
        return "the model as shipped with needleplan (published studies and guidance)"
    return f"this clinic's own calibration ({label})"


@dataclass(frozen=True)
class ForecastResult:
    """Population forecast for one patient and one schedule.

    Attributes
    ----------
    day : ndarray
        Daily grid from the first session [days].
    median, p10, p90 : ndarray
        Improvement across draws on each day [% of pre-treatment firmness].
    noticeable_threshold : float
        Just-noticeable improvement [% of pre-treatment firmness].
    session_days : ndarray
        Session days [days].
    n_initial : int
        Sessions in the initial series (the rest are maintenance).
    milestones : Milestones
    anchor_days : float
        Days after the last initial session at which "noticeable" is first judged (the typical
        response peak, see :func:`noticeable_span`) [days].
    years, draws, seed :
        The horizon [years] and Monte Carlo settings used.
    parameter_uncertainty : bool
        True when the band includes the model's own (parameter) uncertainty besides the spread
        between patients (see ``forecast(parameter_uncertainty=...)``).
    base_threshold : float or None
        The noticeable threshold before her goal scales it [% of pre-treatment firmness]: the
        model's derived value, or a clinic's own setting (``params.noticeable_threshold``).
    covariate_uncertainty : bool
        True when each draw also carries its own size of every covariate effect present
        (``forecast(covariate_uncertainty=...)``): part of the model's own uncertainty.
    calibration : str
        Which population calibration the forecast used: ``"default"`` (shipped with needleplan)
        or the clinic's adopted one (``"clinic calibration v2, adopted 2026-11-30"``), set by
        the surface that knows the clinic (:func:`named`).
    """

    day: NDArray[np.float64]
    median: NDArray[np.float64]
    p10: NDArray[np.float64]
    p90: NDArray[np.float64]
    noticeable_threshold: float
    session_days: NDArray[np.float64]
    n_initial: int
    milestones: Milestones
    years: float
    draws: int
    seed: int
    factors: tuple[str, ...] = field(default_factory=tuple)
    anchor_days: float = 0.0
    parameter_uncertainty: bool = False
    calibration: str = DEFAULT_CALIBRATION
    covariate_uncertainty: bool = False
    base_threshold: float | None = None

    @property
    def last_initial_day(self) -> float:
        return float(self.session_days[self.n_initial - 1])

    def improvement_on(self, day: float) -> float:
        """Median improvement on ``day`` (linear between grid days) [% of pre-treatment]."""
        return float(np.interp(day, self.day, self.median))

    def to_json(self, *, ndigits: int = 3) -> dict[str, Any]:
        """The ``needleplan forecast --json`` document."""
        return {
            "session_days": [
                int(d) if float(d).is_integer() else float(d) for d in self.session_days
            ],
            "initial_sessions": self.n_initial,
            "noticeable_threshold": self.noticeable_threshold,
            "years": self.years,
            "draws": self.draws,
            "seed": self.seed,
            "factors": list(self.factors),
            "calibration": self.calibration,
            "milestones": self.milestones.to_json(),
            "curve": {
                "day": [int(d) for d in self.day],
                "median": np.round(self.median, ndigits).tolist(),
                "p10": np.round(self.p10, ndigits).tolist(),
                "p90": np.round(self.p90, ndigits).tolist(),
            },
        }


def _milestones(
    day: NDArray[np.float64],
    median: NDArray[np.float64],
    spans: Band,
    censored: bool,
    threshold: float,
    last_initial: float,
    population_months: float,
) -> Milestones:
    peak = int(np.argmax(median))
    after = np.nonzero(median[peak:] <= 0.0)[0]
    back = int(day[peak + after[0]]) if after.size else None
    above = median >= threshold
    return Milestones(
        peak_day=int(day[peak]),
        peak_improvement=float(median[peak]),
        noticeable_months_after_last_initial=spans,
        noticeable_censored=censored,
        back_to_baseline_day=back,
        last_initial_day=round(last_initial),
        noticeable_years_total=float(np.count_nonzero(above)) / DAYS_PER_YEAR,
        noticeable_months_population_median=population_months,
    )


def knot_days(
    session_days: NDArray[np.float64], end: int, extra: Sequence[float] = ()
) -> NDArray[np.float64]:
    """Days on which every draw is evaluated for the band [days].

    Every session day, days 2, 4 and 10 after it (where the new response bends most), every 7
    days for 9 weeks after each session (the build-up; later the curves bend slowly), every 28 days
    elsewhere, the horizon's last day and ``extra`` (e.g. the noticeable anchor). Between knots
    the band is linear; the curves are smooth there (a test bounds the error against every
    day of every draw).
    """
    pts = [np.arange(0.0, end + 1.0, 28.0), np.asarray(session_days, dtype=np.float64)]
    for s0 in session_days:
        pts.append(s0 + KNOT_EARLY_DAYS)
        pts.append(s0 + np.arange(7.0, KNOT_DENSE_DAYS + 1.0, 7.0))
    pts.append(np.asarray([float(end), *extra], dtype=np.float64))
    k = np.unique(np.concatenate(pts))
    return np.asarray(k[(k >= 0) & (k <= end)], dtype=np.float64)


def _sample_band(
    values: NDArray[np.float64],
    censored: NDArray[np.bool_] | None = None,
    *,
    overwrite: bool = False,
) -> tuple[NDArray[np.float64], ...]:
    """numpy's default sample p10 and p90 across draws (axis 0) and, with ``censored``, whether
    both order statistics behind each are censored. ``overwrite`` lets it reorder ``values``
    in place (without ``censored``) instead of partitioning a copy."""
    n = values.shape[0]
    pos = [_quantile_positions(n, q) for q in (QUANTILES[0], QUANTILES[2])]
    kth = sorted({i for j, k, _ in pos for i in (j, k)})
    out: list[NDArray[np.float64]] = []
    flags: list[NDArray[np.float64]] = []
    if censored is None and overwrite:
        values.partition(kth, axis=0)  # O(n) per column, the order statistics only
        srt = values
    elif censored is None:
        srt = np.partition(values, kth, axis=0)
    else:
        order = np.argsort(values, axis=0, kind="stable")
        srt = np.take_along_axis(values, order, axis=0)
        c = np.take_along_axis(censored, order, axis=0)
    for j, k, w in pos:
        out.append(np.asarray(srt[j] + w * (srt[k] - srt[j]), dtype=np.float64))
        if censored is not None:
            flags.append(np.asarray(c[j] & c[k], dtype=np.float64))
    return (*out, *flags)

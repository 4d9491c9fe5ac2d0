"""Observation model: how a clinic's outcome scales see the model's improvement ``I(t)``.

Every scale (``needleplan.domain.records.MeasurementScale``) is a noisy, coarse reading of one
latent value that moves linearly with the improvement on the measurement day,

.. math::

    y^* = b + \\beta I(t) + \\sigma \\varepsilon, \\qquad \\varepsilon \\sim N(0, 1),

in the scale's own units, where ``I(t)`` is the improvement [% of pre-treatment firmness]
(``docs/model.md``), ``beta`` the slope [scale units per %], ``sigma`` the noise [scale units]
(rater and device variability, day-to-day skin state) and ``b`` the value at no improvement:

- **relative scales** (GAIS, satisfaction) rate the change since before treatment, so ``b`` is a
  fixed offset (GAIS 4 = "no change");
- **absolute scales** (wrinkle grade, laxity grade, Cutometer R2) rate the skin as it is, so
  ``b`` is the patient's own pre-treatment value: unknown, with a population prior
  ``N(b_0, tau^2)`` from her assessment (severity, age), learnt from her measurements taken on
  or before her first session (``needleplan.forecasting.learning`` integrates it out).

What is recorded is ``y*`` rounded to the scale's steps (whole grades, half laxity grades) and
clipped to the scale's bounds, i.e. an ordered-probit model with cut points half a step either
side of each value; Cutometer R2 is continuous (Gaussian), with values on its bounds treated as
censored. Every parameter's value and its source (all judgement, anchored as stated) are in
``docs/learning.md``; all functions are vectorised over numpy arrays and simulation takes an
explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, ndtr

from needleplan.domain import Assessment, Severity
from needleplan.domain.records import SCALES, MeasurementScale, ScaleInfo
from needleplan.exceptions import InputError


@dataclass(frozen=True)
class ScaleLink:
    """How one scale reads the improvement (the parameters of ``y* = b + beta I + sigma eps``).

    Attributes
    ----------
    scale : MeasurementScale
        The scale.
    slope : float
        ``beta``: change of the latent value per % of improvement [scale units / %]; negative
        for scales where lower is better (GAIS, grades).
    noise_sd : float
        ``sigma``: measurement noise [scale units].
    offset : float or None
        ``b`` for relative scales [scale units]; None for absolute scales (``b`` is the
        patient's own pre-treatment value, see :func:`baseline_prior`).
    baseline_sd : float
        ``tau``: spread of the pre-treatment value between patients with the same assessment
        [scale units] (absolute scales; 0 for relative ones).
    step : float or None
        Resolution of recorded values [scale units] (1 for whole grades, 0.5 for laxity);
        None for a continuous scale.
    source : str
        Where the values come from (shown in ``docs/learning.md``).
    baseline_shift : float
        Shift of the population mean of the pre-treatment value ``b_0`` [scale units]
        (absolute scales): 0 for the shipped model, a clinic calibration's estimate otherwise
        (``needleplan.forecasting.clinic_fit``).
    """

    scale: MeasurementScale
    slope: float
    noise_sd: float
    offset: float | None
    baseline_sd: float
    step: float | None
    source: str
    baseline_shift: float = 0.0

    @property
    def info(self) -> ScaleInfo:
        return SCALES[self.scale]

    @property
    def relative(self) -> bool:
        """True when the scale rates change since before treatment (``b`` is fixed)."""
        return self.offset is not None

    @property
    def better_sign(self) -> float:
        """+1 when a higher value is better on this scale, -1 when lower is better."""
        return 1.0 if self.info.higher_is_better else -1.0


#: The shipped observation model (values and their sources: ``docs/learning.md``).
DEFAULT_LINKS: Mapping[MeasurementScale, ScaleLink] = {
    MeasurementScale.GAIS: ScaleLink(
        MeasurementScale.GAIS,
        slope=-0.10,
        noise_sd=0.5,
        offset=4.0,
        baseline_sd=0.0,
        step=1.0,
        source=(
            "judgement: 4 = no change at I = 0; the no change | improved cut (3.5) at I = 5 %, "
            "then one grade per 10 %; sigma 0.5 grade "
            "(raters disagree by one grade in about a third of ratings)"
        ),
    ),
    MeasurementScale.SATISFACTION: ScaleLink(
        MeasurementScale.SATISFACTION,
        slope=0.35,
        noise_sd=1.5,
        offset=4.0,
        baseline_sd=0.0,
        step=1.0,
        source=(
            "judgement: 4/10 with no visible change, about 9/10 at a typical peak (+13.5 %); "
            "sigma 1.5 points (satisfaction also reflects cost, comfort, expectations)"
        ),
    ),
    MeasurementScale.WRINKLE_GRADE: ScaleLink(
        MeasurementScale.WRINKLE_GRADE,
        slope=-0.08,
        noise_sd=0.4,
        offset=None,
        baseline_sd=0.8,
        step=1.0,
        source=(
            "judgement: about one grade better at a typical peak (+13.5 %), the order reported "
            "after a microneedling series; sigma 0.4 grade (rater); baseline by severity"
        ),
    ),
    MeasurementScale.LAXITY_GRADE: ScaleLink(
        MeasurementScale.LAXITY_GRADE,
        slope=-0.06,
        noise_sd=0.35,
        offset=None,
        baseline_sd=0.6,
        step=0.5,
        source=(
            "judgement: about 0.8 grade better at a typical peak (+13.5 %): laxity responds "
            "less than wrinkles; sigma 0.35 grade (rater); baseline by severity"
        ),
    ),
    MeasurementScale.CUTOMETER_R2: ScaleLink(
        MeasurementScale.CUTOMETER_R2,
        slope=0.006,
        noise_sd=0.04,
        offset=None,
        baseline_sd=0.07,
        step=None,
        source=(
            "judgement: R2 moves in proportion to firmness (0.68 x 1 % per %, the age-50 "
            "baseline); baseline falls with age (direction: Krueger et al. 2011, Skin Res "
            "Technol 17:141-148); sigma 0.04 (device repeatability)"
        ),
    ),
}

#: The raters' graded scales of the skin whose first step defines "noticeable" (the patient's
#: satisfaction rates more than the skin; the Cutometer is continuous).
JND_SCALES = (
    MeasurementScale.GAIS,
    MeasurementScale.LAXITY_GRADE,
    MeasurementScale.WRINKLE_GRADE,
)


#: The raters' scales of tightening itself (GAIS globally, the laxity grade directly): the
#: noticeable threshold is derived from these two (the wrinkle grade rates lines, not firmness).
TIGHTENING_SCALES = (MeasurementScale.GAIS, MeasurementScale.LAXITY_GRADE)
#: Decimals the shipped threshold keeps [%]: the links' slopes and noise are judgement given to
#: one or two significant digits, so a finer threshold would claim a precision they lack.
THRESHOLD_DECIMALS = 1


def change_recorded_probability(link: ScaleLink, improvement: ArrayLike) -> NDArray[np.float64]:
    """Probability that one rating on a graded scale records a change [-] (broadcasts).

    ``Phi((|beta| I - step/2) / sigma)``: the latent reading moves ``|beta| I`` towards better
    and the rating leaves "no change" (or her own pre-treatment grade) once it is past the cut
    half a step away; ``sigma`` is the rater's noise. The psychometric function of the scale.

    Raises
    ------
    InputError
        for a continuous scale (no step).
    """
    if link.step is None:
        raise InputError.one("scale", link.scale.value, "must be a graded scale (it has no step)")
    i = np.asarray(improvement, dtype=np.float64)
    return np.asarray(ndtr((abs(link.slope) * i - link.step / 2.0) / link.noise_sd))


def derived_noticeable_threshold(
    links: Mapping[MeasurementScale, ScaleLink] | None = None,
    scales: tuple[MeasurementScale, ...] = TIGHTENING_SCALES,
) -> float:
    """The improvement raters notice half of the time, on the tightening scales [% of pre-treatment].

    The just-noticeable difference of psychophysics (the 50 % point of the psychometric
    function; Gescheider 1997, *Psychophysics: the fundamentals*, 3rd ed., ch. 1-3) applied to
    the observation model: the improvement ``I*`` at which a rating on GAIS or on the laxity
    grade (equally likely) records a change with probability one half,

    ``mean_i Phi((|beta_i| I* - h_i/2) / sigma_i) = 1/2``,

    with each scale's slope ``beta_i``, recorded step ``h_i`` and rater noise ``sigma_i``
    (:data:`DEFAULT_LINKS`). For two scales it is the noise-weighted mean of their own
    just-noticeable improvements ``J_i = (h_i/2)/|beta_i|`` (:func:`noticeable_from_link`) with
    weights ``|beta_i|/sigma_i``: the scale that tells a change from noise more sharply counts
    more. It lies between the scales' own values. Solved by bisection (the mean probability
    increases in ``I``).
    """
    table = DEFAULT_LINKS if links is None else links
    chosen = [link_for(s, table) for s in scales]
    own = [noticeable_from_link(link) for link in chosen]
    lo, hi = min(own), max(own)
    if hi - lo < 1e-12:
        return lo

    def excess(i: float) -> float:
        return float(np.mean([change_recorded_probability(lk, i) for lk in chosen])) - 0.5

    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if hi - lo <= 1e-12:
            break
        if excess(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def shipped_noticeable_threshold() -> float:
    """:func:`derived_noticeable_threshold` of the shipped links, to :data:`THRESHOLD_DECIMALS`."""
    return round(derived_noticeable_threshold(), THRESHOLD_DECIMALS)


def noticeable_range() -> tuple[float, float]:
    """Lowest and highest just-noticeable improvement over GAIS and the laxity grade [%].

    The two scales that rate tightening (GAIS globally, laxity directly); the shipped
    ``noticeable_threshold`` must lie within this range (a test checks it).
    """
    vals = [noticeable_from_link(DEFAULT_LINKS[s]) for s in JND_SCALES[:2]]
    return min(vals), max(vals)


def noticeable_from_link(link: ScaleLink) -> float:
    """Improvement at which a scale's typical rating first records a change [% of pre-treatment].

    The just-noticeable difference of a graded scale is its first recorded step: a rating moves
    from "no change" (or her own pre-treatment grade) to the next value when the latent reading
    crosses the cut half a step away, so the typical (noise-free) reading records a change from
    ``I = (step / 2) / |beta|`` on; half of noisy ratings do at that improvement.

    Raises
    ------
    InputError
        for a continuous scale (no step, no just-noticeable difference of its own).
    """
    if link.step is None:
        raise InputError.one("scale", link.scale.value, "must be a graded scale (it has no step)")
    return float(link.step / 2.0 / abs(link.slope))


#: Pre-treatment grade by the assessment's (effective) severity [grade].
_GRADE_BY_SEVERITY: Mapping[MeasurementScale, Mapping[Severity, float]] = {
    MeasurementScale.WRINKLE_GRADE: {
        Severity.MILD: 1.5,
        Severity.MODERATE: 2.5,
        Severity.ADVANCED: 3.5,
        Severity.SEVERE: 4.0,
    },
    MeasurementScale.LAXITY_GRADE: {
        Severity.MILD: 1.0,
        Severity.MODERATE: 2.0,
        Severity.ADVANCED: 3.0,
        Severity.SEVERE: 3.5,
    },
}
#: Cutometer R2 at age 20 [-] and its fall per year of age [1/year] (judgement).
R2_AT_20 = 0.80
R2_PER_YEAR = 0.004


def link_for(
    scale: MeasurementScale | str, links: Mapping[MeasurementScale, ScaleLink] | None = None
) -> ScaleLink:
    """The link of ``scale`` (default: :data:`DEFAULT_LINKS`); InputError for an unknown one."""
    try:
        key = MeasurementScale(scale)
    except ValueError:
        raise InputError.one(
            "scale", scale, "must be one of " + ", ".join(s.value for s in MeasurementScale)
        ) from None
    table = DEFAULT_LINKS if links is None else links
    if key not in table:
        raise InputError.one("scale", key.value, "has no observation link")
    return table[key]


def baseline_prior(link: ScaleLink, assessment: Assessment) -> tuple[float, float]:
    """Population prior ``(b_0, tau)`` of the patient's pre-treatment value [scale units].

    Relative scales return ``(offset, 0)``. Grades take their mean from the assessment's
    (effective) severity; Cutometer R2 falls linearly with age,
    ``b_0 = 0.80 - 0.004 (age - 20)`` (at least 0.3); both plus ``link.baseline_shift``.
    """
    if link.offset is not None:
        return link.offset, 0.0
    if link.scale is MeasurementScale.CUTOMETER_R2:
        mean = max(0.3, R2_AT_20 - R2_PER_YEAR * (assessment.age - 20))
        return mean + link.baseline_shift, link.baseline_sd
    by_severity = _GRADE_BY_SEVERITY.get(link.scale)
    if by_severity is None:
        raise InputError.one("scale", link.scale.value, "has no baseline prior")
    return by_severity[assessment.effective_severity] + link.baseline_shift, link.baseline_sd


def latent_mean(
    link: ScaleLink, improvement: ArrayLike, baseline: ArrayLike
) -> NDArray[np.float64]:
    """Expected latent value ``b + beta I`` [scale units] (broadcasts).

    Parameters
    ----------
    link : ScaleLink
    improvement : array_like
        ``I(t)`` on the measurement day [% of pre-treatment firmness].
    baseline : array_like
        ``b`` [scale units]: the offset of a relative scale or the patient's pre-treatment value.
    """
    i = np.asarray(improvement, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    return np.asarray(b + link.slope * i, dtype=np.float64)


def _edges(
    link: ScaleLink, value: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Latent interval ``(lo, hi]`` that records as ``value`` [scale units]."""
    info = link.info
    if link.step is None:
        lo = np.where(value <= info.low, -np.inf, value)
        hi = np.where(value >= info.high, np.inf, value)
        return lo, hi
    half = link.step / 2.0
    lo = np.where(value <= info.low, -np.inf, value - half)
    hi = np.where(value >= info.high, np.inf, value + half)
    return lo, hi


def _log_diff_ndtr(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(Phi(b) - Phi(a))`` for ``a < b``, stable in both tails."""
    upper = a > 0.0  # both in the upper tail: use Phi(-a) - Phi(-b)
    hi = np.where(upper, -a, b)
    lo = np.where(upper, -b, a)
    log_hi = log_ndtr(hi)
    log_lo = log_ndtr(lo)
    with np.errstate(divide="ignore"):
        out = log_hi + np.log1p(-np.exp(np.minimum(log_lo - log_hi, 0.0)))
    return np.asarray(out, dtype=np.float64)


def log_likelihood(link: ScaleLink, value: ArrayLike, mean: ArrayLike) -> NDArray[np.float64]:
    """Log-probability (density for Cutometer R2) of recorded ``value`` given the latent mean.

    Parameters
    ----------
    link : ScaleLink
    value : array_like
        Recorded values on the scale [scale units].
    mean : array_like
        Latent means ``b + beta I`` [scale units]; broadcast against ``value``.

    Returns
    -------
    ndarray
        Ordered-probit log-probability ``log(Phi((hi - mu)/sigma) - Phi((lo - mu)/sigma))``
        for stepped scales (the end categories open); for a continuous scale the Gaussian
        log-density, or the log-probability of the censored tail for a value on a bound.
    """
    v = np.asarray(value, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    v, mu = np.broadcast_arrays(v, mu)
    s = link.noise_sd
    lo, hi = _edges(link, v)
    if link.step is not None:
        return _log_diff_ndtr((lo - mu) / s, (hi - mu) / s)
    zed = (v - mu) / s
    dens = -0.5 * zed**2 - np.log(s * np.sqrt(2.0 * np.pi))
    out = np.where(np.isneginf(lo), log_ndtr(zed), np.where(np.isposinf(hi), log_ndtr(-zed), dens))
    return np.asarray(out, dtype=np.float64)


def predictive_cdf(
    link: ScaleLink, value: ArrayLike, mean: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``P(Y < value)`` and ``P(Y <= value)`` given the latent mean (for PIT / band checks).

    For a continuous scale inside its bounds the two are equal.
    """
    v = np.asarray(value, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    if v.ndim == 0:  # one value (a band check over many means): its edges once
        return _predictive_cdf_one(link, v, mu)
    v, mu = np.broadcast_arrays(v, mu)
    lo, hi = _edges(link, v)
    s = link.noise_sd
    below = ndtr((lo - mu) / s)
    at_or_below = ndtr((hi - mu) / s)
    if link.step is None:
        inside = np.isfinite(lo) & np.isfinite(hi)
        below = np.where(inside, ndtr((v - mu) / s), below)
        at_or_below = np.where(inside, below, at_or_below)
    return np.asarray(below, dtype=np.float64), np.asarray(at_or_below, dtype=np.float64)


def _predictive_cdf_one(
    link: ScaleLink, value: NDArray[np.float64], mu: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`predictive_cdf` of one recorded value over an array of latent means: the same
    values, without evaluating ``Phi`` at an open end (0 or 1) or twice at a continuous value.
    """
    lo, hi = (float(e) for e in _edges(link, value))
    s = link.noise_sd
    if link.step is None and math.isfinite(lo) and math.isfinite(hi):
        inside = np.asarray(ndtr((value - mu) / s), dtype=np.float64)
        return inside, inside.copy()
    below = np.zeros(mu.shape) if lo == -math.inf else ndtr((lo - mu) / s)
    at_or_below = np.ones(mu.shape) if hi == math.inf else ndtr((hi - mu) / s)
    return np.asarray(below, dtype=np.float64), np.asarray(at_or_below, dtype=np.float64)


def record(link: ScaleLink, latent: ArrayLike) -> NDArray[np.float64]:
    """What the clinic records for latent values: rounded to the scale's steps, clipped."""
    x = np.asarray(latent, dtype=np.float64)
    info = link.info
    if link.step is not None:
        x = np.round(x / link.step) * link.step
    return np.asarray(np.clip(x, info.low, info.high), dtype=np.float64)


def simulate(
    link: ScaleLink,
    improvement: ArrayLike,
    baseline: ArrayLike,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Draw recorded measurements for given improvements (the generative model).

    Parameters
    ----------
    link : ScaleLink
    improvement : array_like
        ``I(t)`` on each measurement day [% of pre-treatment firmness].
    baseline : array_like
        ``b`` [scale units] (broadcast).
    rng : numpy.random.Generator
        Source of the measurement noise.

    Returns
    -------
    ndarray
        Values on the scale (rounded to its steps, within its bounds).
    """
    mu = latent_mean(link, improvement, baseline)
    return record(link, mu + link.noise_sd * rng.standard_normal(mu.shape))


__all__ = [
    "DEFAULT_LINKS",
    "R2_AT_20",
    "R2_PER_YEAR",
    "THRESHOLD_DECIMALS",
    "TIGHTENING_SCALES",
    "ScaleLink",
    "baseline_prior",
    "change_recorded_probability",
    "derived_noticeable_threshold",
    "latent_mean",
    "link_for",
    "log_likelihood",
    "noticeable_from_link",
    "noticeable_range",
    "predictive_cdf",
    "record",
    "shipped_noticeable_threshold",
    "simulate",
]

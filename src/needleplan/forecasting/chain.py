"""Assessment + schedule -> firmness curves, uncertainty band, milestones and scenarios.

The public entry points are :func:`forecast`, :func:`series_days` and :func:`compare_scenarios`.
Improvement is in % of the patient's own pre-treatment firmness; days count from the first
session (day 0). Schedules and the validated range live in
:mod:`needleplan.forecasting.schedules`, the durations in :mod:`needleplan.forecasting.durations`
and the result types in :mod:`needleplan.forecasting.result`; their public names are
re-exported here, where callers have always imported them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from needleplan.domain import Assessment
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.durations import (
    noticeable_span,
    noticeable_time,
    response_peak_days,
)
from needleplan.forecasting.models import (
    CurveInputs,
    PatientModifiers,
    ageing_rate,
    conditional_persistence,
    improvement,
    patient_modifiers,
    persistence_from,
    random_effects,
    session_doses,
)
from needleplan.forecasting.models.covariates import (
    DrawnModifiers,
    drawn_modifiers,
    effect_strengths,
)
from needleplan.forecasting.params import (
    DAYS_PER_MONTH,
    ModelParams,
    default_params,
    own_threshold_only,
)
from needleplan.forecasting.result import (
    KNOT_DENSE_DAYS,
    KNOT_EARLY_DAYS,
    QUANTILES,
    Band,
    ForecastResult,
    Milestones,
    _milestones,
    _sample_band,
    knot_days,
)
from needleplan.forecasting.schedules import (
    INITIAL_INTERVAL_DAYS,
    MAINTENANCE_MONTHS,
    MAX_DRAWS,
    MAX_INITIAL_SESSIONS,
    MAX_SESSIONS,
    MAX_YEARS,
    MIN_SESSION_GAP_DAYS,
    VALIDATED_AGE,
    _check_age,
    _check_sessions,
    _check_years,
    _upkeep_days,
    check_initial_count,
    horizon_days,
    series_days,
    upkeep_grid,
)
from needleplan.forecasting.uncertainty import DrawnParams, load_posterior

__all__ = [
    "INITIAL_INTERVAL_DAYS",
    "KNOT_DENSE_DAYS",
    "KNOT_EARLY_DAYS",
    "MAINTENANCE_MONTHS",
    "MAX_DRAWS",
    "MAX_INITIAL_SESSIONS",
    "MAX_SESSIONS",
    "MAX_YEARS",
    "MIN_SESSION_GAP_DAYS",
    "QUANTILES",
    "VALIDATED_AGE",
    "Band",
    "ForecastResult",
    "Milestones",
    "check_initial_count",
    "curve_inputs",
    "forecast",
    "horizon_days",
    "knot_days",
    "noticeable_span",
    "noticeable_time",
    "response_peak_days",
    "series_days",
    "simulate",
    "upkeep_grid",
]


def curve_inputs(
    assessment: Assessment,
    session_days: NDArray[np.float64],
    z: ArrayLike,
    params: ModelParams,
    persistence: ArrayLike | None = None,
    drawn: DrawnParams | None = None,
    modifiers: DrawnModifiers | None = None,
) -> CurveInputs:
    """Model inputs for ``n`` curves of one patient, one per random-effect pair.

    ``z`` holds her response effects ``u_R`` and ``persistence`` her persistence effects
    ``u_P`` (same length); without ``persistence``, ``u_P`` is its mean given ``u_R``
    (``rho u_R``). Combines the typical-patient parameters, the assessment's covariate
    multipliers and the random effects into session doses, fading rates, capacity and ageing.
    With ``drawn`` (one row per curve, :class:`~needleplan.forecasting.uncertainty.DrawnParams`)
    the fitted population parameters are those rows instead of ``params``' values: parameter
    uncertainty. With ``modifiers`` (one row per curve,
    :func:`~needleplan.forecasting.models.covariates.drawn_modifiers`) each curve has its own
    draw of the covariate effects (and of the age terms' strength) instead of their central
    values: the covariate effects' uncertainty.
    """
    zz = np.atleast_1d(np.asarray(z, dtype=np.float64))[:, None]
    up = (
        conditional_persistence(zz, params)
        if persistence is None
        else np.atleast_1d(np.asarray(persistence, dtype=np.float64))[:, None]
    )
    if up.shape != zz.shape:
        raise InputError.one("persistence", up.shape, f"must match the response effects {zz.shape}")
    mods: PatientModifiers | DrawnModifiers = patient_modifiers(assessment)
    age_scale: float | NDArray[np.float64] = 1.0
    if modifiers is not None:
        if modifiers.response.shape[0] != zz.shape[0]:
            raise InputError.one(
                "modifiers", modifiers.response.shape, f"must match the effects {zz.shape}"
            )
        mods, age_scale = modifiers, modifiers.age
    re = random_effects(zz, up, params)
    if drawn is not None:
        if drawn.gain.shape[0] != zz.shape[0]:
            raise InputError.one("drawn", drawn.gain.shape, f"must match the effects {zz.shape}")
        base = drawn
    else:
        base = DrawnParams(
            gain=np.asarray(params.gain),
            capacity=np.asarray(params.capacity),
            k_build=np.asarray(params.k_build),
            k_fast=np.asarray(params.k_fast),
            k_slow=np.asarray(params.k_slow),
            remodelled_fraction=np.asarray(params.remodelled_fraction),
            ageing_rate_per_year=np.asarray(params.ageing_rate_per_year),
        )
    gain = base.gain * mods.response * re.response
    doses = session_doses(
        session_days,
        gain,
        age=float(assessment.age),
        heal_days=params.heal_days * mods.heal,
        age_response_per_decade=params.age_response_per_decade * age_scale,
    )
    return CurveInputs(
        session_days=session_days,
        doses=doses,
        k_build=base.k_build if drawn is not None else params.k_build,
        k_fast=base.k_fast * mods.fade * re.fade,
        k_slow=base.k_slow * mods.fade * re.fade,
        remodelled_fraction=(
            base.remodelled_fraction if drawn is not None else params.remodelled_fraction
        ),
        capacity=base.capacity * mods.capacity
        if drawn is not None
        else params.capacity * mods.capacity,
        ageing_rate=ageing_rate(
            base.ageing_rate_per_year,
            float(assessment.age),
            params.age_ageing_per_decade * age_scale,
            mods.ageing * re.ageing,
        ),
    )


def simulate(
    assessment: Assessment,
    session_days: Sequence[float] | ArrayLike,
    z: ArrayLike,
    *,
    years: float = 10.0,
    params: ModelParams | None = None,
    persistence: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Improvement curves for given random effects, every day (no shortcut).

    ``z`` are response effects ``u_R``; ``persistence`` the matching ``u_P`` (default: its
    mean given ``u_R``, ``rho u_R``; see :func:`curve_inputs`).

    Returns
    -------
    day : ndarray, shape (D,)
        Daily grid from 0 [days].
    curves : ndarray, shape (n, D)
        Improvement [% of pre-treatment firmness] for each ``z``.
    """
    _check_years(years)
    _check_age(assessment)
    p = default_params() if params is None else params
    end = horizon_days(years)
    s = _check_sessions(session_days, end)
    day = np.arange(end + 1, dtype=np.float64)
    return day, improvement(day, curve_inputs(assessment, s, z, p, persistence))


def forecast(
    assessment: Assessment,
    session_days: Sequence[float] | NDArray[np.float64],
    *,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
    n_initial: int | None = None,
    z_transform: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
    band: bool = True,
    maintenance_months: float | None = None,
    parameter_uncertainty: bool | None = None,
    covariate_uncertainty: bool | None = None,
    effects_transform: Callable[
        [NDArray[np.float64], NDArray[np.float64]],
        tuple[NDArray[np.float64], NDArray[np.float64]],
    ]
    | None = None,
) -> ForecastResult:
    """Forecast the improvement for a patient and a schedule, with the population band.

    Parameters
    ----------
    assessment : Assessment
        The patient (age 18-90; factors set response, fading, ageing and healing).
    session_days : sequence of float
        Session days from the first session [days]; first 0, ascending, at least 7 days apart,
        inside the horizon.
    years : float
        Horizon [years], at most 15.
    draws : int
        Population draws (patients like her) for the p10-p90 band.
    seed : int
        Seed of the ``numpy.random.Generator`` (reproducible).
    params : ModelParams, optional
        Parameters (default: the shipped calibration).
    n_initial : int
        Sessions in the initial series (the rest are maintenance). Required: ``None`` raises
        ``InputError`` (the model never infers the series from the gaps).
    z_transform : callable, optional
        A monotone increasing map applied to the standard-normal draws of her response effect
        ``u_R`` (and to its median 0): a patient's posterior over ``u_R``
        (:meth:`needleplan.forecasting.learning.ZPosterior.transform`) instead of the
        population prior. Her persistence effect follows its prior given ``u_R``.
    effects_transform : callable, optional
        Instead of ``z_transform``: a map from the seeded independent normals ``(u_r, e)`` to
        her two effects ``(u_R, u_P)``
        (:meth:`needleplan.forecasting.joint_posterior.EffectsPosterior.transform`, her joint
        posterior); the central curve is at its image of ``(0, 0)`` (her median response and
        the median persistence given it).
    band : bool
        False skips the draws: the typical patient only, the band collapsed onto it (for
        searches that read the central curve, such as the optimiser's).
    maintenance_months : float, optional
        The caller's statement that the sessions after the series are upkeep every ``M``
        months (as :func:`series_days` lays them out; anything else raises ``InputError``).
        Then the headline months (the typical patient's) are the least over upkeep every
        3, 4, ... ``ceil(M)`` months (:func:`upkeep_grid`): "at least this long if she comes
        back at least every ``ceil(M)`` months", which never grows when upkeep becomes less
        frequent. Without it the headline is this schedule's own time noticeable.
    parameter_uncertainty : bool, optional
        Whether each drawn patient also gets her own draw of the fitted population parameters
        from the stored posterior (:func:`~needleplan.forecasting.uncertainty.load_posterior`),
        so the band combines the model's own uncertainty with the spread between patients.
        Default: on with the shipped calibration (``params`` None, or the shipped parameters
        with only ``noticeable_threshold`` changed, such as a clinic's own threshold: the draws
        do not depend on it; :func:`~needleplan.forecasting.params.own_threshold_only`), off
        with other ``params`` (the draws belong to the shipped calibration).
    covariate_uncertainty : bool, optional
        Whether each drawn patient also gets her own draw of the size of every covariate effect
        present (smoking, diabetes, area, goal, ..., and the age terms; spreads in
        :data:`~needleplan.forecasting.models.covariates.SPREADS`), so the band carries how
        unsure those effects are. Default: as ``parameter_uncertainty`` (both are the model's
        own uncertainty). The central curve always uses the central effects.

    Returns
    -------
    ForecastResult

    Raises
    ------
    InputError
        for malformed input; ``ModelRangeError`` outside the validated range.

    Notes
    -----
    The central curve (``median``) is the **typical patient**'s curve with the point-fit
    parameters: both random effects at their median (``u_R = 0`` or its posterior median,
    ``u_P`` its mean given ``u_R``), every day, exactly. With parameter uncertainty, draw ``i``
    also takes posterior draw ``j_i``, ``j`` the next ``draws`` integers of the generator
    (uniform over the stored draws), so the band is a posterior predictive band. With
    covariate uncertainty, draw ``i`` then takes the strengths of every covariate effect from
    the next ``draws x K`` standard normals (one column per key of
    :data:`~needleplan.forecasting.models.covariates.UNCERTAIN_KEYS`, present or not, so adding
    a factor leaves the other factors' draws as they were); her goal's threshold is drawn too,
    so the noticeable months' band carries it. The band (``p10``, ``p90``) is the daily sample quantile across ``draws``
    patients, each with her own pair ``(u_R, u_P)``: ``u_R`` is the first ``draws`` standard
    normals of the seeded generator, ``u_P = rho u_R + sqrt(1 - rho^2) e`` with ``e`` the next
    ``draws``. The draws are evaluated on :func:`knot_days` and the quantiles interpolated
    linearly between knots (a test bounds the difference to the quantiles of every day). The
    noticeable months' band is the sample p10/p90 of each draw's duration on the knots; its
    median is the typical patient's; the population median of the durations is reported too.
    """
    _check_years(years)
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise InputError.one("draws", draws, f"must be a whole number 1-{MAX_DRAWS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError.one("seed", seed, "must be a whole number >= 0")
    _check_age(assessment)
    p = default_params() if params is None else params
    end = horizon_days(years)
    s = _check_sessions(session_days, end)
    n_init = check_initial_count(n_initial, int(s.size))
    rng = np.random.default_rng(seed)
    u_r = rng.standard_normal(draws)
    e = rng.standard_normal(draws)
    centre = np.zeros(1)
    centre_p: NDArray[np.float64] | None = None  # None: its mean given the centre's u_R
    if z_transform is not None and effects_transform is not None:
        raise InputError.one("effects_transform", "given", "cannot be combined with z_transform")
    if z_transform is not None:
        u_r = np.asarray(z_transform(u_r), dtype=np.float64)
        centre = np.asarray(z_transform(centre), dtype=np.float64)
    if effects_transform is not None:
        u_r, u_p = effects_transform(u_r, e)
        centre, centre_p = effects_transform(np.zeros(1), np.zeros(1))
    else:
        u_p = persistence_from(u_r, e, p)
    drawn: DrawnParams | None = None
    if parameter_uncertainty is None:
        parameter_uncertainty = params is None or own_threshold_only(params)
    if parameter_uncertainty and band:
        posterior = load_posterior()
        drawn = posterior.rates(rng.integers(0, len(posterior), draws), p)
    if covariate_uncertainty is None:
        covariate_uncertainty = parameter_uncertainty
    mods = patient_modifiers(assessment)
    drawn_mods: DrawnModifiers | None = None
    if covariate_uncertainty and band:
        drawn_mods = drawn_modifiers(mods.factors, effect_strengths(rng, draws))
    day = np.arange(end + 1, dtype=np.float64)
    last_initial = float(s[n_init - 1])
    anchor = last_initial + response_peak_days(p)
    threshold = p.noticeable_threshold * mods.threshold  # her goal sets what she notices
    # The typical patient, every day.
    median = improvement(day, curve_inputs(assessment, s, centre, p, centre_p))[0]
    span_mid, cens_mid = noticeable_time(day, median[None, :], threshold, last_initial, anchor)
    if band:  # every draw on the knots
        knots = knot_days(s, end, (anchor,))
        curves = improvement(knots, curve_inputs(assessment, s, u_r, p, u_p, drawn, drawn_mods))
        draw_threshold = (
            threshold if drawn_mods is None else p.noticeable_threshold * drawn_mods.threshold
        )
        span, cens = noticeable_time(knots, curves, draw_threshold, last_initial, anchor)
        k10, k90 = _sample_band(curves, overwrite=True)  # the curves are not needed after
        p10 = np.minimum(np.interp(day, knots, k10), median)
        p90 = np.maximum(np.interp(day, knots, k90), median)
        s10, s90, c10, c90 = _sample_band(span[:, None], cens[:, None])
    else:
        p10, p90, span = median, median, span_mid
        s10 = s90 = span_mid
        c10 = c90 = cens_mid.astype(np.float64)
    head, head_cens = float(span_mid[0]), bool(cens_mid[0])
    memo = _TYPICAL_TIMES.get()
    if memo is not None:
        memo[_typical_key(s, centre, centre_p, threshold, anchor, end)] = (head, head_cens)
    if maintenance_months is not None:
        head, head_cens = _upkeep_envelope(
            assessment,
            s,
            n_init,
            maintenance_months,
            end,
            p,
            (centre, centre_p),
            threshold,
            anchor,
            (head, head_cens),
        )
    months = Band(
        median=head / DAYS_PER_MONTH,
        p10=min(float(s10[0]), head) / DAYS_PER_MONTH,
        p90=max(float(s90[0]), head) / DAYS_PER_MONTH,
        p10_censored=bool(c10[0]),
        p90_censored=bool(c90[0]),
    )
    return ForecastResult(
        day=day,
        median=median,
        p10=p10,
        p90=p90,
        noticeable_threshold=threshold,
        session_days=s,
        n_initial=n_init,
        milestones=_milestones(
            day,
            median,
            months,
            head_cens,
            threshold,
            last_initial,
            float(np.median(span)) / DAYS_PER_MONTH,
        ),
        years=float(years),
        draws=draws,
        seed=seed,
        factors=mods.factors,
        anchor_days=response_peak_days(p),
        parameter_uncertainty=drawn is not None,
        covariate_uncertainty=drawn_mods is not None,
        base_threshold=p.noticeable_threshold,
    )


def _upkeep_envelope(
    assessment: Assessment,
    s: NDArray[np.float64],
    n_init: int,
    maintenance_months: float,
    end: int,
    p: ModelParams,
    centre: tuple[NDArray[np.float64], NDArray[np.float64] | None],
    threshold: float,
    anchor: float,
    own: tuple[float, bool],
) -> tuple[float, bool]:
    """The typical patient's least time noticeable over upkeep every 3..ceil(M) months [days].

    Also whether that least value is censored by the horizon (a lower bound). ``own`` is the
    time (and censoring) of the given schedule, already computed by the caller: the schedule
    of a whole ``M`` is one of the grid's and is not evaluated twice.
    """
    m = maintenance_months
    if isinstance(m, bool) or not isinstance(m, int | float) or not m == m:
        raise InputError.one("maintenance_months", m, "must be a number")
    mlo, mhi = MAINTENANCE_MONTHS
    if not mlo <= m <= mhi:
        raise ModelRangeError(
            f"maintenance_months: {m:g} is outside the validated range {mlo:g}-{mhi:g} months"
        )
    last_initial = float(s[n_init - 1])
    if not np.array_equal(s[n_init:], _upkeep_days(last_initial, float(m), end)):
        raise InputError.one(
            "maintenance_months",
            m,
            "must describe the sessions after the initial series (upkeep every M months from "
            "the last initial session to the horizon)",
        )
    day = np.arange(end + 1, dtype=np.float64)
    best, best_cens = math.inf, False
    memo = _TYPICAL_TIMES.get()
    for g in upkeep_grid(float(m)):  # at most 22 schedules, the typical patient only
        sd = np.concatenate([s[:n_init], _upkeep_days(last_initial, float(g), end)])
        if np.array_equal(sd, s):
            time_cens = own
        else:
            key = None if memo is None else _typical_key(sd, *centre, threshold, anchor, end)
            if key is not None and memo is not None and key in memo:
                time_cens = memo[key]
            else:
                curve = improvement(day, curve_inputs(assessment, sd, centre[0], p, centre[1]))
                t, c = noticeable_time(day, curve, threshold, last_initial, anchor)
                time_cens = (float(t[0]), bool(c[0]))
                if key is not None and memo is not None:
                    memo[key] = time_cens
        if time_cens[0] < best:
            best, best_cens = time_cens
    return best, best_cens


#: The typical patient's time noticeable per schedule, shared by the forecasts of one
#: :func:`same_patient` block (None outside one).
_TYPICAL_TIMES: ContextVar[dict[tuple[object, ...], tuple[float, bool]] | None] = ContextVar(
    "needleplan_typical_times", default=None
)


def _typical_key(
    s: NDArray[np.float64],
    centre: NDArray[np.float64],
    centre_p: NDArray[np.float64] | None,
    threshold: float,
    anchor: float,
    end: int,
) -> tuple[object, ...]:
    return (
        s.tobytes(),
        centre.tobytes(),
        None if centre_p is None else centre_p.tobytes(),
        threshold,
        anchor,
        end,
    )


@contextmanager
def same_patient() -> Iterator[None]:
    """A block in which every :func:`forecast` is of the same patient, assessment and model
    parameters (as in :func:`~needleplan.forecasting.scenarios.compare_scenarios`): the typical
    patient's time noticeable under a schedule is worked out once and reused, so the upkeep
    envelopes of several maintenance intervals share the schedules they have in common. Nothing
    else changes; outside such a block nothing is kept."""
    token = _TYPICAL_TIMES.set({})
    try:
        yield
    finally:
        _TYPICAL_TIMES.reset(token)

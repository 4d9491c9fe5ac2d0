"""forecast(), series_days() and the milestones: shapes, validation, the exact quantile shortcut."""

from __future__ import annotations

import numpy as np
import pytest

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.exceptions import InputError, ModelRangeError
from needleplan.forecasting.chain import (
    forecast,
    noticeable_span,
    noticeable_time,
    response_peak_days,
    series_days,
    simulate,
)
from needleplan.forecasting.models import persistence_from
from needleplan.forecasting.params import DAYS_PER_MONTH, default_params

REF = reference_assessment()


def test_series_days_spaces_the_initial_series_evenly() -> None:
    assert series_days(5, 35).tolist() == [0, 35, 70, 105, 140]


def test_series_days_adds_maintenance_every_m_months_until_the_horizon() -> None:
    days = series_days(5, 35, maintenance_months=12, years=10)
    maint = days[5:]
    assert maint[0] == pytest.approx(140 + 365.25, abs=0.5)
    assert np.allclose(np.diff(maint), 365.25, atol=1)
    assert maint[-1] <= 3652
    assert maint[-1] + 365.25 > 3652


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"n_sessions": 0, "interval_days": 35}, InputError, "sessions"),
        ({"n_sessions": 5, "interval_days": 3}, ModelRangeError, "interval_days"),
        ({"n_sessions": 5, "interval_days": 35, "years": 20}, ModelRangeError, "years"),
        ({"n_sessions": 5, "interval_days": 35, "years": -1}, InputError, "years"),
        (
            {"n_sessions": 5, "interval_days": 35, "maintenance_months": 48},
            ModelRangeError,
            "maintenance_months",
        ),
    ],
)
def test_series_days_rejects_values_outside_the_validated_range(
    kwargs: dict[str, float], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        series_days(**kwargs)  # type: ignore[arg-type]


def test_forecast_returns_a_daily_curve_with_an_ordered_band() -> None:
    res = forecast(REF, series_days(5, 35), n_initial=5)
    assert res.day[0] == 0
    assert res.day[-1] == 3652
    assert np.all(np.diff(res.day) == 1)
    assert res.median.shape == res.p10.shape == res.p90.shape == res.day.shape
    assert np.all(res.p10 <= res.median + 1e-12)
    assert np.all(res.median <= res.p90 + 1e-12)
    assert res.median[0] == 0.0
    assert res.noticeable_threshold == 4.6  # derived from the observation model


def test_forecast_is_reproducible_with_a_seed_and_varies_between_seeds() -> None:
    a = forecast(REF, series_days(5, 35), seed=3, n_initial=5)
    b = forecast(REF, series_days(5, 35), seed=3, n_initial=5)
    c = forecast(REF, series_days(5, 35), seed=4, n_initial=5)
    np.testing.assert_array_equal(a.p10, b.p10)
    assert not np.array_equal(a.p10, c.p10)


def test_band_on_the_knots_matches_every_draw_on_every_day() -> None:
    """The band (two random effects, every draw on the knots, linear between) is within 0.05
    points of numpy's per-day quantiles of every draw on every day; the central curve is the
    typical patient's exactly; the duration band is the draws' sample quantiles."""
    sd = series_days(4, 28, maintenance_months=6, years=3)
    draws, seed = 257, 11
    p = default_params()
    res = forecast(
        REF, sd, years=3, draws=draws, seed=seed, n_initial=4, parameter_uncertainty=False
    )
    rng = np.random.default_rng(seed)
    u_r = rng.standard_normal(draws)
    rho = p.random_effect_correlation
    u_p = rho * u_r + np.sqrt(1 - rho**2) * rng.standard_normal(draws)
    day, curves = simulate(REF, sd, u_r, years=3, persistence=u_p)
    q = np.quantile(curves, [0.1, 0.9], axis=0)
    np.testing.assert_allclose(res.p10, np.minimum(q[0], res.median), atol=0.05)
    np.testing.assert_allclose(res.p90, np.maximum(q[1], res.median), atol=0.05)
    _, typical = simulate(REF, sd, [0.0], years=3, persistence=[0.0])
    np.testing.assert_allclose(res.median, typical[0], atol=1e-12)
    anchor = float(sd[3]) + response_peak_days(p)
    span, _ = noticeable_time(day, curves, res.noticeable_threshold, float(sd[3]), anchor)
    band = res.milestones.noticeable_months_after_last_initial
    months = np.quantile(span, [0.1, 0.5, 0.9]) / (365.25 / 12)
    assert abs(band.p10 - months[0]) < 0.1  # knots vs days: within 3 days
    assert abs(band.p90 - months[2]) < 0.1
    assert abs(res.milestones.noticeable_months_population_median - months[1]) < 0.1


def test_two_random_effects_can_respond_well_and_fade_fast() -> None:
    """A strong responder with poor persistence peaks higher but ends sooner than a weak
    responder with strong persistence (one shared effect could not express this)."""
    sd = series_days(5, 35)
    _, curves = simulate(REF, sd, [1.5, -1.5], persistence=[-1.5, 1.5])
    assert curves[0].max() > curves[1].max()
    assert curves[0][-1] < curves[1][-1]


def test_the_response_effect_and_the_persistence_effect_are_correlated_as_stated() -> None:
    p = default_params()
    rng = np.random.default_rng(0)
    u_r = rng.standard_normal(20000)
    u_p = persistence_from(u_r, rng.standard_normal(20000), p)
    assert np.corrcoef(u_r, u_p)[0, 1] == pytest.approx(p.random_effect_correlation, abs=0.02)
    assert np.std(u_p) == pytest.approx(1.0, abs=0.02)


def test_improvement_rises_with_each_random_effect_on_every_day() -> None:
    """A better responder, or a patient who keeps her collagen longer, is better on every day."""
    smoker = parse_assessment({**REF.to_json_dict(), "smoking": "current", "age": 72})
    grid = np.linspace(-3, 3, 9)
    for who in (REF, smoker):
        sd = series_days(6, 21, maintenance_months=9)
        _, by_response = simulate(who, sd, grid, persistence=np.zeros(9))
        _, by_persistence = simulate(who, sd, np.zeros(9), persistence=grid)
        assert np.all(np.diff(by_response, axis=0) >= -1e-12)
        assert np.all(np.diff(by_persistence, axis=0) >= -1e-12)


@pytest.mark.parametrize(
    ("days", "error", "field"),
    [
        ([5, 40], InputError, "first session must be day 0"),
        ([0, 40, 30], InputError, "strictly increasing"),
        ([0, 3], ModelRangeError, "validated range"),
        ([0, 5000], InputError, "inside the horizon"),
        ([], InputError, "non-empty"),
    ],
)
def test_forecast_rejects_bad_session_days(
    days: list[float], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        forecast(REF, days, n_initial=1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"draws": 0}, InputError),
        ({"draws": 2.5}, InputError),
        ({"seed": -1}, InputError),
        ({"years": 16}, ModelRangeError),
    ],
)
def test_forecast_rejects_bad_settings(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        forecast(REF, [0, 35], n_initial=2, **kwargs)  # type: ignore[arg-type]


def test_to_json_has_the_documented_shape() -> None:
    doc = forecast(REF, series_days(5, 35), draws=200, n_initial=5).to_json()
    assert doc["session_days"] == [0, 35, 70, 105, 140]
    assert doc["noticeable_threshold"] == 4.6
    ms = doc["milestones"]
    assert set(ms) >= {
        "peak_day",
        "peak_improvement",
        "noticeable_months_after_last_initial",
        "back_to_baseline_day",
    }
    assert set(ms["noticeable_months_after_last_initial"]) >= {"median", "p10", "p90"}
    assert set(doc["curve"]) == {"day", "median", "p10", "p90"}
    assert len(doc["curve"]["day"]) == len(doc["curve"]["median"]) == 3653


def test_the_initial_series_is_never_guessed_from_the_gaps() -> None:
    """Without ``n_initial`` the forecast refuses; with it, frequent upkeep stays upkeep."""
    sd = series_days(5, 35, maintenance_months=3)
    with pytest.raises(InputError, match="n_initial"):
        forecast(REF, sd, draws=50)
    for bad in (0, sd.size + 1, 2.5, True):
        with pytest.raises(InputError, match="n_initial"):
            forecast(REF, sd, draws=50, n_initial=bad)  # type: ignore[arg-type]
    res = forecast(REF, sd, draws=50, n_initial=5)
    assert res.n_initial == 5
    # 3-monthly upkeep keeps her noticeable for years, not the 1.4 months of the old trap
    assert res.milestones.noticeable_months_after_last_initial.median > 60


def test_noticeable_span_ends_at_the_first_dip_and_flags_censoring() -> None:
    day = np.arange(10.0)
    curves = np.array(
        [
            [0, 6, 6, 6, 4, 6, 6, 6, 6, 6],  # dips on day 4: span ends between day 3 and 4
            [0, 6, 6, 6, 6, 6, 6, 6, 6, 6],  # still noticeable at the horizon
            [0, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # never noticeable
        ],
        dtype=float,
    )
    span, censored = noticeable_span(day, curves, 5.0, 0.0, anchor_day=1.0)
    assert span[0] == pytest.approx(3.5)
    assert span[1] == 9.0
    assert censored.tolist() == [False, True, False]
    assert span[2] == 0.0


def test_anchored_span_never_shortens_for_a_curve_that_is_higher_every_day() -> None:
    """A weak responder noticeable only after a maintenance session does not outlast a strong one."""
    day = np.arange(10.0)
    curves = np.array(
        [
            [0, 6, 6, 4, 6, 6, 6, 6, 6, 4],  # strong: noticeable at once, dips on day 3
            [0, 4, 4, 3, 5, 5, 5, 5, 5, 4],  # weak: noticeable only after the dip
        ],
        dtype=float,
    )
    free, _ = noticeable_span(day, curves, 5.0, 0.0)
    assert free[1] > free[0]  # the unanchored span is not monotone: the reason for the anchor
    anchored, _ = noticeable_span(day, curves, 5.0, 0.0, anchor_day=1.0)
    assert anchored[0] == pytest.approx(2.5)
    assert anchored[1] == 0.0


def test_a_session_before_the_last_has_healed_adds_less() -> None:
    early = forecast(REF, [0, 7], draws=101, n_initial=2).milestones.peak_improvement
    healed = forecast(REF, [0, 35], draws=101, n_initial=2).milestones.peak_improvement
    assert early < healed


def test_each_further_initial_session_adds_less_at_the_peak() -> None:
    peaks = [
        forecast(REF, series_days(n, 35), draws=101, n_initial=n).milestones.peak_improvement
        for n in range(1, 8)
    ]
    gains = np.diff(peaks)
    assert np.all(gains > 0)
    assert np.all(np.diff(gains) < 0)


def test_ageing_counts_against_the_improvement_long_after_treatment() -> None:
    res = forecast(REF, [0], years=10, draws=101, n_initial=1)
    assert res.median[-1] < 0
    assert res.milestones.back_to_baseline_day is not None


def test_forecast_refuses_an_age_outside_the_validated_range() -> None:
    """An Assessment built without validation (model_construct) still cannot extrapolate."""
    too_old = REF.model_copy(update={"age": 97})
    with pytest.raises(ModelRangeError, match="age"):
        forecast(too_old, [0, 35], n_initial=2)


def test_noticeable_span_anchor_makes_a_higher_curve_never_shorter() -> None:
    """A late riser that only becomes noticeable after a dip of a higher curve gets no more."""
    day = np.arange(10.0)
    high = np.array([6, 6, 6, 4.5, 6, 6, 6, 6, 6, 4], dtype=float)
    low = np.array([1, 1, 1, 1, 5.5, 5.5, 5.5, 5.5, 5.5, 1], dtype=float)
    span, _ = noticeable_span(day, np.vstack([high, low]), 5.0, 0.0, 1.0)
    assert span[0] >= span[1]
    assert span[1] == 0.0


def test_a_band_quantile_cut_off_by_the_horizon_is_marked_as_a_lower_bound() -> None:
    """Four years: the median patient's span ends inside the horizon, the p90 patient's does not."""
    short = forecast(REF, series_days(5, 35, years=4), years=4, draws=400, n_initial=5)
    band = short.milestones.noticeable_months_after_last_initial
    assert not short.milestones.noticeable_censored
    assert not band.p10_censored
    assert band.p90_censored
    months_left = (short.day[-1] - short.milestones.last_initial_day) / DAYS_PER_MONTH
    assert band.p90 == pytest.approx(months_left, abs=0.1), "censored at the last day"
    long = forecast(REF, series_days(5, 35, years=10), years=10, draws=400, n_initial=5)
    long_band = long.milestones.noticeable_months_after_last_initial
    assert not long_band.p90_censored
    assert long_band.p90 > band.p90
    doc = short.to_json()["milestones"]["noticeable_months_after_last_initial"]
    assert doc["p90_censored"] is True
    assert doc["p10_censored"] is False


@pytest.mark.parametrize("months", [None, 3, 12])
def test_band_on_the_sparser_knots_stays_within_tolerance_over_ten_years(
    months: int | None,
) -> None:
    """Knots weekly for 9 weeks after each session (then every 28 days): the band is still
    within 0.05 points of the per-day quantiles of every draw over a 10-year horizon."""
    sd = series_days(5, 35, maintenance_months=months)
    draws, seed = 400, 3
    p = default_params()
    res = forecast(REF, sd, draws=draws, seed=seed, n_initial=5, parameter_uncertainty=False)
    rng = np.random.default_rng(seed)
    u_r = rng.standard_normal(draws)
    u_p = persistence_from(u_r, rng.standard_normal(draws), p)
    _, curves = simulate(REF, sd, u_r, persistence=u_p)
    q = np.quantile(curves, [0.1, 0.9], axis=0)
    np.testing.assert_allclose(res.p10, np.minimum(q[0], res.median), atol=0.05)
    np.testing.assert_allclose(res.p90, np.maximum(q[1], res.median), atol=0.05)

"""The covariate effects' own uncertainty in the band (issue 15, point 4)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.forecasting.chain import curve_inputs, forecast, series_days
from needleplan.forecasting.durations import noticeable_time, response_peak_days
from needleplan.forecasting.models import improvement
from needleplan.forecasting.models.covariates import (
    BOUNDS,
    EFFECTS,
    UNCERTAIN_KEYS,
    drawn_modifiers,
    effect_strengths,
    family_of,
    patient_modifiers,
    present_keys,
)
from needleplan.forecasting.params import default_params
from tests.strategies import assessment_dicts

REF = reference_assessment().to_json_dict()
SERIES = series_days(5, 35)
NAMES = ("response", "fade", "ageing", "heal", "capacity", "threshold")
#: The worse direction of each multiplier: +1 when a larger value is worse.
WORSE = {"response": -1, "fade": 1, "ageing": 1, "heal": 1, "capacity": -1, "threshold": 1}


def _with(**changes: Any) -> Any:
    return parse_assessment({**REF, **changes})


SMOKER_DIABETIC = _with(smoking="current", conditions=["diabetes"])


def test_unit_strengths_give_the_central_multipliers() -> None:
    """With every strength 1 the drawn multipliers are patient_modifiers' exactly."""
    a = _with(smoking="current", conditions=["diabetes"], goal="maximal", areas=["neck", "abdomen"])
    central = patient_modifiers(a)
    dm = drawn_modifiers(central.factors, np.ones((3, len(UNCERTAIN_KEYS))))
    for name in NAMES:
        assert np.allclose(getattr(dm, name), getattr(central, name), rtol=1e-12), name
    assert np.all(dm.age == 1.0)


@settings(max_examples=60, deadline=None)
@given(assessment_dicts(), st.integers(0, 2**31))
def test_every_draw_keeps_each_factor_on_its_side_and_stacks_within_the_bounds(
    d: dict[str, Any], seed: int
) -> None:
    """Per draw: multipliers stay within the stated bounds, and a factor present never moves a
    multiplier in its better direction beyond what its central value does (s > 0)."""
    a = parse_assessment(d)
    keys = present_keys(a)
    s = effect_strengths(np.random.default_rng(seed), 64)
    dm = drawn_modifiers(keys, s)
    for name, (lo, hi) in BOUNDS.items():
        v = getattr(dm, name)
        assert np.all((v >= lo - 1e-12) & (v <= hi + 1e-12)), name
    for key in keys:
        one = drawn_modifiers([key], s)
        for name in NAMES:
            central = getattr(EFFECTS[key], name)
            v = getattr(one, name)
            if central == 1.0:
                assert np.all(v == 1.0)
            else:  # the same side of 1 as the central value in every draw
                assert np.all(np.sign(np.log(v)) == np.sign(np.log(central))), (key, name)


def test_the_levels_of_a_field_keep_their_order_in_every_draw() -> None:
    """Current smoking stays worse than former smoking (and poor aftercare than fair) per draw."""
    s = effect_strengths(np.random.default_rng(3), 500)
    for worse, better in (
        ("smoking=current", "smoking=former"),
        ("aftercare=poor", "aftercare=fair"),
        ("severity=severe", "severity=advanced"),
        ("goal=maximal", "goal=subtle"),
    ):
        assert family_of(worse) == family_of(better)
        w, b = drawn_modifiers([worse], s), drawn_modifiers([better], s)
        for name in NAMES:
            sign = WORSE[name]
            assert np.all(sign * (getattr(w, name) - getattr(b, name)) >= -1e-12), (worse, name)


def test_the_smoking_spread_reproduces_the_evidence_range() -> None:
    """80 % of draws of a current smoker's response multiplier lie near 0.75-0.90 (C1)."""
    s = effect_strengths(np.random.default_rng(0), 200_000)
    r = drawn_modifiers(["smoking=current"], s).response[:, 0]
    lo, mid, hi = np.quantile(r, [0.1, 0.5, 0.9])
    assert mid == pytest.approx(0.80, abs=0.002)
    assert 0.72 <= lo <= 0.76
    assert 0.84 <= hi <= 0.90


def test_the_band_carries_the_covariate_effects_and_the_centre_does_not_move() -> None:
    """A smoker with diabetes: same typical curve, a wider months' band, seeded."""
    without = forecast(SMOKER_DIABETIC, SERIES, n_initial=5, covariate_uncertainty=False)
    with_ = forecast(SMOKER_DIABETIC, SERIES, n_initial=5)
    again = forecast(SMOKER_DIABETIC, SERIES, n_initial=5)
    other = forecast(SMOKER_DIABETIC, SERIES, n_initial=5, seed=1)
    assert with_.covariate_uncertainty
    assert not without.covariate_uncertainty
    assert np.array_equal(with_.median, without.median)
    a = without.milestones.noticeable_months_after_last_initial
    b = with_.milestones.noticeable_months_after_last_initial
    assert b.median == a.median
    assert b.p10 < a.p10 - 0.5
    assert b.p90 > a.p90 + 1.0
    assert np.array_equal(with_.p10, again.p10)
    assert np.array_equal(with_.p90, again.p90)
    assert not np.array_equal(with_.p90, other.p90)


def test_other_parameters_draw_no_covariate_effects_unless_asked() -> None:
    """Given parameters (a clinic calibration) carry neither the posterior nor the covariate
    draws unless asked; the shipped fit with only a clinic's threshold changed carries both."""
    other = replace(default_params(), gain=default_params().gain * 1.05)
    res = forecast(SMOKER_DIABETIC, SERIES, n_initial=5, params=other, draws=50)
    assert not res.covariate_uncertainty
    assert not res.parameter_uncertainty
    asked = forecast(
        SMOKER_DIABETIC, SERIES, n_initial=5, params=other, draws=50, covariate_uncertainty=True
    )
    assert asked.covariate_uncertainty
    own = replace(default_params(), noticeable_threshold=6.0)  # a clinic's own threshold
    shipped = forecast(SMOKER_DIABETIC, SERIES, n_initial=5, params=own, draws=50)
    assert shipped.parameter_uncertainty
    assert shipped.covariate_uncertainty


@pytest.mark.parametrize(
    "change",
    [
        {"smoking": "current"},
        {"conditions": ["diabetes", "autoimmune"]},
        {"aftercare": "poor"},
        {"sun_exposure": "high", "spf_habit": False},
        {"goal": "maximal"},
        {"menopause": "recent", "sex": "female"},
    ],
)
def test_a_raising_factor_never_lengthens_any_single_draw(change: dict[str, Any]) -> None:
    """Common random numbers: with the same strengths for every factor, each draw of the worse
    patient is noticeable no longer than the same draw of the reference patient."""
    base = _with(smoking="former", conditions=["diabetes"])
    worse = parse_assessment({**base.to_json_dict(), **change})
    p = default_params()
    rng = np.random.default_rng(9)
    u_r, u_p = rng.standard_normal(300), rng.standard_normal(300)
    s = effect_strengths(rng, 300)
    days = np.arange(0.0, 3653.0)
    anchor = float(SERIES[4]) + response_peak_days(p)
    out = []
    for a in (base, worse):
        dm = drawn_modifiers(present_keys(a), s)
        curves = improvement(days, curve_inputs(a, SERIES, u_r, p, u_p, None, dm))
        t, _ = noticeable_time(
            days, curves, p.noticeable_threshold * dm.threshold, SERIES[4], anchor
        )
        out.append((curves, t))
    assert np.all(out[1][0] <= out[0][0] + 1e-9)
    assert np.all(out[1][1] <= out[0][1] + 1e-9)


def test_rows_near_the_build_rate_take_the_stable_path_and_the_others_are_unchanged() -> None:
    """Drawn effects put a few rows' fading rate near k_b: those rows are evaluated with the
    stable kernels, every other row exactly as it is alone (rows are independent)."""
    p = default_params()
    inputs = curve_inputs(SMOKER_DIABETIC, SERIES, np.zeros(4), p, np.zeros(4))
    k_fast = np.array([[p.k_fast], [p.k_build], [p.k_fast * 1.3], [p.k_build * (1 + 1e-5)]])
    mixed = type(inputs)(**{**inputs.__dict__, "k_fast": k_fast})
    days = np.arange(0.0, 800.0)
    together = improvement(days, mixed)
    for i in range(4):
        row = {
            k: (v[i : i + 1] if np.ndim(v) == 2 and k != "session_days" else v)
            for k, v in mixed.__dict__.items()
        }
        one = type(inputs)(**row)
        np.testing.assert_allclose(together[i], improvement(days, one)[0], rtol=0, atol=1e-12)
    assert np.all(np.isfinite(together))

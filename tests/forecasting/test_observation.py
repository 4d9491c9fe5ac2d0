"""The observation model: each outcome scale as a noisy, coarse reading of the improvement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment
from needleplan.domain.records import SCALES, MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    ScaleLink,
    baseline_prior,
    latent_mean,
    link_for,
    log_likelihood,
    predictive_cdf,
    record,
    simulate,
)
from needleplan.forecasting.params import default_params
from tests.strategies import examples

STEPPED = [s for s, lk in DEFAULT_LINKS.items() if lk.step is not None]


def _values(link: ScaleLink) -> np.ndarray:
    info = link.info
    assert link.step is not None
    return np.arange(info.low, info.high + link.step / 2, link.step)


def _assessment(**kw: object) -> object:
    return parse_assessment({"age": 50, "severity": "moderate", "areas": ["full_face"], **kw})


def test_every_scale_has_a_link_whose_slope_points_to_better() -> None:
    """More improvement moves every scale towards its 'better' end (GAIS and grades down)."""
    assert set(DEFAULT_LINKS) == set(MeasurementScale)
    for scale, link in DEFAULT_LINKS.items():
        assert link.scale is scale
        assert link.slope * link.better_sign > 0
        assert link.noise_sd > 0
        assert link.source


def test_gais_reads_no_change_at_zero_and_improved_from_the_noticeable_threshold() -> None:
    """GAIS 4 ('no change') at I = 0; the improved cut (3.5) sits near the just-noticeable
    improvement (GAIS alone 5 %; the threshold derived with the laxity grade is 4.6 %)."""
    gais = DEFAULT_LINKS[MeasurementScale.GAIS]
    assert latent_mean(gais, 0.0, gais.offset) == pytest.approx(4.0)
    cut_at = (3.5 - 4.0) / gais.slope
    assert cut_at == pytest.approx(default_params().noticeable_threshold, abs=0.5)
    probs = np.exp(log_likelihood(gais, _values(gais), 4.0))
    assert _values(gais)[np.argmax(probs)] == 4


@pytest.mark.parametrize("scale", STEPPED, ids=lambda s: s.value)
@given(mean=st.floats(-20, 30))
@settings(max_examples=examples(40), deadline=None)
def test_stepped_scale_probabilities_sum_to_one(scale: MeasurementScale, mean: float) -> None:
    """Over every value a stepped scale can record, the probabilities sum to 1 for any mean."""
    link = DEFAULT_LINKS[scale]
    total = np.exp(log_likelihood(link, _values(link), mean)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


def test_continuous_scale_density_and_censored_ends_integrate_to_one() -> None:
    """Cutometer R2: density inside (0, 1) plus the censored mass at 0 and 1 is 1."""
    link = DEFAULT_LINKS[MeasurementScale.CUTOMETER_R2]
    for mean in (-0.05, 0.4, 0.68, 0.99, 1.05):
        x = np.linspace(0, 1, 200_001)[1:-1]
        dens = np.exp(log_likelihood(link, x, mean))
        inside = float(np.sum(dens) * (x[1] - x[0]))
        ends = np.exp(log_likelihood(link, np.array([0.0, 1.0]), mean)).sum()
        assert inside + ends == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("scale", list(MeasurementScale), ids=lambda s: s.value)
def test_likelihood_is_finite_far_in_the_tails(scale: MeasurementScale) -> None:
    """No -inf or NaN when the value is far from the mean (log-space tails)."""
    link = DEFAULT_LINKS[scale]
    info = SCALES[scale]
    ll = log_likelihood(link, np.array([info.low, info.high]), np.array([[-200.0], [200.0]]))
    assert np.all(np.isfinite(ll))


@pytest.mark.parametrize("scale", STEPPED, ids=lambda s: s.value)
def test_better_values_are_more_likely_at_higher_improvement(scale: MeasurementScale) -> None:
    """Monotone likelihood ratio: p(one step better)/p(value) increases with I on every value."""
    link = DEFAULT_LINKS[scale]
    values = _values(link)
    improvements = np.linspace(-10, 30, 81)[:, None]
    b = baseline_prior(link, _assessment())[0]
    ll = log_likelihood(link, values[None, :], latent_mean(link, improvements, b))
    better = ll[:, :-1] - ll[:, 1:] if link.better_sign < 0 else ll[:, 1:] - ll[:, :-1]
    assert np.all(np.diff(better, axis=0) > -1e-9)


@pytest.mark.parametrize("scale", list(MeasurementScale), ids=lambda s: s.value)
def test_predictive_cdf_brackets_the_probability_of_the_value(scale: MeasurementScale) -> None:
    """P(Y <= y) - P(Y < y) is the probability of a stepped value; 0 inside a continuous scale."""
    link = DEFAULT_LINKS[scale]
    info = SCALES[scale]
    values = _values(link) if link.step else np.array([info.low, 0.37, 0.81, info.high])
    lo, hi = predictive_cdf(link, values, 2.0 if link.step else 0.6)
    assert np.all(lo <= hi)
    assert np.all((lo >= 0) & (hi <= 1))
    if link.step:
        np.testing.assert_allclose(hi - lo, np.exp(log_likelihood(link, values, 2.0)), atol=1e-12)
        assert lo[0] == 0
        assert hi[-1] == pytest.approx(1.0)
    else:
        np.testing.assert_allclose(lo[1:3], hi[1:3])


@pytest.mark.parametrize("scale", list(MeasurementScale), ids=lambda s: s.value)
def test_simulated_values_lie_on_the_scale_and_follow_the_likelihood(
    scale: MeasurementScale,
) -> None:
    """Simulation (seeded Generator) records valid values; frequencies match the model."""
    link = DEFAULT_LINKS[scale]
    b = baseline_prior(link, _assessment())[0]
    rng = np.random.default_rng(3)
    values = simulate(link, np.full(20_000, 8.0), b, rng)
    for v in values[:200]:
        scale.check(float(v))
    again = simulate(link, np.full(20_000, 8.0), b, np.random.default_rng(3))
    np.testing.assert_array_equal(values, again)
    mu = float(latent_mean(link, 8.0, b))
    if link.step:
        support = _values(link)
        freq = np.array([np.mean(values == v) for v in support])
        np.testing.assert_allclose(freq, np.exp(log_likelihood(link, support, mu)), atol=0.015)
    else:
        assert float(np.mean(values)) == pytest.approx(mu, abs=0.002)


def test_record_rounds_to_steps_and_clips() -> None:
    """Laxity takes half grades; GAIS whole grades within 1-5."""
    lax = DEFAULT_LINKS[MeasurementScale.LAXITY_GRADE]
    np.testing.assert_array_equal(record(lax, [1.26, 1.74, -3.0, 9.0]), [1.5, 1.5, 0.0, 4.0])
    gais = DEFAULT_LINKS[MeasurementScale.GAIS]
    np.testing.assert_array_equal(record(gais, [0.2, 2.6, 7.0]), [1.0, 3.0, 5.0])


def test_baseline_priors_follow_severity_and_age() -> None:
    """Grades start worse with more severe ageing; Cutometer R2 starts lower when older."""
    for scale in (MeasurementScale.WRINKLE_GRADE, MeasurementScale.LAXITY_GRADE):
        link = DEFAULT_LINKS[scale]
        means = [
            baseline_prior(link, _assessment(severity=s))[0]
            for s in ("mild", "moderate", "advanced", "severe")
        ]
        assert means == sorted(means)
        assert len(set(means)) == 4
    r2 = DEFAULT_LINKS[MeasurementScale.CUTOMETER_R2]
    young, old = baseline_prior(r2, _assessment(age=30)), baseline_prior(r2, _assessment(age=70))
    assert young[0] > old[0]
    assert young[1] == old[1] > 0
    gais = DEFAULT_LINKS[MeasurementScale.GAIS]
    assert baseline_prior(gais, _assessment()) == (4.0, 0.0)


def test_unknown_scale_is_an_input_error_naming_the_field() -> None:
    with pytest.raises(InputError) as err:
        link_for("smoothness")
    assert err.value.problems[0].field == "scale"

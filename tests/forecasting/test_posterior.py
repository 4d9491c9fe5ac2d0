"""Parameter uncertainty: the sampler, its diagnostics, the stored draws and the forecast's band."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from needleplan.domain import reference_assessment
from needleplan.exceptions import ConfigError
from needleplan.forecasting.calibration import posterior as post
from needleplan.forecasting.chain import curve_inputs, forecast, series_days
from needleplan.forecasting.models import improvement, persistence_from
from needleplan.forecasting.params import FITTED, default_params
from needleplan.forecasting.uncertainty import POSTERIOR_PATH, load_posterior

REF = reference_assessment()


def test_adaptive_metropolis_recovers_a_correlated_gaussian() -> None:
    """On a known 2-d Gaussian (sd 1 and 2, correlation 0.8) the chains recover the mean and
    covariance, and the diagnostics say they converged."""
    cov = np.array([[1.0, 1.6], [1.6, 4.0]])
    prec = np.linalg.inv(cov)
    mean = np.array([1.0, -2.0])

    def logp(x: np.ndarray) -> float:
        d = x - mean
        return float(-0.5 * d @ prec @ d)

    rng = np.random.default_rng(5)
    starts = mean + 3.0 * rng.standard_normal((4, 2))
    res = post.adaptive_metropolis(logp, starts, np.eye(2), burn=500, keep=1000, thin=2, rng=rng)
    flat = res.theta.reshape(-1, 2)
    np.testing.assert_allclose(flat.mean(axis=0), mean, atol=0.25)
    np.testing.assert_allclose(np.cov(flat, rowvar=False), cov, rtol=0.25, atol=0.1)
    for j in range(2):
        assert post.split_rhat(res.theta[:, :, j]) < 1.05
        assert post.effective_sample_size(res.theta[:, :, j]) > 300
    assert np.all((res.acceptance > 0.1) & (res.acceptance < 0.7))


def test_rhat_flags_chains_that_disagree_and_ess_counts_autocorrelation() -> None:
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 500))
    assert post.split_rhat(iid) < 1.02
    assert post.effective_sample_size(iid) == pytest.approx(2000, rel=0.15)
    apart = iid + np.arange(4)[:, None]  # chains stuck in different places
    assert post.split_rhat(apart) > 1.5
    ar = np.zeros((4, 500))  # AR(1), phi 0.9: ESS about n (1 - phi) / (1 + phi)
    for t in range(1, 500):
        ar[:, t] = 0.9 * ar[:, t - 1] + rng.standard_normal(4)
    assert post.effective_sample_size(ar) < 0.15 * 2000


def test_the_stored_draws_pass_the_check() -> None:
    """What CI runs (``posterior --check``): R-hat and ESS re-derived from the stored draws,
    the log posterior of stored draws re-evaluated with today's code and data."""
    assert post.check(recompute=2) == []


def test_the_check_fails_on_draws_that_do_not_belong_to_the_model(tmp_path: Path) -> None:
    doc = json.loads(POSTERIOR_PATH.read_text(encoding="utf-8"))
    doc["log_posterior"] = [v - 5.0 for v in doc["log_posterior"]]
    bad = tmp_path / "posterior.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    problems = post.check(bad, recompute=1)
    assert any("log posterior" in p for p in problems)


def test_the_posterior_file_is_read_checked() -> None:
    draws = load_posterior()
    assert draws.names == tuple(FITTED)
    assert 200 <= len(draws) <= 2000
    doc = json.loads(POSTERIOR_PATH.read_text(encoding="utf-8"))
    shipped = default_params()
    for name, s in doc["summary"].items():  # the point fit sits inside its posterior
        assert s["p5"] <= getattr(shipped, name) <= s["p95"], name


def test_a_malformed_posterior_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"names": ["gain", "colour"], "draws": [[1.0, 2.0]]}))
    with pytest.raises(ConfigError, match="colour"):
        load_posterior(str(bad))
    bad.write_text(json.dumps({"names": ["gain"], "draws": [[-1.0]]}))
    with pytest.raises(ConfigError, match="> 0"):
        load_posterior(str(bad))


def test_the_band_combines_parameter_uncertainty_and_the_spread_between_patients() -> None:
    """With the shipped calibration each draw also takes a posterior draw: the central curve
    is unchanged (the typical patient at the point fit), the band around the peak, where the
    trials inform the parameters, is much wider than the spread between patients alone (the
    band used to pinch there), and it equals the per-day quantiles of the same draws computed
    on every day."""
    sd = series_days(5, 35)
    both = forecast(REF, sd, years=4, draws=300, seed=2, n_initial=5)
    alone = forecast(REF, sd, years=4, draws=300, seed=2, n_initial=5, parameter_uncertainty=False)
    assert both.parameter_uncertainty
    assert not alone.parameter_uncertainty
    np.testing.assert_array_equal(both.median, alone.median)
    peak = int(both.last_initial_day + both.anchor_days)
    assert both.p90[peak] - both.p10[peak] > 1.2 * (alone.p90[peak] - alone.p10[peak])
    # the same draws, every day
    p = default_params()
    rng = np.random.default_rng(2)
    u_r = rng.standard_normal(300)
    u_p = persistence_from(u_r, rng.standard_normal(300), p)
    posterior = load_posterior()
    drawn = posterior.rates(rng.integers(0, len(posterior), 300), p)
    curves = improvement(both.day, curve_inputs(REF, sd, u_r, p, u_p, drawn))
    q = np.quantile(curves, [0.1, 0.9], axis=0)
    # the posterior's faster-bending curves put the knots' linear error a little above the 0.05
    # points of the between-patient band (docs/model.md, "Between patients")
    np.testing.assert_allclose(both.p10, np.minimum(q[0], both.median), atol=0.08)
    np.testing.assert_allclose(both.p90, np.maximum(q[1], both.median), atol=0.08)


def test_given_parameters_leave_parameter_uncertainty_off_unless_asked() -> None:
    p = default_params()
    sd = series_days(3, 35)
    assert not forecast(REF, sd, years=2, draws=50, n_initial=3, params=p).parameter_uncertainty
    assert forecast(
        REF, sd, years=2, draws=50, n_initial=3, params=p, parameter_uncertainty=True
    ).parameter_uncertainty
    assert not forecast(REF, sd, years=2, n_initial=3, band=False).parameter_uncertainty


def test_log_posterior_is_minus_the_point_fits_cost() -> None:
    """The density is the fit's objective read as a likelihood: at the point fit it equals
    minus the cost recorded by the fit, and outside the prior's support it is -inf."""
    from needleplan.forecasting.calibration.claims import load_targets
    from needleplan.forecasting.calibration.fit import to_theta
    from needleplan.forecasting.params import PARAMS_PATH

    shipped = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    theta = to_theta(default_params())
    lp = post.log_posterior(theta, default_params(), load_targets())
    assert lp == pytest.approx(-shipped["calibration"]["cost"], rel=1e-5)
    bad = theta.copy()
    bad[FITTED.index("build_days")] = math.log(1000.0)  # build-up slower than the fast fade
    assert post.log_posterior(bad, default_params(), load_targets()) == -math.inf

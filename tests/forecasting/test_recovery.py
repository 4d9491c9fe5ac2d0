"""Parameter recovery: simulate with known parameters, fit, recover them."""

from __future__ import annotations

import numpy as np
import pytest

from needleplan.domain import reference_assessment
from needleplan.forecasting.calibration.fit import fit_curves
from needleplan.forecasting.chain import series_days, simulate
from needleplan.forecasting.params import FITTED, ModelParams, default_params

SCHEDULES = {
    "series": series_days(5, 35),
    "single": series_days(1, 35),
    "maintenance_12m": series_days(5, 35, maintenance_months=12),
    "maintenance_6m": series_days(5, 35, maintenance_months=6),
}


def observe(
    truth: ModelParams, noise: float, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = {}
    for name, sd in SCHEDULES.items():
        day, curves = simulate(reference_assessment(), sd, [0.0], params=truth)
        obs_days = day[::14]
        values = curves[0][::14] + noise * rng.standard_normal(obs_days.size)
        out[name] = (sd, obs_days, values)
    return out


def perturbed_truth() -> ModelParams:
    base = default_params()
    return base.with_values(
        gain=base.gain * 1.15,
        capacity=base.capacity * 0.9,
        build_days=base.build_days * 1.1,
        fast_fade_days=base.fast_fade_days * 0.85,
        slow_fade_years=base.slow_fade_years * 1.2,
        remodelled_fraction=base.remodelled_fraction * 0.9,
        ageing_rate_per_year=base.ageing_rate_per_year * 1.1,
    )


def test_fit_recovers_known_parameters_from_noise_free_curves() -> None:
    truth = perturbed_truth()
    fitted = fit_curves(observe(truth, 0.0, np.random.default_rng(0)), default_params())
    for name in FITTED:
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=1e-4), name


def test_fit_recovers_known_parameters_from_noisy_curves() -> None:
    """With measurement noise of 0.1 % firmness every two weeks, each within 10 %."""
    truth = perturbed_truth()
    fitted = fit_curves(observe(truth, 0.1, np.random.default_rng(1)), default_params())
    for name in FITTED:
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.10), name

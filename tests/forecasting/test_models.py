"""The mechanism functions: kernel, spacing, capacity, ageing, doses, superposition."""

from __future__ import annotations

import numpy as np
import pytest

from needleplan.exceptions import ConfigError
from needleplan.forecasting.models import (
    ageing_decline,
    ageing_rate,
    healing_kernel,
    saturate,
    session_doses,
    spacing_factor,
)
from needleplan.forecasting.models.firmness import CurveInputs, improvement, treatment_dose
from needleplan.forecasting.params import ModelParams, default_params, load_params

KB, KF = 1 / 30, 1 / 150


def test_kernel_is_zero_before_and_at_the_session_and_positive_after() -> None:
    tau = np.array([-10.0, -1.0, 0.0, 1.0, 30.0, 400.0])
    b = healing_kernel(tau, KB, KF)
    assert b[:3].tolist() == [0.0, 0.0, 0.0]
    assert np.all(b[3:] > 0)


def test_kernel_peaks_where_the_difference_of_exponentials_says() -> None:
    tau = np.linspace(0, 400, 400001)
    b = healing_kernel(tau, KB, KF)
    expected = np.log(KB / KF) / (KB - KF)
    assert tau[np.argmax(b)] == pytest.approx(expected, abs=1e-3)


def test_kernel_integrates_to_the_collagen_lifetime() -> None:
    """All of a unit dose becomes collagen, which lasts 1/k on average: the area is 1/k."""
    tau = np.linspace(0, 6000, 600001)
    b = healing_kernel(tau, KB, KF)
    area = float(np.sum((b[1:] + b[:-1]) / 2 * np.diff(tau)))
    assert area == pytest.approx(1 / KF, rel=1e-4)


def test_kernel_is_finite_and_continuous_when_fading_equals_build_rate() -> None:
    tau = np.array([5.0, 40.0])
    at = healing_kernel(tau, KB, KB)
    np.testing.assert_allclose(at, KB * tau * np.exp(-KB * tau), rtol=1e-12)
    np.testing.assert_allclose(healing_kernel(tau, KB, KB * (1 + 1e-7)), at, rtol=1e-6)


def test_faster_fading_gives_less_collagen_at_every_moment() -> None:
    tau = np.arange(1, 2000.0)
    assert np.all(healing_kernel(tau, KB, 2 * KF) < healing_kernel(tau, KB, KF))


def test_spacing_factor_penalises_sessions_before_healing() -> None:
    q = spacing_factor(np.array([0.0, 7.0, 42.0, 77.0]), heal_days=7.0)
    assert q[0] == 1.0
    assert q[1] == pytest.approx(1 - np.exp(-1), rel=1e-12)
    assert q[2] == pytest.approx(1 - np.exp(-5), rel=1e-12)
    assert q[1] < q[2] <= q[3] < 1


def test_saturation_is_near_identity_when_small_and_never_exceeds_capacity() -> None:
    z = np.array([0.0, 0.01, 5.0, 50.0, 1e4])
    s = saturate(z, 15.0)
    assert s[0] == 0.0
    assert s[1] == pytest.approx(0.01, rel=1e-3)
    assert np.all(s <= 15.0)
    assert np.all(np.diff(s) > 0)


def test_each_equal_dose_adds_less_than_the_one_before() -> None:
    """Diminishing returns: equal dose steps give shrinking visible gains."""
    gains = np.diff(saturate(np.arange(0.0, 60.0, 6.0), 15.0))
    assert np.all(np.diff(gains) < 0)


def test_ageing_decline_starts_at_zero_and_is_about_r_t_early() -> None:
    r = ageing_rate(0.01, 50.0, 0.15)
    d = ageing_decline(np.array([0.0, 365.25]), r)
    assert d[0] == 0.0
    soft = 0.01 / (1 + (0.01 / 0.012) ** 8) ** (1 / 8)  # the adult-range soft cap
    assert d[1] == pytest.approx(100 * (1 - np.exp(-soft)), rel=1e-12)
    assert d[1] == pytest.approx(100 * (1 - np.exp(-0.01)), rel=0.03)


def test_the_ageing_rate_never_leaves_the_adult_range_and_keeps_its_order() -> None:
    """A1/A2: at most about 1.2 %/year, however high the raw rate; monotone in it."""
    raw = np.geomspace(1e-4, 0.1, 200)
    r = ageing_rate(1.0, 50.0, 0.15, raw) * 365.25
    assert np.all(r <= 0.012 + 1e-15)
    assert np.all(np.diff(r) > 0)


def test_older_patients_age_faster() -> None:
    assert ageing_rate(0.01, 70.0, 0.15) > ageing_rate(0.01, 50.0, 0.15)


def test_later_sessions_respond_a_little_less_as_the_patient_ages() -> None:
    doses = session_doses(
        np.array([0.0, 365.25 * 5]), 10.0, age=50, heal_days=7, age_response_per_decade=0.1
    )
    assert doses[0] == pytest.approx(10.0)
    assert doses[1] == pytest.approx(10.0 * np.exp(-0.05), rel=1e-3)


def test_state_propagation_equals_the_sum_of_session_kernels() -> None:
    """treatment_dose's closed form equals the explicit superposition of every session."""
    days = np.arange(0, 1500.0)
    sessions = np.array([0.0, 30.0, 61.0, 400.0, 730.0])
    doses = np.array([[5.0, 4.0, 3.5, 2.0, 1.5], [7.0, 6.0, 5.0, 4.0, 3.0]])
    kf = np.array([[1 / 150], [1 / 90]])
    ks = np.array([[1 / 1000], [1 / 700]])
    inputs = CurveInputs(sessions, doses, KB, kf, ks, 0.4, 15.0, np.array([[1e-5], [2e-5]]))
    expected = np.zeros((2, days.size))
    for k, s in enumerate(sessions):
        tau = days - s
        expected += doses[:, k : k + 1] * (
            0.6 * healing_kernel(tau, KB, kf) + 0.4 * healing_kernel(tau, KB, ks)
        )
    np.testing.assert_allclose(treatment_dose(days, inputs), expected, rtol=1e-11, atol=1e-12)
    imp = improvement(days, inputs)
    np.testing.assert_allclose(
        imp, saturate(expected, 15.0) - ageing_decline(days, inputs.ageing_rate), atol=1e-11
    )


def test_many_curves_with_their_own_parameters_equal_the_sum_of_session_kernels() -> None:
    """The blocked in-place evaluation (many rows, a loop over sessions with repeated gaps,
    per-row build-up, remodelled share and capacity) equals the explicit superposition, and
    each row is the same to the bit whichever other rows are in the call."""
    rng = np.random.default_rng(3)
    n = 700  # more rows than one block, and n * S^2 above SMALL_STATE_SIZE: the session loop
    days = np.arange(0, 2000.0, 3.0)
    sessions = np.array([0.0, 35.0, 70.0, 105.0, 140.0, 322.0, 504.0, 686.0, 868.0, 1050.0])
    doses = rng.uniform(2.0, 8.0, (n, sessions.size))
    kb = rng.uniform(1 / 90, 1 / 20, (n, 1))
    kf = rng.uniform(1 / 400, 1 / 120, (n, 1))
    ks = rng.uniform(1 / 2500, 1 / 700, (n, 1))
    phi = rng.uniform(0.2, 0.6, (n, 1))
    cap = rng.uniform(10.0, 20.0, (n, 1))
    r = rng.uniform(1e-5, 3e-5, (n, 1))
    inputs = CurveInputs(sessions, doses, kb, kf, ks, phi, cap, r)
    expected = np.zeros((n, days.size))
    for k, s in enumerate(sessions):
        tau = days - s
        expected += doses[:, k : k + 1] * (
            (1 - phi) * healing_kernel(tau, kb, kf) + phi * healing_kernel(tau, kb, ks)
        )
    imp = improvement(days, inputs)
    np.testing.assert_allclose(
        imp, saturate(expected, cap) - ageing_decline(days, r), rtol=1e-10, atol=1e-11
    )
    rows = slice(100, 460)
    part = CurveInputs(
        sessions, doses[rows], kb[rows], kf[rows], ks[rows], phi[rows], cap[rows], r[rows]
    )
    assert np.array_equal(improvement(days, part), imp[rows])


def test_shipped_parameters_load_and_differ_from_the_priors() -> None:
    p = load_params(None)
    assert p == default_params()
    assert p.noticeable_threshold == 4.6
    assert p != ModelParams()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gain": -1.0}, "gain"),
        ({"remodelled_fraction": 1.5}, "remodelled_fraction"),
        ({"build_days": 400.0}, "fast_fade_days"),
        ({"capacity": float("nan")}, "capacity"),
    ],
)
def test_bad_parameters_are_rejected_naming_the_field(change: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        ModelParams().with_values(**change)
    assert field in str(err.value)


def test_parameter_file_with_an_unknown_key_is_rejected(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.json"
    path.write_text('{"params": {"gain": 5, "bogus": 1}}')
    with pytest.raises(ConfigError, match="bogus"):
        load_params(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_params(path.with_name("missing.json"))

"""The per-patient-schedule model equals the forecast model on each patient's real sessions."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.cohort.model import improvement, patient_rates, session_doses, session_states
from needleplan.domain import parse_assessment
from needleplan.forecasting.chain import simulate
from needleplan.forecasting.models import patient_modifiers
from needleplan.forecasting.params import default_params
from tests.strategies import examples

from ..strategies import assessment_dicts

PARAMS = default_params()


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[float], list[bool]]:
    """Session slots 7-200 days apart and which of them take place (the first always)."""
    gaps = draw(st.lists(st.integers(7, 200), min_size=0, max_size=12))
    days = np.cumsum([0, *gaps]).astype(float).tolist()
    given_ = [True, *draw(st.lists(st.booleans(), min_size=len(gaps), max_size=len(gaps)))]
    return days, given_


@settings(max_examples=examples(60), deadline=None)
@given(
    data=assessment_dicts(contraindications=False),
    schedule=schedules(),
    z=st.floats(-3, 3),
    offset=st.integers(0, 60),
)
def test_curves_equal_simulate_on_the_real_sessions(
    data: dict[str, Any], schedule: tuple[list[float], list[bool]], z: float, offset: int
) -> None:
    """Skipped slots (dose 0) and the padding change nothing: the curve is simulate()'s on
    the sessions that take place; before her first session it is 0."""
    a = parse_assessment(data)
    days, taken = schedule
    real = [d for d, t in zip(days, taken, strict=True) if t]
    day, expected = simulate(a, real, [z], years=(days[-1] + 400) / 365.25)
    m = patient_modifiers(a)
    rates = patient_rates(
        PARAMS,
        age=[a.age],
        response=[m.response],
        fade=[m.fade],
        ageing=[m.ageing],
        heal=[m.heal],
        capacity=[m.capacity],
        z=[z],
    )
    slots = np.asarray([[*days, 5000.0]])  # a padding slot past the horizon
    mask = np.asarray([[*taken, False]])
    states = session_states(slots, session_doses(slots, mask, rates, PARAMS), rates, PARAMS)
    own = (np.arange(day.size + offset, dtype=np.float64) - offset)[None, :]
    got = improvement(own, states, rates, PARAMS)
    assert np.all(got[0, :offset] == 0.0)
    np.testing.assert_allclose(got[0, offset:], expected[0], rtol=1e-10, atol=1e-10)


def test_rows_are_independent() -> None:
    """A patient's curve does not depend on who else is in the batch."""
    rng = np.random.default_rng(0)
    n = 5
    rates = patient_rates(
        PARAMS,
        age=rng.integers(30, 80, n),
        response=np.ones(n),
        fade=np.ones(n),
        ageing=np.ones(n),
        heal=np.ones(n),
        capacity=np.ones(n),
        z=rng.normal(size=n),
    )
    slots = np.sort(rng.integers(0, 900, (n, 6)).astype(float), axis=1)
    slots[:, 0] = 0.0
    slots += np.arange(6)[None, :] * 7.0  # at least 7 days apart
    mask = np.ones_like(slots, dtype=bool)
    states = session_states(slots, session_doses(slots, mask, rates, PARAMS), rates, PARAMS)
    t = np.tile(np.arange(1000.0), (n, 1))
    together = improvement(t, states, rates, PARAMS)
    for i in range(n):
        alone = improvement(
            t[i : i + 1], states.rows(slice(i, i + 1)), rates.rows(slice(i, i + 1)), PARAMS
        )
        np.testing.assert_array_equal(alone[0], together[i])

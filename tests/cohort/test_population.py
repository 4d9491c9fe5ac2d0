"""Populations: the factorised profile tables equal the guideline engine and the model's
covariates bit for bit; given assessments are profiled once each and blocked ones left out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.cohort import fixed_population, parse_population_spec, reference_population
from needleplan.cohort.population import (
    MODIFIERS,
    SpecTables,
    sample_codes,
    sample_patients,
    template_for,
)
from needleplan.cohort.profiles import BLOCKED, OUT_OF_RANGE, guideline_key, profile_outcome
from needleplan.domain import parse_assessment, reference_assessment
from needleplan.forecasting.models import patient_modifiers
from needleplan.guideline import load_guideline, make_protocol, score
from tests.strategies import examples

from .test_spec import specs

GUIDELINE = load_guideline()
KEY = guideline_key(GUIDELINE)


@settings(max_examples=examples(30), deadline=None)
@given(data=specs(), seed=st.integers(0, 2**32 - 1))
def test_factorised_tables_equal_score_and_modifiers(data: dict[str, Any], seed: int) -> None:
    """Every patient's score triple and multipliers, computed from the per-level tables, are
    exactly what score() and patient_modifiers() give for her assessment."""
    spec = parse_population_spec(data)
    tables = SpecTables.build(spec, GUIDELINE)
    codes = sample_codes(spec, np.random.default_rng(seed), 60)
    scores = tables.scores(codes)
    mods = tables.modifiers(codes)
    for i in range(codes.shape[0]):
        a = template_for(spec, codes[i])
        s = score(a, GUIDELINE)
        assert tuple(scores[i]) == (s.total, s.raising, s.retention_risk)
        m = patient_modifiers(a)
        assert tuple(mods[i]) == tuple(getattr(m, name) for name in MODIFIERS)


@settings(max_examples=examples(20), deadline=None)
@given(data=specs(), seed=st.integers(0, 2**32 - 1))
def test_sampled_patients_carry_their_protocol(data: dict[str, Any], seed: int) -> None:
    spec = parse_population_spec(data)
    table = sample_patients(
        SpecTables.build(spec, GUIDELINE), np.random.default_rng(seed), 40, GUIDELINE, KEY
    )
    for i in range(table.n):
        a = table.assessment(i)
        assert a.age == table.age[i]
        p = make_protocol(a, GUIDELINE)
        m = patient_modifiers(a)
        expected = (
            p.initial_sessions,
            p.recommended_interval_days,
            p.maintenance_interval_months.min,
            p.maintenance_interval_months.max,
            m.response,
            m.fade,
            m.ageing,
            m.heal,
            m.capacity,
        )
        assert tuple(table.values[i]) == expected


def test_fixed_population_leaves_out_blocked_and_shares_profiles() -> None:
    ref = reference_assessment().model_dump(mode="json")
    assessments = [
        parse_assessment({**ref, "age": 40}),
        parse_assessment({**ref, "age": 70}),  # same profile, other age
        parse_assessment({**ref, "smoking": "current"}),
        parse_assessment({**ref, "contraindications": ["pregnancy"]}),
    ]
    pop = fixed_population(assessments, GUIDELINE, description="test")
    assert pop.size == 3
    assert pop.excluded == {BLOCKED: 1}
    assert len(pop.table.templates) == 2
    assert list(pop.table.age) == [40.0, 70.0, 50.0]
    assert np.array_equal(pop.table.values[0], pop.table.values[1])
    assert pop.table.assessment(2).smoking.value == "current"
    sliced = pop.table.take(1, 3)
    assert sliced.n == 2
    assert sliced.assessment(1) == pop.table.assessment(2)


def test_reference_population_is_copies_of_her() -> None:
    pop = reference_population(5, GUIDELINE)
    protocol = make_protocol(reference_assessment(), GUIDELINE)
    assert pop.size == 5
    assert np.all(pop.table.values[:, 0] == protocol.initial_sessions)
    assert np.all(pop.table.values[:, 1] == protocol.recommended_interval_days)
    assert all(pop.table.assessment(i) == reference_assessment() for i in range(5))


def test_protocol_outside_the_model_range_is_reported() -> None:
    data = GUIDELINE.model_dump(by_alias=True)
    data["maintenance"]["standard_months"] = {"min": 6, "max": 30}  # > 24 months validated
    wide = type(GUIDELINE).model_validate(data)
    outcome = profile_outcome(reference_assessment(), wide, guideline_key(wide))
    assert outcome.values is None
    assert outcome.excluded == OUT_OF_RANGE
    pop = reference_population(3, wide)
    assert pop.size == 0
    assert pop.excluded == {OUT_OF_RANGE: 3}


@pytest.mark.parametrize("age", [18, 90])
def test_ages_at_the_edges_are_simulated(age: int) -> None:
    a = reference_assessment().model_copy(update={"age": age})
    assert fixed_population([a], GUIDELINE, description="x").size == 1

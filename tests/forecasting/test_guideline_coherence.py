"""The model agrees with the guideline on the product path: assessment -> protocol -> forecast.

Every factor that raises the guideline's session count carries a model effect in the same
direction, strong enough that the extra sessions it earns do not carry a difficult case past the
reference patient; stacked factors stay within the stated bounds; ageing stays within the adult
range (A1/A2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.models import ageing_rate, patient_modifiers
from needleplan.forecasting.models.ageing import MAX_AGEING_RATE_PER_YEAR
from needleplan.forecasting.models.covariates import BOUNDS, EFFECTS
from needleplan.forecasting.params import DAYS_PER_YEAR, default_params
from needleplan.guideline import make_protocol
from tests.forecasting.test_properties import WORSE
from tests.strategies import examples

REF = reference_assessment().to_json_dict()

#: Each raising factor, applied alone to the reference patient.
RAISING: dict[str, dict[str, Any]] = {
    "smoking current": {"smoking": "current"},
    "smoking former": {"smoking": "former"},
    "heavy sun": {"sun_exposure": "high"},
    "no SPF": {"spf_habit": False},
    "sun damage history": {"sun_damage_history": True},
    "poor diet": {"diet": "poor"},
    "diabetes": {"conditions": ["diabetes"]},
    "autoimmune": {"conditions": ["autoimmune"]},
    "accelerated ageing": {"genetics": ["accelerated_aging"]},
    "slow healing": {"genetics": ["slow_healing"]},
    "fair aftercare": {"aftercare": "fair"},
    "poor aftercare": {"aftercare": "poor"},
    "reduced repair": {"repair_capacity": "reduced"},
    "advanced laxity": {"severity": "advanced"},
    "severe laxity": {"severity": "severe"},
    "deep wrinkles": {"concerns": ["deep_wrinkles"]},
    "enlarged pores": {"concerns": ["enlarged_pores"]},
    "loose neck skin": {"concerns": ["loose_neck_skin"]},
    "goal maximal": {"goal": "maximal"},
    "face and neck": {"areas": ["full_face", "neck"]},
    "chest": {"areas": ["chest"]},
    "abdomen and under-eyes": {"areas": ["abdomen", "under_eyes"]},
    "menopause within 5 years": {"sex": "female", "menopause": "recent"},
    "menopause longer ago": {"sex": "female", "menopause": "past"},
}


def product_months(d: dict[str, Any]) -> float:
    """Noticeable months of her own protocol's series (the typical patient)."""
    a = parse_assessment(d)
    p = make_protocol(a)
    s = series_days(p.initial_sessions, p.recommended_interval_days)
    res = forecast(a, s, n_initial=p.initial_sessions, band=False)
    return res.milestones.noticeable_months_after_last_initial.median


REFERENCE_MONTHS = product_months(REF)


@pytest.mark.parametrize("name", sorted(RAISING))
def test_no_raising_factor_lets_her_outlast_the_reference_patient(name: str) -> None:
    """With the extra sessions her protocol gives, she still does not keep results longer."""
    assert product_months({**REF, **RAISING[name]}) <= REFERENCE_MONTHS + 1e-9


def test_the_reference_patient_has_the_plain_series() -> None:
    p = make_protocol(reference_assessment())
    assert (p.initial_sessions, p.recommended_interval_days) == (5, 35)


@settings(max_examples=examples(40), deadline=None)
@given(factor=st.sampled_from(sorted(WORSE)), other=st.sampled_from(sorted(WORSE)))
def test_adding_a_raising_factor_to_a_raising_factor_never_lengthens_the_product_forecast(
    factor: str, other: str
) -> None:
    """From the reference plus one raising factor, adding another never lengthens her forecast
    on the product path (her own protocol each time)."""
    one = WORSE[other](REF)
    if one is None:
        return
    two = WORSE[factor](one)
    if two is None:
        return
    assert product_months(two) <= product_months(one) + 1e-9


def test_stacked_risk_factors_stay_within_the_stated_bounds() -> None:
    """Every raising factor at once: the multipliers sit at or inside BOUNDS, and the forecast
    is finite and below the reference's on every day."""
    everything = {
        **REF,
        "smoking": "current",
        "sun_exposure": "high",
        "spf_habit": False,
        "sun_damage_history": True,
        "diet": "poor",
        "conditions": ["diabetes", "autoimmune"],
        "genetics": ["accelerated_aging", "slow_healing"],
        "aftercare": "poor",
        "repair_capacity": "reduced",
        "severity": "severe",
        "concerns": ["deep_wrinkles", "enlarged_pores", "loose_neck_skin"],
        "goal": "maximal",
        "areas": ["full_face", "neck", "chest", "abdomen"],
    }
    mods = patient_modifiers(parse_assessment(everything))
    for name, (lo, hi) in BOUNDS.items():
        assert lo <= getattr(mods, name) <= hi, name
    assert mods.response == BOUNDS["response"][0]  # the floor binds: the bound is real
    s = series_days(5, 35)
    worst = forecast(parse_assessment(everything), s, n_initial=5, draws=101)
    ref = forecast(reference_assessment(), s, n_initial=5, draws=101)
    assert np.all(np.isfinite(worst.p10))
    assert np.all(worst.median <= ref.median + 1e-9)


def test_smoking_and_sun_multiply_and_the_magnitudes_follow_the_evidence() -> None:
    """C1: smokers make 18-22 % less procollagen (response 0.75-0.90); C3: sun and smoking
    multiply; C4: diabetes is modest."""
    assert 0.75 <= EFFECTS["smoking=current"].response <= 0.90
    assert EFFECTS["conditions=diabetes"].response >= 0.85
    both = patient_modifiers(
        parse_assessment({**REF, "smoking": "current", "sun_exposure": "high"})
    )
    smoke = patient_modifiers(parse_assessment({**REF, "smoking": "current"}))
    sun = patient_modifiers(parse_assessment({**REF, "sun_exposure": "high"}))
    for name in ("response", "fade", "ageing", "capacity"):
        assert getattr(both, name) == pytest.approx(getattr(smoke, name) * getattr(sun, name))


@settings(max_examples=examples(60), deadline=None)
@given(
    age=st.integers(18, 90),
    factors=st.lists(st.sampled_from(sorted(WORSE)), max_size=8),
    persistence=st.floats(-3.0, 3.0),
)
def test_ageing_stays_within_the_adult_range(
    age: int, factors: list[str], persistence: float
) -> None:
    """A1/A2: about 0.3-1.2 %/year across adults; never above 1.2 %/year, whatever stacks."""
    d: dict[str, Any] | None = {**REF, "age": age}
    for f in factors:
        assert d is not None
        d = WORSE[f](d) or d
    assert d is not None
    p = default_params()
    mods = patient_modifiers(parse_assessment(d))
    m = mods.ageing * np.exp(-p.omega_ageing * persistence)
    r = float(ageing_rate(p.ageing_rate_per_year, age, p.age_ageing_per_decade, m)) * DAYS_PER_YEAR
    assert 0 < r < MAX_AGEING_RATE_PER_YEAR


def test_the_reference_patient_ages_within_the_published_adult_range() -> None:
    p = default_params()
    for age in (30, 50, 70):
        r = float(ageing_rate(p.ageing_rate_per_year, age, p.age_ageing_per_decade)) * DAYS_PER_YEAR
        assert 0.003 <= r <= 0.012

"""Menopause (A5) in the model, the guideline and the product text: direction, bounds, words."""

from __future__ import annotations

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.forecasting.models import ageing_rate, patient_modifiers
from needleplan.forecasting.models.ageing import MAX_AGEING_RATE_PER_YEAR
from needleplan.forecasting.params import DAYS_PER_YEAR, default_params
from needleplan.forecasting.wording import factor_notes
from needleplan.guideline import make_protocol

REF = reference_assessment().to_json_dict()


def months(d: dict[str, object], maintenance: int | None = None) -> float:
    a = parse_assessment(d)
    res = forecast(
        a,
        series_days(5, 35, maintenance_months=maintenance),
        n_initial=5,
        maintenance_months=maintenance,
        band=False,
    )
    return res.milestones.noticeable_months_after_last_initial.median


def test_recent_menopause_fades_sooner_than_past_and_past_sooner_than_none() -> None:
    for upkeep in (None, 12):
        none = months({**REF, "sex": "female"}, upkeep)
        past = months({**REF, "sex": "female", "menopause": "past"}, upkeep)
        recent = months({**REF, "sex": "female", "menopause": "recent"}, upkeep)
        assert recent < past < none


def test_sex_alone_changes_nothing_in_the_model() -> None:
    assert months({**REF, "sex": "male"}) == months({**REF, "sex": "female"}) == months(REF)


def test_the_ageing_rate_stays_in_the_adult_range_with_menopause_and_every_ageing_factor() -> None:
    worst = {
        **REF,
        "age": 90,
        "sex": "female",
        "menopause": "recent",
        "smoking": "current",
        "sun_exposure": "high",
        "spf_habit": False,
        "genetics": ["accelerated_aging"],
    }
    p = default_params()
    mods = patient_modifiers(parse_assessment(worst))
    rate = float(ageing_rate(p.ageing_rate_per_year, 90, p.age_ageing_per_decade, mods.ageing))
    assert rate * DAYS_PER_YEAR <= MAX_AGEING_RATE_PER_YEAR + 1e-12


def test_the_guideline_shortens_the_maintenance_window_but_adds_no_session() -> None:
    plain = make_protocol(parse_assessment({**REF, "sex": "female"}))
    recent = make_protocol(parse_assessment({**REF, "sex": "female", "menopause": "recent"}))
    assert recent.initial_sessions == plain.initial_sessions
    assert recent.maintenance_interval_months.max <= plain.maintenance_interval_months.max
    assert any("menopause" in r.factor for r in recent.rationale)


def test_the_product_says_the_menopause_effect_rests_on_weak_evidence() -> None:
    a = parse_assessment({**REF, "sex": "female", "menopause": "recent"})
    notes = factor_notes(patient_modifiers(a).factors)
    assert len(notes) == 1
    assert "weak evidence" in notes[0]
    assert factor_notes(patient_modifiers(reference_assessment()).factors) == []

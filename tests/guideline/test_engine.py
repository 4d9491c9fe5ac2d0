"""The protocol engine reproduces the seed protocols and never lowers a count for a raising factor."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment
from needleplan.guideline import FactorId, load_guideline, make_protocol
from tests.strategies import REFERENCE, assessment_dicts, examples

GUIDELINE = load_guideline()


def plan(**changes: Any) -> Any:
    data = dict(REFERENCE)
    data.update(changes)
    return make_protocol(parse_assessment(data), GUIDELINE)


# The seed claims about protocols (SPEC "The domain" and "The reference patient").
SEED_PROTOCOLS = [
    # (label, changes, sessions lo, hi, interval lo, hi, maintenance lo, hi, difficult)
    (
        "reference patient: 4-6 sessions, 4-6 weeks, upkeep 6-12 months",
        {},
        4,
        6,
        28,
        42,
        6,
        12,
        False,
    ),
    (
        "mild crepiness, small area: 3-4 sessions",
        {"severity": "mild", "areas": ["under_eyes"]},
        3,
        4,
        28,
        42,
        6,
        12,
        False,
    ),
    (
        "mild to moderate: most need 3-5 sessions",
        {"severity": "mild", "areas": ["full_face"]},
        3,
        5,
        28,
        42,
        6,
        12,
        False,
    ),
    (
        "several raising factors: 8-12 sessions 3-4 weeks apart",
        {"smoking": "current", "conditions": ["diabetes"], "sun_damage_history": True},
        8,
        12,
        21,
        28,
        6,
        12,
        True,
    ),
    (
        "very lax skin with deep wrinkles and loose neck skin: difficult",
        {
            "severity": "severe",
            "areas": ["full_face", "neck"],
            "concerns": ["deep_wrinkles", "loose_neck_skin"],
        },
        8,
        12,
        21,
        28,
        6,
        12,
        True,
    ),
    (
        "poor health and genetics: 8-12 sessions",
        {"conditions": ["autoimmune"], "genetics": ["slow_healing", "accelerated_aging"]},
        8,
        12,
        21,
        28,
        6,
        12,
        True,
    ),
    (
        "body areas larger than the face need more than the face alone",
        {"areas": ["abdomen"]},
        6,
        12,
        21,
        42,
        6,
        12,
        None,
    ),
]


@pytest.mark.parametrize(
    ("label", "changes", "s_lo", "s_hi", "i_lo", "i_hi", "m_lo", "m_hi", "difficult"),
    SEED_PROTOCOLS,
    ids=[row[0] for row in SEED_PROTOCOLS],
)
def test_seed_protocols(
    label: str,
    changes: dict[str, Any],
    s_lo: int,
    s_hi: int,
    i_lo: int,
    i_hi: int,
    m_lo: int,
    m_hi: int,
    difficult: bool | None,
) -> None:
    p = plan(**changes)
    assert s_lo <= p.initial_sessions <= s_hi, label
    assert i_lo <= p.interval_days.min <= p.interval_days.max <= i_hi, label
    assert m_lo <= p.maintenance_interval_months.min <= p.maintenance_interval_months.max <= m_hi, (
        label
    )
    if difficult is not None:
        assert p.difficult_case is difficult, label
    assert not p.blocked


def test_reference_protocol_is_five_sessions_35_days_apart() -> None:
    p = plan()
    assert (p.initial_sessions, p.session_range.min, p.session_range.max) == (5, 4, 6)
    assert p.recommended_interval_days == 35
    assert not p.warnings


def test_high_retention_risk_shortens_maintenance() -> None:
    p = plan(smoking="current", sun_exposure="high", spf_habit=False)
    assert p.maintenance_interval_months.max < 12
    assert p.maintenance_interval_months.min >= 6


def test_rationale_names_every_present_factor_and_its_effect() -> None:
    p = plan(smoking="current", concerns=["deep_wrinkles"], goal="maximal")
    factors = {r.factor for r in p.rationale}
    assert {"smoking:current", "concern:deep_wrinkles", "goal: maximal"} <= factors
    by_factor = {r.factor: r for r in p.rationale}
    assert (
        by_factor["smoking:current"].sessions_delta
        == GUIDELINE.factors[FactorId.SMOKING_CURRENT].sessions
    )
    assert "+1 session" in by_factor["concern:deep_wrinkles"].effect


@pytest.mark.parametrize(
    "contra",
    ["active_infection", "active_acne", "pregnancy", "recent_radiation", "isotretinoin_recent"],
)
def test_absolute_contraindications_block_with_the_reason(contra: str) -> None:
    p = plan(contraindications=[contra])
    assert p.blocked
    assert any(r.startswith(contra) for r in p.block_reasons)


@pytest.mark.parametrize("contra", ["anticoagulants", "keloid_tendency"])
def test_relative_contraindications_warn_without_blocking(contra: str) -> None:
    p = plan(contraindications=[contra])
    assert not p.blocked
    assert any(w.startswith(contra) for w in p.warnings)


def test_dark_skin_types_get_a_pigmentation_warning() -> None:
    assert any("hyperpigmentation" in w for w in plan(fitzpatrick_type=5).warnings)
    assert not plan(fitzpatrick_type=2).warnings


def test_area_notes_give_a_cited_needle_depth_per_area() -> None:
    p = plan(areas=["under_eyes", "neck"])
    depths = {n.area.value: n.needle_depth_mm for n in p.area_notes}
    assert depths["under_eyes"].max <= depths["neck"].max
    assert all("Alster" in n.source for n in p.area_notes)


RAISERS: list[dict[str, Any]] = [
    {"concerns": ["deep_wrinkles"]},
    {"concerns": ["enlarged_pores"]},
    {"concerns": ["loose_neck_skin"]},
    {"conditions": ["diabetes"]},
    {"conditions": ["autoimmune"]},
    {"genetics": ["accelerated_aging"]},
    {"genetics": ["slow_healing"]},
    {"sun_damage_history": True},
    {"smoking": "current"},
    {"aftercare": "poor"},
    {"repair_capacity": "reduced"},
]


def _add(data: dict[str, Any], raiser: dict[str, Any]) -> dict[str, Any] | None:
    out = dict(data)
    for key, value in raiser.items():
        if isinstance(value, list):
            if value[0] in out[key]:
                return None
            out[key] = [*out[key], *value]
        else:
            if out[key] == value:
                return None
            out[key] = value
    return out


@settings(max_examples=examples(300))
@given(assessment_dicts(), st.sampled_from(RAISERS))
def test_an_added_raising_factor_never_lowers_the_count(
    data: dict[str, Any], raiser: dict[str, Any]
) -> None:
    more = _add(data, raiser)
    if more is None:
        return
    before = make_protocol(parse_assessment(data), GUIDELINE)
    after = make_protocol(parse_assessment(more), GUIDELINE)
    assert after.initial_sessions >= before.initial_sessions
    assert after.maintenance_interval_months.max <= before.maintenance_interval_months.max


@settings(max_examples=examples(200))
@given(assessment_dicts(), st.sampled_from(["neck", "chest", "arms", "abdomen", "thighs", "back"]))
def test_an_added_area_never_lowers_the_count(data: dict[str, Any], area: str) -> None:
    if area in data["areas"]:
        return
    before = make_protocol(parse_assessment(data), GUIDELINE)
    after = make_protocol(parse_assessment({**data, "areas": [*data["areas"], area]}), GUIDELINE)
    assert after.initial_sessions >= before.initial_sessions


@settings(max_examples=examples(300))
@given(assessment_dicts())
def test_counts_and_intervals_stay_inside_the_guideline_bounds(data: dict[str, Any]) -> None:
    p = make_protocol(parse_assessment(data), GUIDELINE)
    assert GUIDELINE.session_bounds.min <= p.initial_sessions <= GUIDELINE.session_bounds.max
    assert p.session_range.min <= p.initial_sessions <= p.session_range.max
    assert (
        GUIDELINE.interval_bounds.min
        <= p.interval_days.min
        <= p.interval_days.max
        <= GUIDELINE.interval_bounds.max
    )
    mb = GUIDELINE.maintenance_bounds
    assert (
        mb.min <= p.maintenance_interval_months.min <= p.maintenance_interval_months.max <= mb.max
    )
    assert p.blocked == any(
        GUIDELINE.contraindications[c].kind == "absolute"
        for c in parse_assessment(data).contraindications
    )

"""The assessment validates every field and names it when it is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.domain import Severity, parse_assessment, reference_assessment
from needleplan.exceptions import InputError
from tests.strategies import REFERENCE, assessment_dicts


def with_(**changes: Any) -> dict[str, Any]:
    data = dict(REFERENCE)
    data.update(changes)
    return data


def test_reference_patient_parses_from_its_json_form() -> None:
    assert parse_assessment(REFERENCE) == reference_assessment()


def test_round_trip_through_json_keeps_every_field() -> None:
    a = parse_assessment(with_(fitzpatrick_type=3, glogau_class=2, concerns=["deep_wrinkles"]))
    assert parse_assessment(a.to_json_dict()) == a


@pytest.mark.parametrize(
    ("changes", "field", "rule_part"),
    [
        ({"age": 17}, "age", "please give the age in whole years, from 18 to 90"),
        ({"age": 91}, "age", "from 18 to 90"),
        ({"age": "50"}, "age", "in whole years"),
        ({"age": 50.5}, "age", "in whole years"),
        ({"severity": "extreme"}, "severity", "please choose one of: mild, moderate"),
        ({"areas": []}, "areas", "please tick at least one area to treat"),
        ({"areas": ["elbow"]}, "areas.0", "not an area we treat; choose from under_eyes"),
        ({"areas": ["neck", "neck"]}, "assessment", "areas lists neck more than once"),
        ({"areas": ["full_face", "cheeks"]}, "assessment", "full_face already includes cheeks"),
        ({"smoking": "sometimes"}, "smoking", "one of: never, former or current"),
        ({"spf_habit": "yes"}, "spf_habit", "yes or no (true or false)"),
        ({"fitzpatrick_type": 7}, "fitzpatrick_type", "a number at most 6"),
        ({"glogau_class": 0}, "glogau_class", "a number at least 1"),
        ({"colour": "blue"}, "colour", "unknown field"),
        ({"severity": None}, "assessment", "severity is required unless glogau_class"),
        ({"severity": "mild", "glogau_class": 4}, "assessment", "contradicts glogau_class 4"),
        (
            {"contraindications": ["uncontrolled_diabetes"]},
            "assessment",
            "conditions lacks diabetes",
        ),
    ],
)
def test_bad_input_names_the_field_the_value_and_the_rule(
    changes: dict[str, Any], field: str, rule_part: str
) -> None:
    with pytest.raises(InputError) as info:
        parse_assessment(with_(**changes))
    problems = info.value.problems
    assert any(p.field == field and rule_part in p.rule for p in problems), problems


def test_missing_required_field_is_named() -> None:
    data = dict(REFERENCE)
    del data["age"]
    with pytest.raises(InputError, match=r"age: please answer this question \(it is required\)"):
        parse_assessment(data)


def test_non_object_input_is_rejected() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        parse_assessment([1, 2])


@pytest.mark.parametrize(
    ("glogau", "severity"), [(1, "mild"), (2, "moderate"), (3, "advanced"), (4, "severe")]
)
def test_glogau_class_implies_severity_when_severity_is_absent(glogau: int, severity: str) -> None:
    data = with_(glogau_class=glogau)
    del data["severity"]
    assert parse_assessment(data).effective_severity is Severity(severity)


def test_given_severity_wins_over_an_adjacent_glogau_class() -> None:
    assert parse_assessment(with_(glogau_class=3)).effective_severity is Severity.MODERATE


@given(assessment_dicts())
def test_every_generated_valid_assessment_parses(data: dict[str, Any]) -> None:
    assert parse_assessment(data).age == data["age"]


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.none() | st.integers() | st.text(max_size=8) | st.lists(st.text(max_size=8), max_size=3),
    )
)
def test_no_input_crashes_the_parser(data: dict[str, Any]) -> None:
    """Any mapping either parses or raises InputError; nothing else escapes."""
    problems: list[object] = []
    try:
        parse_assessment(data)
    except InputError as exc:
        problems = list(exc.problems)
        assert problems
    # Valid by chance only when every required key is present.
    assert problems or "age" in data


def test_sex_and_menopause_are_optional_and_checked_together() -> None:
    """Menopause is understood with sex female or left out; a male patient cannot have it."""
    base = dict(REFERENCE)
    assert parse_assessment(base).menopause.value == "none"
    assert parse_assessment({**base, "menopause": "recent"}).sex is None
    assert (
        parse_assessment({**base, "sex": "female", "menopause": "past"}).menopause.value == "past"
    )
    with pytest.raises(InputError) as err:
        parse_assessment({**base, "sex": "male", "menopause": "recent"})
    assert "menopause recent needs sex female" in str(err.value)
    with pytest.raises(InputError) as err:
        parse_assessment({**base, "menopause": "soon"})
    assert "menopause" in str(err.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"age": 12},
        {"age": "fifty"},
        {"areas": []},
        {"areas": ["elbow"]},
        {"severity": "extreme"},
        {"spf_habit": "yes"},
        {"conditions": "diabetes"},
        {"glogau_class": 9},
    ],
)
def test_rules_are_plain_words_never_validation_internals(changes: dict[str, Any]) -> None:
    """The estimator and integrators show the rule as it is (issue 12): no pydantic jargon."""
    with pytest.raises(InputError) as info:
        parse_assessment(with_(**changes))
    for problem in info.value.problems:
        for jargon in ("Input should", "List should", "valid integer", "after validation"):
            assert jargon not in problem.rule, problem

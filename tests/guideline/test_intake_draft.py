"""Intake answers: refused naming the question when they break its rule; what they propose
(assessment values, contraindications with the guideline's kind, notes) is a draft only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.exceptions import InputError
from needleplan.guideline.intake import load_questionnaire
from needleplan.guideline.intake_draft import answer_items, draft_from_answers, parse_answers
from tests.intake_support import CLEAR, RAISING

TODAY = date(2026, 12, 3)
Q = load_questionnaire()


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        parse_answers(Q, raw, today=TODAY)
    return {p.field: p.rule for p in caught.value.problems}


def test_clear_answers_propose_the_values_and_flag_nothing() -> None:
    answers = parse_answers(Q, CLEAR, today=TODAY)
    assert answers["diabetes"] is False
    assert answers["areas"] == ["full_face"]
    draft = draft_from_answers(Q, answers, today=TODAY)
    assert draft.values == {
        "smoking": "never",
        "sun_exposure": "moderate",
        "spf_habit": True,
        "sun_damage_history": False,
        "areas": ["full_face"],
        "goal": "noticeable",
    }
    assert draft.flags == []
    assert "severity" not in draft.values  # hers to judge
    assert "age" not in draft.values  # from the birth date


def test_raising_answers_add_conditions_and_flag_contraindications_with_their_kind() -> None:
    draft = draft_from_answers(Q, parse_answers(Q, RAISING, today=TODAY), today=TODAY)
    assert draft.values["conditions"] == ["diabetes"]
    assert draft.values["smoking"] == "current"
    assert draft.values["spf_habit"] is False
    assert draft.values["areas"] == ["full_face", "neck"]
    assert draft.contraindications == ["keloid_tendency"]
    assert [(f.kind, f.code, f.question) for f in draft.flags] == [
        ("relative", "keloid_tendency", "keloid")
    ]


@pytest.mark.parametrize(
    ("change", "code", "kind"),
    [
        ({"pregnancy": "pregnant"}, "pregnancy", "absolute"),
        ({"isotretinoin": "yes"}, "isotretinoin_recent", "absolute"),
        ({"anticoagulants": "yes"}, "anticoagulants", "relative"),
        ({"active_infection": "yes"}, "active_infection", "absolute"),
        ({"active_acne": "yes"}, "active_acne", "absolute"),
        ({"recent_radiation": "yes"}, "recent_radiation", "absolute"),
        ({"diabetes": "yes", "diabetes_control": "poor"}, "uncontrolled_diabetes", "absolute"),
    ],
)
def test_each_contraindication_is_flagged(change: dict[str, str], code: str, kind: str) -> None:
    draft = draft_from_answers(Q, parse_answers(Q, {**CLEAR, **change}, today=TODAY), today=TODAY)
    assert code in draft.contraindications
    assert (kind, code) in [(f.kind, f.code) for f in draft.flags]


def test_notes_for_review_from_text_numbers_and_recent_dates() -> None:
    raw = {
        **CLEAR,
        "diabetes": "yes",
        "diabetes_control": "unknown",
        "hba1c": "8,4",
        "allergies": "yes",
        "allergy_details": "lidocaine: rash",
        "last_treatment_date": "2026-11-28",
        "previous_treatments": ["filler", "peel"],
    }
    answers = parse_answers(Q, raw, today=TODAY)
    assert answers["hba1c"] == 8.4
    assert answers["previous_treatments"] == ["peel", "filler"]
    draft = draft_from_answers(Q, answers, today=TODAY)
    reviewed = {f.question for f in draft.flags if f.kind == "review"}
    assert reviewed == {
        "diabetes_control",
        "hba1c",
        "allergies",
        "previous_treatments",
        "last_treatment_date",
    }
    items = {i["id"]: i["shown"] for i in answer_items(Q, answers)}
    assert items["previous_treatments"] == "Chemical peel, Dermal fillers"
    assert items["diabetes"] == "Yes"


def test_follow_up_answers_count_only_when_asked() -> None:
    answers = parse_answers(Q, {**CLEAR, "diabetes_control": "poor"}, today=TODAY)
    assert "diabetes_control" not in answers  # diabetes "no": the question was not asked
    assert "uncontrolled_diabetes" not in draft_from_answers(Q, answers, today=TODAY).values.get(
        "contraindications", []
    )
    assert _problems({**CLEAR, "diabetes": "yes"}) == {"diabetes_control": "is required"}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"smoking": "cigars"}, "smoking", "must be one of never, former, current"),
        ({"diabetes": "perhaps"}, "diabetes", "must be yes or no"),
        ({"areas": ["full_face", "moon"]}, "areas", "must be one of"),
        ({"areas": ["neck", "neck"]}, "areas", "more than once"),
        ({"diabetes": "yes", "diabetes_control": "well", "hba1c": "99"}, "hba1c", "at most 20"),
        ({"diabetes": "yes", "diabetes_control": "well", "hba1c": "nan"}, "hba1c", "finite"),
        ({"diabetes": "yes", "diabetes_control": "well", "hba1c": "lots"}, "hba1c", "number"),
        ({"last_treatment_date": "2027-01-01"}, "last_treatment_date", "future"),
        ({"last_treatment_date": "03/12/2026"}, "last_treatment_date", "YYYY-MM-DD"),
        ({"medication": "x" * 2001}, "medication", "at most 2000"),
        ({"medication": "bad\x00byte"}, "medication", "control characters"),
        ({"favourite_colour": "red"}, "favourite_colour", "not a question"),
        ({"goal": ""}, "goal", "is required"),
    ],
)
def test_bad_answers_are_refused_naming_the_question(
    change: dict[str, Any], field: str, rule: str
) -> None:
    problems = _problems({**CLEAR, **change})
    assert field in problems, problems
    assert rule in problems[field]


_answer = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.text(max_size=12), max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([q.id for q in Q.questions]), _answer, max_size=10))
def test_no_submission_crashes_the_parser(changes: dict[str, Any]) -> None:
    named: list[str] = []
    try:
        answers = parse_answers(Q, {**CLEAR, **changes}, today=TODAY)
    except InputError as exc:
        named = [p.field for p in exc.problems]
    else:
        draft_from_answers(Q, answers, today=TODAY)
    assert all(field in {q.id for q in Q.questions} for field in named)

"""The intake questionnaire definition: the shipped file loads and covers the issue's topics; a
bad file is refused naming the key (path) and the rule; no file crashes the loader (Hypothesis).
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needleplan.domain.assessment import Contraindication
from needleplan.exceptions import InputError, QuestionnaireError
from needleplan.guideline.intake import (
    load_questionnaire,
    parse_questionnaire,
    parse_questionnaire_text,
)

TEXT = resources.files("needleplan.guideline").joinpath("intake.toml").read_text()
DATA: dict[str, Any] = tomllib.loads(TEXT)


def _question(data: dict[str, Any], qid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(q for q in data["questions"] if q["id"] == qid)
    return found


def test_the_shipped_questionnaire_loads_with_a_version_and_covers_the_topics() -> None:
    q = load_questionnaire()
    assert q.version == DATA["version"]
    ids = {x.id for x in q.questions}
    for topic in (
        "medical_history",
        "isotretinoin",
        "anticoagulants",
        "pregnancy",
        "keloid",
        "active_infection",
        "active_acne",
        "recent_radiation",
        "diabetes",
        "diabetes_control",
        "autoimmune",
        "allergies",
        "previous_treatments",
        "smoking",
        "sun_exposure",
        "goal",
    ):
        assert topic in ids
    assert {x.type for x in q.questions} == {"yes_no", "choice", "number", "text", "date"}
    flagged = {c for x in q.questions for e in x.when.values() for c in e.contraindications}
    assert flagged == set(Contraindication)


def test_a_clinic_copy_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "intake.toml"
    path.write_text(TEXT.replace(f'version = "{DATA["version"]}"', 'version = "clinic-2"'))
    assert load_questionnaire(path).version == "clinic-2"


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "key", "rule"),
    [
        (lambda d: d.update(schema=2), "schema", "not supported"),
        (lambda d: d.update(version="has space"), "version", "pattern"),
        (lambda d: d.pop("title"), "title", "Field required"),
        (
            lambda d: _question(d, "smoking").update(type="slider"),
            "questions[smoking].type",
            "yes_no",
        ),
        (
            lambda d: _question(d, "diabetes").update(required="yes"),
            "questions[diabetes].required",
            "boolean",
        ),
        (
            lambda d: _question(d, "smoking")["when"]["current"].update(set={"smoking": "heavy"}),
            "questions[smoking].when.current",
            "not a valid smoking",
        ),
        (
            lambda d: _question(d, "smoking")["when"]["current"].update(set={"age": 40}),
            "questions[smoking].when.current",
            "not an assessment field",
        ),
        (
            lambda d: _question(d, "keloid")["when"]["yes"].update(contraindications=["warts"]),
            "questions[keloid].when.yes.contraindications.0",
            "keloid_tendency",
        ),
        (
            lambda d: _question(d, "keloid")["when"].update(maybe={"review": "x"}),
            "questions[keloid]",
            "when.maybe: not an answer",
        ),
        (
            lambda d: _question(d, "hba1c").update(min=30.0),
            "questions[hba1c]",
            "must be below max",
        ),
        (
            lambda d: _question(d, "hba1c").update(min=float("nan")),
            "questions[hba1c].min",
            "finite",
        ),
        (
            lambda d: _question(d, "goal").update(options=[{"value": "only", "label": "One"}]),
            "questions[goal]",
            "at least 2 options",
        ),
        (
            lambda d: _question(d, "hba1c").update(ask_if={"question": "goal", "answer": "x"}),
            "questions[hba1c].ask_if.question",
            "earlier",
        ),
        (
            lambda d: _question(d, "diabetes_control").update(
                ask_if={"question": "diabetes", "answer": "maybe"}
            ),
            "questions[diabetes_control].ask_if.answer",
            "yes, no",
        ),
        (
            lambda d: _question(d, "goal").update(section="nowhere"),
            "questions[goal].section",
            "names no section",
        ),
        (
            lambda d: _question(d, "goal").update(id="smoking"),
            "questions[smoking].id",
            "unique",
        ),
        (
            lambda d: _question(d, "sunburn_history")["when"]["yes"].update(
                set={"smoking": "current"}
            ),
            "questions[sunburn_history].when.yes.set.smoking",
            "already set by question smoking",
        ),
        (
            lambda d: _question(d, "keloid").pop("when"),
            "questions",
            "none flags keloid_tendency",
        ),
        (lambda d: _question(d, "goal").update(colour="red"), "questions[goal].colour", "unknown"),
    ],
)
def test_a_bad_definition_names_the_key_and_the_rule(change: Any, key: str, rule: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(_broken(change), source="clinic-intake.toml")
    fields = {p.field: p.rule for p in caught.value.problems}
    assert key in fields, fields
    assert rule in fields[key], fields
    assert str(caught.value).startswith("clinic-intake.toml: ")


def test_a_missing_or_unreadable_file_and_bad_toml_are_named(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError, match="does not exist"):
        load_questionnaire(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(QuestionnaireError, match="cannot be read"):
        load_questionnaire(bad)
    with pytest.raises(QuestionnaireError, match="not valid TOML"):
        parse_questionnaire_text("questions = [")


_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
_paths = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_no_text_crashes_the_loader(text: str) -> None:
    """Any text is either a questionnaire or a QuestionnaireError (an InputError)."""
    problems: list[Any] = ["loaded"]
    try:
        parse_questionnaire_text(text)
    except QuestionnaireError as exc:
        problems = exc.problems
    assert problems


@settings(max_examples=150, deadline=None)
@given(_json)
def test_no_parsed_value_crashes_the_loader(data: Any) -> None:
    with pytest.raises(InputError) as caught:
        parse_questionnaire(data)
    assert isinstance(caught.value, QuestionnaireError)
    assert all(p.field and p.rule for p in caught.value.problems)


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _nodes(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _nodes(v, (*path, i))
    return out


NODES = _nodes(DATA)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(NODES), _scalar)
def test_a_definition_with_one_value_replaced_loads_or_names_its_key(
    path: tuple[Any, ...], value: Any
) -> None:
    """Replace one value anywhere in the shipped file: it still loads (a value as good as the
    old one), or the error names a key on the way to the change (or the file-wide coverage),
    or, when the old value was an id other keys refer to (a section's id), names those
    references with the id they still give."""
    data = copy.deepcopy(DATA)
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    old = parent[path[-1]]
    parent[path[-1]] = value
    try:
        parse_questionnaire(data)
    except QuestionnaireError as exc:
        named = {p.field for p in exc.problems}
        top = str(path[0])
        on_the_way = any(f == top or f.startswith((top + ".", top + "[")) for f in named)
        dangling = path[-1] == "id" and all(p.value == old for p in exc.problems)
        assert on_the_way or dangling, (path, named)

"""A bad guideline file fails naming the file, the key and the rule; a clinic copy works."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from needleplan.domain import reference_assessment
from needleplan.exceptions import GuidelineError
from needleplan.guideline import load_guideline, make_protocol

DEFAULT = resources.files("needleplan.guideline").joinpath("default.toml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic-guideline.toml"
    path.write_text(text)
    return path


def test_default_guideline_loads_with_a_version() -> None:
    g = load_guideline()
    assert g.version
    assert g.name
    assert g.standard.sessions.min == 3


def test_a_clinic_copy_with_changed_rules_changes_the_plan(tmp_path: Path) -> None:
    text = DEFAULT.replace('version = "2026.11.1"', 'version = "clinic-7"').replace(
        "moderate = 4.0", "moderate = 3.0"
    )
    g = load_guideline(write(tmp_path, text))
    p = make_protocol(reference_assessment(), g)
    assert p.initial_sessions == 4
    assert p.guideline_version.endswith("clinic-7")


@pytest.mark.parametrize(
    ("old", "new", "key", "rule"),
    [
        (
            "sessions = { min = 3, max = 6 }",
            "sessions = { min = 6, max = 3 }",
            "standard.sessions",
            "must not exceed max",
        ),
        ("moderate = 4.0", 'moderate = "four"', "severity.moderate", "valid number"),
        (
            '[factors."diet:poor"]\nsessions = 0.0',
            '[factors."diet:poor"]\nsessions = -1.0',
            "factors.diet:poor.sessions",
            "greater than or equal to 0",
        ),
        (
            'kind = "relative"',
            'kind = "maybe"',
            "contraindications.anticoagulants.kind",
            "'absolute' or 'relative'",
        ),
        (
            "[areas.back]\nweight = 2.0",
            "[areas.back]\nweight = 2.0\ncolour = 1",
            "areas.back.colour",
            "unknown field",
        ),
        ("schema = 1", "schema = 9", "guideline", "schema 9 is not supported"),
        (
            '[factors."diet:poor"]',
            '[factors."diet:great"]',
            "factors.diet:great.[key]",
            "Input should be",
        ),
    ],
)
def test_bad_guideline_names_file_key_and_rule(
    tmp_path: Path, old: str, new: str, key: str, rule: str
) -> None:
    assert old in DEFAULT
    path = write(tmp_path, DEFAULT.replace(old, new, 1))
    with pytest.raises(GuidelineError) as info:
        load_guideline(path)
    assert str(path) in str(info.value)
    assert any(p.field == key and rule in p.rule for p in info.value.problems), info.value.problems


def test_missing_area_rule_is_named(tmp_path: Path) -> None:
    text = re.sub(r"\[areas\.knees\][^\[]*", "", DEFAULT)
    with pytest.raises(GuidelineError, match="areas must cover every value; missing knees"):
        load_guideline(write(tmp_path, text))


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(GuidelineError, match="not valid TOML"):
        load_guideline(write(tmp_path, "schema = = 1"))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(GuidelineError, match="file does not exist"):
        load_guideline(tmp_path / "nope.toml")

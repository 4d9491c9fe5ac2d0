"""``needleplan plan`` through the real entry point: output, JSON keys, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Runner
from tests.strategies import REFERENCE


def test_plan_from_file_prints_json_with_the_documented_keys(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps(REFERENCE))
    res = cli("plan", "--from", str(src), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["initial_sessions"] == 5
    assert out["interval_days"] == {"min": 28, "max": 42}
    assert out["maintenance_interval_months"] == {"min": 6, "max": 12}
    assert out["difficult_case"] is False
    assert out["blocked"] is False
    assert {"factor", "effect"} <= set(out["rationale"][0])
    assert out["warnings"] == []
    assert out["guideline_version"]


def test_flags_override_the_file(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps(REFERENCE))
    res = cli(
        "plan",
        "--from",
        str(src),
        "--smoking",
        "current",
        "--condition",
        "diabetes",
        "--sun-damage",
        "--json",
    )
    out = json.loads(res.stdout)
    assert out["difficult_case"] is True
    assert 8 <= out["initial_sessions"] <= 12
    assert out["interval_days"] == {"min": 21, "max": 28}


def test_human_output_shows_the_table_rationale_and_disclaimer(cli: Runner) -> None:
    res = cli(
        "plan", "--age", "50", "--severity", "moderate", "--area", "full_face", "--area", "neck"
    )
    assert res.returncode == 0, res.stderr
    assert "initial sessions" in res.stdout
    assert "areas: full_face, neck" in res.stdout
    assert "decision support" in res.stdout


def test_assessment_from_standard_input(cli: Runner) -> None:
    res = cli("plan", "--from", "-", "--json", stdin=json.dumps(REFERENCE))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["initial_sessions"] == 5


def test_blocked_plan_exits_3_and_still_prints_the_json(cli: Runner) -> None:
    res = cli(
        "plan",
        "--age",
        "30",
        "--severity",
        "mild",
        "--area",
        "cheeks",
        "--contraindication",
        "pregnancy",
        "--json",
    )
    assert res.returncode == 3
    out = json.loads(res.stdout)
    assert out["blocked"] is True
    assert out["block_reasons"][0].startswith("pregnancy")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("--age", "17", "--severity", "mild", "--area", "neck"),
            "age: please give the age in whole years, from 18 to 90 (got 17)",
        ),
        (("--age", "40", "--severity", "huge", "--area", "neck"), "severity:"),
        (("--age", "40", "--severity", "mild", "--area", "elbow"), "areas.0:"),
        (
            ("--age", "40", "--severity", "mild"),
            "areas: please answer this question (it is required)",
        ),
        (("--from", "/no/such/file.json"), "--from: file does not exist"),
        (
            ("--age", "40", "--severity", "mild", "--area", "neck", "--guideline", "/no/such.toml"),
            "guideline: file does not exist",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    cli: Runner, args: tuple[str, ...], needle: str
) -> None:
    res = cli("plan", *args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_invalid_json_file_is_named(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text("{nope")
    res = cli("plan", "--from", str(src))
    assert res.returncode == 2
    assert "is not valid JSON (line 1" in res.stderr


def test_unknown_flag_is_a_usage_error(cli: Runner) -> None:
    res = cli("plan", "--colour", "blue")
    assert res.returncode == 2
    assert "No such option: --colour" in res.stderr


def test_help_documents_every_flag(cli: Runner) -> None:
    res = cli("plan", "--help")
    assert res.returncode == 0
    for flag in [
        "--from",
        "--json",
        "--guideline",
        "--age",
        "--severity",
        "--area",
        "--goal",
        "--concern",
        "--condition",
        "--genetics",
        "--repair-capacity",
        "--smoking",
        "--sun-exposure",
        "--spf",
        "--sun-damage",
        "--diet",
        "--aftercare",
        "--contraindication",
        "--fitzpatrick",
        "--glogau",
    ]:
        assert flag in res.stdout, flag

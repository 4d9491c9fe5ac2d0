"""``needleplan consult`` (what ``make run`` shows): plan, then how long results last."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Runner
from tests.strategies import REFERENCE


def test_consult_for_the_reference_patient_shows_plan_and_scenarios(
    cli: Runner, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    res = cli("consult", "--plot", str(chart))
    assert res.returncode == 0, res.stderr
    assert "reference patient" in res.stdout
    assert "5 (range 4-6)" in res.stdout
    assert "Scenarios over 10 years" in res.stdout
    assert "Cheapest plan noticeable for 5 years" in res.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_consult_stops_after_the_plan_when_blocked(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps({**REFERENCE, "contraindications": ["active_infection"]}))
    res = cli("consult", "--from", str(src))
    assert res.returncode == 3
    assert "BLOCKED" in res.stdout
    assert "Scenarios" not in res.stdout

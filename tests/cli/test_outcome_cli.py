"""``needleplan outcome forecast KEY`` and ``needleplan outcome report`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Runner
from tests.outcome_support import add_patient_with_outcomes


@pytest.fixture
def measured_db(tmp_path: Path) -> str:
    """A SQLite clinic with two measured patients (records P-GOOD and P-POOR)."""
    from needleplan import services
    from needleplan.storage import Database

    url = f"sqlite:///{tmp_path / 'outcome.sqlite3'}"
    db = Database.open(url)
    try:
        alice = services.add_practitioner(db, "Alice")
        good = add_patient_with_outcomes(db, alice.id, z=1.5, seed=1, name="Good")
        poor = add_patient_with_outcomes(db, alice.id, z=-1.5, seed=2, name="Poor")
        services.update_patient(db, good.id, {"mrn": "P-GOOD"})
        services.update_patient(db, poor.id, {"mrn": "P-POOR"})
    finally:
        db.dispose()
    return url


def test_outcome_forecast_json_compares_her_forecast_with_the_population(
    cli: Runner, measured_db: str
) -> None:
    """--json: posterior of z, both forecasts' milestones; a good responder lasts longer."""
    done = cli("outcome", "forecast", "P-GOOD", "--json", "--draws", "300", "-d", measured_db)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["patient"]["record"] == "P-GOOD"
    assert doc["posterior_z"]["mean"] > 0.5
    own = doc["personal"]["milestones"]["noticeable_months_after_last_initial"]["median"]
    pop = doc["population"]["milestones"]["noticeable_months_after_last_initial"]["median"]
    assert own > pop
    assert doc["measurements"] == {"gais": 5, "satisfaction": 5}


def test_outcome_forecast_table_and_plot(cli: Runner, measured_db: str, tmp_path: Path) -> None:
    """Human output names both forecasts and the disclaimer; --plot writes a PNG."""
    png = tmp_path / "her.png"
    done = cli("outcome", "forecast", "P-POOR", "--plot", str(png), "-d", measured_db)
    assert done.returncode == 0, done.stderr
    assert "her response z: mean -" in done.stdout
    assert "population (patients like her)" in done.stdout
    assert "decision support" in done.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_outcome_report_json_and_table(cli: Runner, measured_db: str) -> None:
    done = cli("outcome", "report", "--json", "-d", measured_db)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["patients_used"] == 2
    assert doc["measurements"] == 20
    assert doc["predicted_band"]["expected_share"] == 0.8
    table = cli("outcome", "report", "-d", measured_db)
    assert table.returncode == 0, table.stderr
    assert "follow-ups inside the predicted 80 % band" in table.stdout
    assert "verdict: too few patients (2)" in table.stdout


def test_outcome_forecast_unknown_patient_exits_4(cli: Runner, measured_db: str) -> None:
    done = cli("outcome", "forecast", "NOBODY", "-d", measured_db)
    assert done.returncode == 4
    assert done.stderr.startswith("error: ")
    assert done.stdout == ""


def test_outcome_forecast_bad_draws_exits_2(cli: Runner, measured_db: str) -> None:
    done = cli("outcome", "forecast", "P-GOOD", "--draws", "0", "-d", measured_db)
    assert done.returncode == 2
    assert "draws" in done.stderr

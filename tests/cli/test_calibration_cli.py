"""``needleplan calibration fit | show | adopt | revert`` through the real entry point: the
data-sufficiency message, a proposal's review with the predictive-check chart, versioned
adoption and revert, and the exit codes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from needleplan import services
from needleplan.forecasting.clinic_fit import fit_clinic, simulate_clinic
from needleplan.services._clock import utc_now
from needleplan.storage import Database

from .conftest import Runner


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'calibration-cli.sqlite3'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database.open(url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def run(cli: Runner, url: str) -> Runner:
    def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, env={"NEEDLEPLAN_DATABASE_URL": url, **env})

    return _run


@pytest.fixture
def proposal(db: Database) -> int:
    """A stored proposal: a real (short) fit of a small simulated clinic, as `fit` stores it."""
    fit = fit_clinic(
        simulate_clinic(6, np.random.default_rng(1)), require_enough=False, max_iterations=2
    )
    with db.transaction() as uow:
        return uow.calibrations.add_proposal(fit.to_json(), "test", utc_now(), None, "test").id


def test_fit_with_too_little_data_says_how_much_more_and_stores_nothing(
    run: Runner, db: Database
) -> None:
    result = run("calibration", "fit")
    assert result.returncode == 0, result.stderr
    assert "Not enough data yet" in result.stdout
    assert "30 more patients with 3+ follow-ups" in result.stdout
    assert "stays on the default calibration" in result.stdout
    doc = json.loads(run("calibration", "fit", "--json").stdout)
    assert doc["proposal"] is None
    assert doc["sufficiency"]["more_patients"] == 30
    with db.transaction() as uow:
        assert uow.calibrations.history() == []


def test_review_adopt_and_revert(run: Runner, proposal: int, tmp_path: Path) -> None:
    shown = run("calibration", "show", "--proposal", str(proposal))
    assert shown.returncode == 0, shown.stderr
    assert "in force: default" in shown.stdout
    assert "mean response" in shown.stdout
    adopted = run("calibration", "adopt", str(proposal), "--note", "our first fit")
    assert adopted.returncode == 0, adopted.stderr
    today = utc_now().date().isoformat()
    assert f"in force: clinic calibration v1, adopted {today}" in adopted.stdout
    chart = tmp_path / "check.svg"
    doc = json.loads(run("calibration", "show", "--json", "--chart", str(chart)).stdout)
    assert doc["in_force"]["label"] == f"clinic calibration v1, adopted {today}"
    assert doc["in_force"]["version"] == 1
    assert chart.read_bytes().lstrip().startswith(b"<?xml")
    png = tmp_path / "check.png"
    assert run("calibration", "show", "--chart", str(png)).returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    reverted = run("calibration", "revert")
    assert reverted.returncode == 0, reverted.stderr
    assert "in force: default" in reverted.stdout


def test_exit_codes(run: Runner, proposal: int, db: Database, tmp_path: Path) -> None:
    nothing = run("calibration", "revert")
    assert nothing.returncode == 2
    assert "nothing to revert" in nothing.stderr
    missing = run("calibration", "adopt", "99")
    assert missing.returncode == 4
    assert "proposal 99" in missing.stderr
    bad_chart = run("calibration", "show", "--chart", str(tmp_path / "check.txt"))
    assert bad_chart.returncode == 2
    assert "--chart" in bad_chart.stderr
    services.create_user(db, "desk", "desk-password-1", "front_desk")
    refused = run("--as", "desk", "calibration", "adopt", str(proposal))
    assert refused.returncode == 7
    assert "calibration.adopt" in refused.stderr

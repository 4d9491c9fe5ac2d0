"""``needleplan forecast`` and ``needleplan compare`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Runner
from tests.strategies import REFERENCE


@pytest.fixture
def ref_file(tmp_path: Path) -> Path:
    f = tmp_path / "ref.json"
    f.write_text(json.dumps(REFERENCE))
    return f


def test_forecast_json_has_the_issue_shape_and_the_protocol_schedule(
    cli: Runner, ref_file: Path
) -> None:
    res = cli("forecast", "--from", str(ref_file), "--json", "--draws", "300")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["session_days"] == [0, 35, 70, 105, 140]
    assert doc["noticeable_threshold"] == 4.6
    ms = doc["milestones"]
    assert {"peak_day", "peak_improvement", "back_to_baseline_day"} <= set(ms)
    band = ms["noticeable_months_after_last_initial"]
    assert band["p10"] <= band["median"] <= band["p90"]
    assert 12 <= band["median"] <= 36
    assert len(doc["curve"]["day"]) == len(doc["curve"]["p90"]) == 3653


def test_forecast_takes_sessions_interval_and_maintenance(cli: Runner, ref_file: Path) -> None:
    res = cli(
        "forecast",
        "--from",
        str(ref_file),
        "--sessions",
        "3",
        "--interval-days",
        "28",
        "--maintenance-months",
        "12",
        "--years",
        "3",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    days = json.loads(res.stdout)["session_days"]
    assert days[:3] == [0, 28, 56]
    assert len(days) == 5
    assert days[3] == 56 + 365


def test_forecast_takes_explicit_session_days(cli: Runner, ref_file: Path) -> None:
    res = cli(
        "forecast",
        "--from",
        str(ref_file),
        "--session-days",
        "0,30,60,500",
        "--sessions",
        "3",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["session_days"] == [0, 30, 60, 500]
    assert doc["initial_sessions"] == 3


def test_forecast_prints_milestones_a_reading_and_the_disclaimer(
    cli: Runner, ref_file: Path, tmp_path: Path
) -> None:
    png = tmp_path / "chart.png"
    res = cli("forecast", "--from", str(ref_file), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert "Forecast milestones" in res.stdout
    assert "Her skin is firmest" in res.stdout
    assert "not a diagnosis" in res.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--years", "20"], "years"),
        (["--interval-days", "3"], "interval_days"),
        (["--maintenance-months", "12", "--no-maintenance"], "--maintenance-months"),
        (["--session-days", "0,x"], "--session-days"),
        (["--session-days", "0,30,400"], "--sessions"),
        (["--draws", "0"], "draws"),
    ],
)
def test_forecast_bad_options_exit_2_naming_the_field(
    cli: Runner, ref_file: Path, args: list[str], needle: str
) -> None:
    res = cli("forecast", "--from", str(ref_file), *args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_forecast_for_a_contraindicated_patient_is_blocked(cli: Runner, tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({**REFERENCE, "contraindications": ["pregnancy"]}))
    res = cli("forecast", "--from", str(f))
    assert res.returncode == 3
    assert "blocked" in res.stderr


def test_compare_json_lists_scenarios_cheapest_plan_and_upkeep(cli: Runner, ref_file: Path) -> None:
    res = cli("compare", "--from", str(ref_file), "--json", "--draws", "200")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [s["key"] for s in doc["scenarios"]] == [
        "single",
        "series",
        "maintenance_6m",
        "maintenance_9m",
        "maintenance_12m",
    ]
    assert doc["cheapest"]["cost"] > 0
    assert doc["upkeep_vs_lapse"]["saving"] > 0


def test_compare_prints_a_table_with_clinic_prices(
    cli: Runner, ref_file: Path, tmp_path: Path
) -> None:
    prices = tmp_path / "clinic.toml"
    prices.write_text(
        "[prices]\ninitial_session = 100\nmaintenance_session = 50\ncurrency = 'USD'\n"
    )
    res = cli("compare", "--from", str(ref_file), "--prices", str(prices), "--draws", "200")
    assert res.returncode == 0, res.stderr
    assert "USD" in res.stdout
    assert "Cheapest plan" in res.stdout
    assert "Upkeep" in res.stdout


def test_compare_marks_band_ends_cut_off_by_the_horizon(cli: Runner, ref_file: Path) -> None:
    """With upkeep every 6 months the p90 patient is still noticeable after 10 years: the JSON
    flags it and the table prints it as a lower bound; the series alone is not cut off."""
    res = cli("compare", "--from", str(ref_file), "--json", "--draws", "200")
    doc = json.loads(res.stdout)
    bands = {s["key"]: s["noticeable_months_after_last_initial"] for s in doc["scenarios"]}
    assert bands["maintenance_6m"]["p90_censored"] is True
    assert bands["series"]["p90_censored"] is False
    table = cli("compare", "--from", str(ref_file), "--draws", "200", env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    series_row = next(line for line in table.stdout.splitlines() if "no upkeep" in line)
    upkeep_row = next(line for line in table.stdout.splitlines() if "every 6" in line)
    assert "≥" not in series_row
    assert "≥" in upkeep_row
    assert "lower bound" in table.stdout

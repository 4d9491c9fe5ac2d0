"""``needleplan cohort`` through the real entry point."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest
from rich.console import Console

from needleplan.cli.cohort import parse_month, progress_bar, render_cohort
from needleplan.cohort import load_population_spec, reference_population, simulate_cohort
from needleplan.forecasting.optimise import Prices
from needleplan.guideline import load_guideline

from .conftest import Runner
from .conftest import settings as cohort_settings

BASE = ("cohort", "simulate", "--years", "2", "--start", "2026-01")


def test_json_document(cli: Runner) -> None:
    done = cli(*BASE, "--reference", "70", "--json", "--seed", "3")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["population"] == "70 x the reference patient"
    assert out["start"] == "2026-01-01"
    assert [m["month"] for m in out["months"]][:2] == ["2026-01", "2026-02"]
    assert len(out["months"]) == 24
    s = out["summary"]
    assert s["patients"] == 70
    assert s["sessions"]["mean"] == sum(m["sessions"] for m in out["months"])
    assert s["revenue"]["mean"] == math.fsum(m["revenue"] for m in out["months"])
    assert out["currency"] == "EUR"
    assert out["adherence"] == {"series": 0.8, "maintenance": 0.6}
    assert "decision support" in out["disclaimer"]
    again = cli(*BASE, "--reference", "70", "--json", "--seed", "3")
    assert again.stdout == done.stdout


def test_synthetic_population_tables_and_chart(cli: Runner, tmp_path: Path) -> None:
    spec = tmp_path / "pop.toml"
    example = cli("cohort", "example-spec")
    assert example.returncode == 0
    spec.write_text(example.stdout, encoding="utf-8")
    assert load_population_spec(spec) == load_population_spec()
    chart = tmp_path / "cohort.png"
    done = cli(
        *BASE, "--population", str(spec), "--patients", "128", "--replicates", "2",
        "--plot", str(chart),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Per year" in done.stdout
    assert "Per month" in done.stdout
    assert "2027-12" in done.stdout
    assert "band" in done.stdout
    assert "not a diagnosis" in done.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clinic_prices_and_recall_threshold(cli: Runner, tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.toml"
    source = Path(__file__).parents[2] / "src/needleplan/scheduling/example_clinic.toml"
    text = source.read_text(encoding="utf-8")
    clinic.write_text(text.replace("recall_threshold = 4.9", "recall_threshold = 6.5"))
    done = cli(*BASE, "--reference", "10", "--clinic", str(clinic), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["recall_threshold"] == 6.5
    assert out["prices"]["initial_session"] == 350.0
    prices = tmp_path / "prices.toml"
    prices.write_text(
        "[prices]\ninitial_session = 100\nmaintenance_session = 80\ncurrency = 'CHF'\n"
    )
    done = cli(*BASE, "--reference", "10", "--prices", str(prices), "--json")
    assert json.loads(done.stdout)["currency"] == "CHF"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "population: give exactly one of --from-db, --population FILE, --reference N"),
        (("--reference", "3", "--from-db"), "give exactly one of"),
        (("--reference", "0"), "--reference: must be 1-10000000 patients"),
        (("--reference", "3", "--patients", "9"), "--patients: only applies to --population"),
        (("--reference", "3", "--chunk-size", "100"), "--chunk-size: must be a multiple of 64"),
        (("--reference", "3", "--adherence", "2"), "--adherence: Input should be less"),
        (("--reference", "3", "--series-adherence", "2"), "--series-adherence: Input should"),
        (("--reference", "3", "--maintenance-adherence", "-1"), "--maintenance-adherence:"),
        (("--reference", "3", "--years", "20"), "--years: Input should be less than or equal"),
        (
            ("--reference", "3", "--years", "2", "--spread-months", "30"),
            "--spread-months: must not",
        ),
        (("--reference", "3", "--start", "May"), "--start: must be a month like 2026-01"),
        (("--reference", "3", "--dask", "nowhere"), "--dask: must be local:N or a scheduler"),
        (("--reference", "3", "--processes", "0"), "--processes: must be a whole number 1-64"),
        (
            ("--reference", "3", "--processes", "2", "--dask", "local:2"),
            "--processes: cannot be combined with --dask",
        ),
        (("--reference", "3", "--prices", "a.toml", "--clinic", "b.toml"), "not both"),
        (("--population", "missing.toml"), "--population: file does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli: Runner, args: tuple[str, ...], message: str) -> None:
    done = cli("cohort", "simulate", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_bad_spec_file_names_key_value_and_rule(cli: Runner, tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text("[severity]\nmild = 0.3\nmoderate = 0.3\n", encoding="utf-8")
    done = cli(*BASE, "--population", str(spec))
    assert done.returncode == 2
    assert f"{spec}: severity: shares must add up to 1 (they add up to 0.6)" in done.stderr
    assert "'mild': 0.3" in done.stderr


def test_dask_missing_exits_2(cli: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    done = cli("cohort", "simulate", "--reference", "3", "--dask", "local:2")
    assert done.returncode == 2
    assert "--dask: needs the optional Dask dependency: pip install 'needleplan[cohort]'" in (
        done.stderr
    )


@pytest.mark.slow
def test_dask_local_cluster_from_the_cli_matches_serial(cli: Runner) -> None:
    """`--dask local:2` starts two worker processes; the JSON is byte for byte the serial one."""
    args = (*BASE, "--reference", "200", "--chunk-size", "64", "--json")
    serial = cli(*args)
    on_dask = cli(*args, "--dask", "local:2")
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.stdout == serial.stdout


def test_processes_from_the_cli_match_serial(cli: Runner) -> None:
    """`--processes 2` runs the chunks in two forked processes; the JSON is the serial one."""
    args = (*BASE, "--reference", "300", "--chunk-size", "64", "--json")
    serial = cli(*args)
    parallel = cli(*args, "--processes", "2")
    assert parallel.returncode == 0, parallel.stderr
    assert parallel.stdout == serial.stdout


def test_progress_bar_renders_on_a_terminal(prices: Prices) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    with progress_bar(console, enabled=True) as progress:
        assert progress is not None
        simulate_cohort(
            reference_population(300, load_guideline()),
            cohort_settings(years=1, chunk_size=64),
            prices=prices,
            progress=progress,
        )
    text = buffer.getvalue()
    assert "simulating" in text
    assert "5/5 chunks" in text
    with progress_bar(console, enabled=False) as nothing:
        assert nothing is None


def test_render_without_replicates_has_no_band(prices: Prices) -> None:
    buffer = io.StringIO()
    r = simulate_cohort(
        reference_population(64, load_guideline()), cohort_settings(years=1), prices=prices
    )
    render_cohort(r, Console(file=buffer, width=140))
    text = buffer.getvalue()
    assert "band" not in text
    assert "64 patients" in text


def test_parse_month_defaults_to_next_month() -> None:
    from datetime import date

    assert parse_month(None, today=date(2026, 12, 15)) == date(2027, 1, 1)
    assert parse_month(None, today=date(2026, 3, 31)) == date(2026, 4, 1)
    assert parse_month("2030-07") == date(2030, 7, 1)

"""Fixtures for the cohort tests: prices, settings, a small spec, the real CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from needleplan.cohort import CohortSettings, make_settings
from needleplan.forecasting.optimise import Prices, load_prices
from tests.cli_support import invoke

Runner = Callable[..., subprocess.CompletedProcess[str]]
START = date(2026, 1, 1)


@pytest.fixture(scope="session")
def prices() -> Prices:
    return load_prices()


def settings(**values: Any) -> CohortSettings:
    """Settings with a fixed start month (so results do not depend on today)."""
    values.setdefault("start", START)
    return make_settings(**values)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Run the real ``needleplan`` entry point in-process in ``tmp_path`` (its own empty SQLite
    default; see tests/cli_support.py)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {"COLUMNS": "120", "NO_COLOR": "1"}
        full_env["NEEDLEPLAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'none.sqlite3'}"
        full_env.update(env or {})
        return invoke(args, env=full_env)

    return run

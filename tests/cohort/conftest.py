"""Fixtures for the cohort tests: prices, settings, a small spec, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from needleplan.cohort import CohortSettings, make_settings
from needleplan.forecasting.optimise import Prices, load_prices

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
def cli(tmp_path: Path) -> Runner:
    """Run the real ``needleplan`` entry point in a subprocess (its own empty SQLite default)."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
        full_env["NEEDLEPLAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'none.sqlite3'}"
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "needleplan", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=tmp_path,
            timeout=300,
            check=False,
        )

    return run

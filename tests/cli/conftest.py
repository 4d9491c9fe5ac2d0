"""Run the real ``needleplan`` entry point in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        full_env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
        full_env.setdefault("NEEDLEPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
        if env:
            full_env.update(env)
        return subprocess.run(
            [sys.executable, "-m", "needleplan", *args],
            capture_output=True,
            text=True,
            input=stdin,
            env=full_env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    return run

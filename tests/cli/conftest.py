"""Run the real ``needleplan`` entry point in-process (see tests/cli_support.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import Runner, invoke, migrated_sqlite

__all__ = ["Runner"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path) -> Runner:
    """``cli(*args, stdin=None, env=None)``: ``needleplan ARGS`` in ``tmp_path`` with a fresh
    SQLite default database there, ``cli.sqlite3``, already migrated (unless the environment
    names one)."""
    monkeypatch.chdir(tmp_path)
    default_url = migrated_sqlite(_sqlite_template, tmp_path / "cli.sqlite3")

    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {"COLUMNS": "120", "NO_COLOR": "1"}
        if "NEEDLEPLAN_DATABASE_URL" not in os.environ:
            full_env["NEEDLEPLAN_DATABASE_URL"] = default_url
        if env:
            full_env.update(env)
        return invoke(args, stdin=stdin, env=full_env)

    return run

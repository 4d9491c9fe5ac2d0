"""`needleplan serve`: documented flags; refuses unsafe settings before starting."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEEDLEPLAN_")}
    full.update({"COLUMNS": "120", "NO_COLOR": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "needleplan", "serve", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
    )


def test_serve_help_documents_host_port_and_demo_users() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--demo-users"):
        assert flag in result.stdout


def test_serve_refuses_the_default_secret_in_production() -> None:
    result = _run(env={"NEEDLEPLAN_ENVIRONMENT": "production"})
    assert result.returncode == 2
    assert "NEEDLEPLAN_SECRET_KEY" in result.stderr
    assert "development default" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_demo_users_in_production() -> None:
    env = {"NEEDLEPLAN_ENVIRONMENT": "production", "NEEDLEPLAN_SECRET_KEY": "x" * 40}
    result = _run("--demo-users", env=env)
    assert result.returncode == 2
    assert "--demo-users" in result.stderr


def test_serve_rejects_a_bad_port() -> None:
    result = _run("--port", "70000")
    assert result.returncode == 2

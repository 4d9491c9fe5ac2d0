"""`needleplan serve`: documented flags; refuses unsafe settings before starting.

Runs the real console entry point (``needleplan.cli.main.run``) in-process; no server starts
because every case here stops before uvicorn is called.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from needleplan.cli.main import run


def _run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    import os

    for key in [k for k in os.environ if k.startswith("NEEDLEPLAN_")]:
        monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NEEDLEPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    monkeypatch.setattr("sys.argv", ["needleplan", "serve", *args])
    monkeypatch.setattr("uvicorn.run", _no_server)
    with pytest.raises(SystemExit) as info:
        run()
    out = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def _no_server(*args: object, **kwargs: object) -> None:
    raise AssertionError("uvicorn must not start in these tests")


def test_serve_help_documents_host_port_and_demo_users(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(monkeypatch, capsys, tmp_path, "--help")
    assert code == 0
    for flag in ("--host", "--port", "--demo-users"):
        assert flag in out


def test_serve_refuses_the_default_secret_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(monkeypatch, capsys, tmp_path, env={"NEEDLEPLAN_ENVIRONMENT": "production"})
    assert code == 2
    assert "NEEDLEPLAN_SECRET_KEY" in err
    assert "development default" in err
    assert "Traceback" not in err


def test_serve_refuses_demo_users_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"NEEDLEPLAN_ENVIRONMENT": "production", "NEEDLEPLAN_SECRET_KEY": "x" * 40}
    code, _, err = _run(monkeypatch, capsys, tmp_path, "--demo-users", env=env)
    assert code == 2
    assert "--demo-users" in err


def test_serve_rejects_a_bad_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _ = _run(monkeypatch, capsys, tmp_path, "--port", "70000")
    assert code == 2


def test_serve_starts_uvicorn_with_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_run(app: object, **kwargs: object) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setattr("sys.argv", ["needleplan", "serve", "--port", "8123"])
    monkeypatch.setenv("NEEDLEPLAN_HOST", "127.0.0.2")
    monkeypatch.setenv("NEEDLEPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 0
    assert (seen["host"], seen["port"], seen["proxy_headers"]) == ("127.0.0.2", 8123, False)
    out = capsys.readouterr().out
    assert "http://127.0.0.2:8123/" in out
    assert "no staff accounts yet" in out
    assert seen["log_config"]
    assert seen["access_log"] is False  # the app's `request` line is the access log


def test_serve_workers_runs_the_app_factory_on_the_same_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--workers 3: uvicorn gets the import-string factory, and each worker finds the database
    (and its shared sessions and rate limits) through NEEDLEPLAN_DATABASE_URL."""
    seen: dict[str, object] = {}

    def fake_run(app: object, **kwargs: object) -> None:
        seen.update(kwargs, app=app)

    path = tmp_path / "workers.sqlite3"
    monkeypatch.setattr("needleplan.cli.serve.run_server", fake_run)
    monkeypatch.setattr(
        "sys.argv", ["needleplan", "serve", "--workers", "3", "--database", str(path)]
    )
    monkeypatch.setenv("NEEDLEPLAN_DATABASE_URL", "")  # restored after the test
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 0
    assert (seen["app"], seen["workers"]) == ("needleplan.web.app:app_from_environment", 3)
    import os

    assert os.environ["NEEDLEPLAN_DATABASE_URL"] == f"sqlite:///{path}"
    from needleplan.web.app import app_from_environment

    app = app_from_environment()
    assert app.state.db.display_url == f"sqlite:///{path}"
    app.state.db.dispose()
    assert "3 worker processes" in capsys.readouterr().out


def test_serve_refuses_demo_users_with_several_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(monkeypatch, capsys, tmp_path, "--workers", "2", "--demo-users")
    assert code == 2
    assert "--workers" in err
    assert "--demo-users" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["1", "3"])
def test_serve_refuses_a_rate_limit_table_it_cannot_open_before_serving(
    workers: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The rate-limit table beside a SQLite clinic is opened when the server starts: a path it
    cannot use (here a folder) is one clear error naming it, exit 2, and nothing is served,
    with one worker or several (no N crashed workers)."""
    served: list[object] = []
    path = tmp_path / "clinic.sqlite3"
    (tmp_path / "clinic.sqlite3.ratelimit").mkdir()
    monkeypatch.setattr("needleplan.cli.serve.run_server", lambda app, **kw: served.append(app))
    monkeypatch.setattr(
        "sys.argv", ["needleplan", "serve", "--workers", workers, "--database", str(path)]
    )
    monkeypatch.setenv("NEEDLEPLAN_DATABASE_URL", "")  # restored after the test
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 2
    assert served == []
    err = capsys.readouterr().err
    assert "rate_limit_table" in err
    assert "clinic.sqlite3.ratelimit" in err
    assert "Is a directory" in err

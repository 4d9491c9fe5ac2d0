"""`make run` / `needleplan serve --demo`: a demo clinic on SQLite, the address and working demo
logins printed, served until stopped. The server runs for real in a subprocess on a free
loopback port; the test reads its output line by line (no sleeping) and stops it."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from needleplan.cli.main import run
from tests.cli_support import serve_in_this_process

from .conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]
LOGIN_RE = re.compile(r"demo login: (\S+) / (\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEDLEPLAN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's demo server keeps its records (a new SQLite file)."""
    return tmp_path_factory.mktemp("make-run") / "demo.sqlite3"


@pytest.fixture(scope="module")
def demo_server(demo_database: Path) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """One ``serve --demo`` on a new database for the module: its address, the printed logins
    and its output up to them. Tests leave its accounts and passwords as they are."""
    with _serve_demo(demo_database) as running:
        yield running


@contextlib.contextmanager
def _serve_demo(database: Path) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    port = free_port()
    exe = Path(sys.executable).with_name("needleplan")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--demo",
            "--demo-patients",
            "6",
            "--port",
            str(port),
            "--database",
            str(database),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        out: list[str] = []
        for line in proc.stdout:
            out.append(line)
            if line.startswith("(passwords are new"):
                break
        else:
            pytest.fail("server stopped early: " + "".join(out) + proc.stderr.read())
        for line in proc.stderr:
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail("uvicorn did not start")
        logins = dict(LOGIN_RE.findall("".join(out)))
        yield f"http://127.0.0.1:{port}", logins, out
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # reads and closes both pipes


def test_serve_demo_prints_the_address_and_logins_that_work(
    demo_server: tuple[str, dict[str, str], list[str]],
) -> None:
    base, logins, out = demo_server
    text = "".join(out)
    assert "demo clinic created: 6 patients" in text
    assert f"needleplan web app on {base}/" in text
    assert set(logins) == {"admin", "practitioner", "frontdesk"}
    with httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/login")
        assert page.status_code == 200
        response = client.post(
            "/login",
            data={
                "username": "practitioner",
                "password": logins["practitioner"],
                "csrf_token": csrf_from(page.text),
                "next": "/app/patients",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/app/patients"
        patients = client.get("/app/patients")
        assert patients.status_code == 200
        assert "6 patients" in patients.text
        wrong = client.post(
            "/login",
            data={
                "username": "admin",
                "password": "demo-password",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert wrong.status_code == 401  # the fixed demo password is replaced


def test_make_run_serves_the_demo_clinic_on_sqlite() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/needleplan serve --demo --database $(DEMO_DB)" in recipe
    assert "DEMO_DB ?= .demo/needleplan-demo.sqlite3" in makefile


def test_demo_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for key in [k for k in os.environ if k.startswith("NEEDLEPLAN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "production")
    monkeypatch.setenv("NEEDLEPLAN_SECRET_KEY", "x" * 40)
    monkeypatch.setattr(
        "sys.argv",
        ["needleplan", "serve", "--demo", "--database", str(tmp_path / "p.sqlite3")],
    )
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 2
    assert "--demo" in capsys.readouterr().err
    assert not (tmp_path / "p.sqlite3").exists()


def _sign_in(client: httpx.Client, username: str, password: str) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text


def test_restarting_the_demo_ends_sessions_signed_in_with_the_old_passwords(
    demo_server: tuple[str, dict[str, str], list[str]],
    demo_database: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sign-in on the running demo, then ``serve --demo`` started again on those records (a
    consistent copy of its database, so the module's server keeps its own logins): the new
    start keeps the records, gives new passwords and ends the session, and its new passwords
    sign in. The restart runs in this process (tests/cli_support.py's
    ``serve_in_this_process``: the same command, arguments and environment as ``_serve_demo``);
    the module's server is the ``needleplan`` console script as a process."""
    base, logins, _ = demo_server
    with httpx.Client(base_url=base, timeout=60) as client:
        _sign_in(client, "frontdesk", logins["frontdesk"])
        assert client.get("/app/calendar").status_code == 200
        cookies = dict(client.cookies)
    database = tmp_path / "demo.sqlite3"
    source, copy = sqlite3.connect(demo_database), sqlite3.connect(database)
    try:
        source.backup(copy)  # consistent while the server writes
    finally:
        source.close()
        copy.close()
    port = free_port()
    args = ["--demo", "--demo-patients", "6", "--port", str(port), "--database", str(database)]
    with serve_in_this_process(args, monkeypatch, capsys) as out:
        base = f"http://127.0.0.1:{port}"
        new_logins = dict(LOGIN_RE.findall("".join(out)))
        assert any("using the existing records" in line for line in out)
        assert new_logins["frontdesk"] != logins["frontdesk"]
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
            again = client.get("/app/calendar")
            assert again.status_code == 303
            assert again.headers["location"].startswith("/login")
        with httpx.Client(base_url=base, timeout=60) as client:
            _sign_in(client, "frontdesk", new_logins["frontdesk"])
            assert client.get("/app/calendar").status_code == 200

"""Run ``needleplan ARGS`` in-process, as a shell would see it: stdout, stderr and the exit code.

A subprocess pays 2-3 s of interpreter start-up and imports per command; in-process the same
command costs tens of milliseconds. This calls the console-script function
``needleplan.cli.main.run`` (so the error-to-exit-code mapping is the real one) inside Click's
``CliRunner`` isolation (its own stdin, stdout, stderr and environment variables). A few tests
still start the real entry points in a subprocess (``python -m needleplan`` in
tests/cli/test_records_cli.py, the ``needleplan`` console script in tests/web/test_make_run.py).

:func:`serve_in_this_process` does the same for ``needleplan serve`` with one worker: the
command runs in a thread and its app is served by uvicorn on its loopback port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

Runner = Callable[..., subprocess.CompletedProcess[str]]


def invoke(
    args: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``needleplan *args`` with ``stdin`` as standard input and ``env`` added to the environment."""
    from needleplan.cli.main import run

    runner = CliRunner()
    saved_argv = sys.argv
    code: int = 0
    with runner.isolation(input=stdin, env=dict(env or {})) as streams:
        out, err = streams[0], streams[1]
        sys.argv = ["needleplan", *args]
        try:
            run()
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:  # like the interpreter: a message to stderr and exit status 1
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except Exception:  # an uncaught error: a traceback and status 1, as from a shell
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            sys.argv = saved_argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["needleplan", *args], code, stdout, stderr)


def migrated_sqlite(template: Path, target: Path) -> str:
    """Put a copy of ``template`` (a SQLite file already migrated to head, the session fixture
    ``_sqlite_template``) at ``target``, created 0600 as the product creates a database file, and
    return its URL: a command's first run then skips the 27 migrations (about a second)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, template.open("rb") as source:
        shutil.copyfileobj(source, out)
    return f"sqlite:///{target}"


class _Server(uvicorn.Server):
    """uvicorn's server, setting ``started_event`` once it listens (or gave up starting)."""

    def __init__(self, config: uvicorn.Config, started_event: threading.Event) -> None:
        super().__init__(config)
        self.started_event = started_event

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.started_event.set()


@contextlib.contextmanager
def serve_in_this_process(
    args: Sequence[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: Mapping[str, str] | None = None,
) -> Iterator[list[str]]:
    """``needleplan serve *args`` (one worker) in a thread of this process, served until the
    block ends; yields the lines the command printed before serving.

    The console-script function ``needleplan.cli.main.run`` runs with ``args`` in an
    environment without the test run's ``NEEDLEPLAN_*`` variables (as the subprocess servers of
    the tests get it) plus ``env``: the same settings, records and app as ``needleplan serve``
    started from a shell. Only the last step differs: serve's ``run_server`` is replaced by
    uvicorn serving that app on the address and port of the command line, without uvicorn's
    logging set-up (applied in this process, it would reconfigure the test run's logging). After
    the block the server stops and the command must have exited 0. This saves an interpreter
    start-up and the app's imports (about 4 CPU-seconds) where the process itself is not what a
    test checks; tests/web/test_make_run.py keeps ``needleplan serve`` as a real process.
    """
    import needleplan.cli.serve
    from needleplan.cli.main import run

    for key in [k for k in os.environ if k.startswith("NEEDLEPLAN_")]:
        monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    started = threading.Event()
    servers: list[_Server] = []
    exits: list[object] = []

    def run_server(app: Any, *, workers: int, **options: Any) -> None:
        assert workers == 1, "several workers are processes: start them with a subprocess"
        options.pop("log_config", None)
        servers.append(_Server(uvicorn.Config(app, **options), started))
        servers[0].run()

    def command() -> None:
        try:
            run()
            exits.append(0)
        except SystemExit as exc:
            exits.append(exc.code or 0)
        except BaseException as exc:  # reported below
            exits.append(exc)
        finally:
            started.set()

    monkeypatch.setattr(needleplan.cli.serve, "run_server", run_server)
    monkeypatch.setattr(sys, "argv", ["needleplan", "serve", *args])
    capsys.readouterr()
    thread = threading.Thread(target=command, name="needleplan-serve", daemon=True)
    thread.start()
    try:
        assert started.wait(timeout=120), "needleplan serve did not start in 120 s"
        out = capsys.readouterr().out.splitlines(keepends=True)
        assert servers, f"needleplan serve stopped before serving: {exits} {out}"
        assert servers[0].started, f"the server did not start: {exits} {out}"
        yield out
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert exits == [0]

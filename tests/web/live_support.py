"""One live clinic server for the Chromium tests: a copy of the session's SQLite demo template
served by uvicorn in a thread on a free loopback port of the test module's own range, with the
cheap password hasher, torn down after the module."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from needleplan import services

from .conftest import cheap_hasher
from .patients_fixtures import ClinicApp, open_clinic_app


def free_port(ports: range) -> int:
    """A port of ``ports`` that nothing listens on right now (the module's own range)."""
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {ports.start}-{ports.stop - 1}")


@contextmanager
def served_clinic(
    tmp_path_factory: pytest.TempPathFactory, template: Path, name: str, ports: range
) -> Iterator[tuple[str, ClinicApp]]:
    """``(base URL, clinic)`` of a live server over a fresh copy of ``template``."""
    import uvicorn

    original = services.accounts.use_password_hasher(cheap_hasher())
    env = open_clinic_app(tmp_path_factory.mktemp(name) / "clinic.sqlite3", template)
    config = uvicorn.Config(
        env.app, host="127.0.0.1", port=free_port(ports), log_level="warning", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:  # readiness wait, not a timing assertion
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}", env
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        env.db.dispose()
        services.accounts.use_password_hasher(original)

"""One live clinic server for the Chromium tests: a copy of the session's SQLite demo template
served by uvicorn in a thread on a free loopback port (of the test module's own range, if it
names one), with the cheap password hasher, torn down after the module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from needleplan import services

from .browser_support import free_port, serving
from .conftest import cheap_hasher
from .patients_fixtures import ClinicApp, open_clinic_app

__all__ = ["free_port", "served_clinic"]


@contextmanager
def served_clinic(
    tmp_path_factory: pytest.TempPathFactory,
    template: Path,
    name: str,
    ports: range | None = None,
) -> Iterator[tuple[str, ClinicApp]]:
    """``(base URL, clinic)`` of a live server over a fresh copy of ``template``."""
    original = services.accounts.use_password_hasher(cheap_hasher())
    env = open_clinic_app(tmp_path_factory.mktemp(name) / "clinic.sqlite3", template)
    try:
        with serving(env.app, ports) as base:
            yield base, env
    finally:
        env.db.dispose()
        services.accounts.use_password_hasher(original)

"""The demo clinic for tests: built through the services once, copied for every test that reads it.

``services.fill_demo_clinic`` books every course through the booking service, so filling a clinic
of a hundred patients costs many seconds of CPU; copying one costs milliseconds. Tests that read
a demo clinic take the ``demo_clinic`` fixture (tests/conftest.py), which calls
:func:`open_demo_clinic`:

- **SQLite**: the clinic is built once per test run, under a file lock in the run's shared
  temporary folder, so every pytest-xdist worker uses the same build (the pattern pytest-xdist
  documents for session data shared by workers); each test gets a copy of the file.
- **PostgreSQL**: each worker's server holds the clinic once as a template database, loaded from
  the SQLite build through the product's own backup and restore (``storage.backup``; that a
  SQLite backup restores into PostgreSQL identically is tested in
  tests/storage/test_storage_backup.py); each test gets ``CREATE DATABASE ... TEMPLATE``.
  The demo fill itself runs on PostgreSQL in tests/services/test_demo.py (the same-seed test).

:data:`DEMO` is the one clinic the tests share: 120 patients, seed 4, seen on Saturday
21 November 2026 (every course state, a busy fortnight ahead, recall due).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class DemoSpec:
    """Which demo clinic: ``fill_demo_clinic(patients=, seed=, today=)``."""

    patients: int
    seed: int
    today: date

    @property
    def name(self) -> str:
        return f"demo_{self.patients}_{self.seed}_{self.today:%Y%m%d}"


DEMO = DemoSpec(patients=60, seed=4, today=date(2026, 11, 21))


@dataclass(frozen=True)
class DemoClinic:
    """A database holding a demo clinic, the summary its fill returned, and what it was."""

    db: Any  # needleplan.storage.Database
    summary: Any  # needleplan.services.DemoSummary
    spec: DemoSpec


#: Per test process: (backend, spec) -> (template: a SQLite path or a PostgreSQL database, summary)
_TEMPLATES: dict[tuple[str, DemoSpec], tuple[str, Any]] = {}


def _shared_folder(factory: pytest.TempPathFactory) -> Path:
    """The folder every worker of this run sees: the parent of a worker's base temp folder
    under pytest-xdist, else the base temp folder itself (never one shared with other runs)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _sqlite_build(factory: pytest.TempPathFactory, spec: DemoSpec) -> tuple[str, Any]:
    """The SQLite file holding ``spec``'s clinic and its summary, built by the first worker
    that asks (the others wait on the lock, then read it)."""
    from needleplan import services
    from needleplan.storage import Database

    folder = _shared_folder(factory)
    path = folder / f"{spec.name}.sqlite3"
    summary_path = folder / f"{spec.name}.json"
    with open(folder / f"{spec.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not summary_path.exists():
                partial = folder / f"{spec.name}.building.sqlite3"
                partial.unlink(missing_ok=True)
                db = Database.open(f"sqlite:///{partial}")
                try:
                    summary = services.fill_demo_clinic(
                        db, patients=spec.patients, seed=spec.seed, today=spec.today
                    )
                finally:
                    db.dispose()  # checkpoints the WAL into the file
                partial.replace(path)
                summary_path.write_text(json.dumps(dataclasses.asdict(summary)))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(path), services.DemoSummary(**json.loads(summary_path.read_text()))


def _template(request: pytest.FixtureRequest, backend: str, spec: DemoSpec) -> tuple[str, Any]:
    key = (backend, spec)
    if key not in _TEMPLATES:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        sqlite_path, summary = _sqlite_build(factory, spec)
        if backend == "sqlite":
            _TEMPLATES[key] = (sqlite_path, summary)
        else:
            from needleplan.storage.backup import backup, restore
            from needleplan.storage.engine import make_engine

            folder = factory.mktemp("demo-backup")
            source = make_engine(f"sqlite:///{sqlite_path}")
            try:
                backup(source, folder / "demo.json.gz")
            finally:
                source.dispose()
            name = f"{spec.name}_template"
            target = make_engine(request.getfixturevalue("pg_server").create_database(name))
            try:
                restore(target, folder / "demo.json.gz", media_root=folder / "media")
            finally:
                target.dispose()
            _TEMPLATES[key] = (name, summary)
    return _TEMPLATES[key]


_copies = iter(range(1, 1_000_000))


@contextlib.contextmanager
def open_demo_clinic(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, spec: DemoSpec = DEMO
) -> Iterator[DemoClinic]:
    """A fresh copy of ``spec``'s demo clinic on ``backend``, open for one test."""
    from needleplan.storage import Database

    template, summary = _template(request, backend, spec)
    if backend == "sqlite":
        target = tmp_path / "demo.sqlite3"
        shutil.copyfile(template, target)
        url = f"sqlite:///{target}"
    else:
        pg = request.getfixturevalue("pg_server")
        url = pg.create_database(f"{spec.name}_{next(_copies)}", template=template)
    db = Database.open(url, upgrade=False)
    try:
        yield DemoClinic(db, summary, spec)
    finally:
        db.dispose()
        if backend != "sqlite":
            request.getfixturevalue("pg_server").drop_database(url)

"""Backup and restore: a consistent snapshot while writes go on; restore gives identical rows.

The populated clinic is tests/conftest.py's copy of one fill per test process and backend; a
restore's target is a copy of an empty database already migrated to head
(:func:`migrated_empty_url`, also used by test_storage_media_backup.py), the state
``Database.open`` gave the empty database before (the restore's own ``migrate.upgrade`` finds
nothing to do in both cases).
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from needleplan import services
from needleplan.exceptions import ConflictError, InputError
from needleplan.storage import Database
from needleplan.storage.backup import (
    EXCLUDED_TABLES,
    backed_up_tables,
    backup,
    read_backup,
    restore,
    snapshot,
)
from needleplan.storage.repositories import slot_starts
from needleplan.storage.tables import metadata
from tests.strategies import examples

#: Per test process: the PostgreSQL template database migrated to head and left empty.
_MIGRATED: dict[str, str] = {}
_copies = itertools.count(1)


def migrated_empty_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A new database on ``backend`` with the schema at head and no rows (SQLite: a copy of the
    session's migrated file; PostgreSQL: a copy of a template migrated once per process)."""
    if backend == "sqlite":
        target = tmp_path / "empty.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    pg = request.getfixturevalue("pg_server")
    if "name" not in _MIGRATED:
        from needleplan.storage import migrate
        from needleplan.storage.engine import make_engine

        engine = make_engine(pg.create_database("migrated_template"))
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        _MIGRATED["name"] = "migrated_template"
    url: str = pg.create_database(f"migrated_{next(_copies)}", template=_MIGRATED["name"])
    return url


@pytest.fixture(scope="session")
def migrated_file(_sqlite_template: Path) -> Path:
    """The session's SQLite file migrated to head, without rows (copy it, never open it)."""
    return _sqlite_template


@pytest.fixture
def empty_target_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A restore's target: a new database at the newest schema, without rows."""
    return migrated_empty_url(request, backend, tmp_path)


def _rows(engine: Any, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar())


def test_restore_into_empty_database_gives_identical_rows_in_every_table(
    populated: Any, empty_target_url: str, tmp_path: Path
) -> None:
    """Every table but the sign-in sessions, which backups leave out on purpose."""
    file = tmp_path / "clinic-backup.json.gz"
    with populated.db.transaction() as uow:  # an anonymised record (issue 17, retention)
        uow.retention.anonymise(populated.patient.id, datetime(2031, 2, 1, tzinfo=UTC), "test")
    counts = backup(populated.db.engine, file)
    assert {
        "staff_sessions",
        "rate_limits",
        "idempotency_keys",
        "intake_kiosks",
        "worker_heartbeats",
        "patient_name_tokens",
    } == EXCLUDED_TABLES
    assert set(counts) == {t.name for t in metadata.sorted_tables} - EXCLUDED_TABLES
    assert all(counts[t.name] > 0 for t in backed_up_tables()), counts
    assert _rows(populated.db.engine, "staff_sessions") == 1  # there was one to leave out
    assert "staff_sessions" not in read_backup(file)["tables"]
    target = Database.open(empty_target_url)
    try:
        restored = restore(target.engine, file)
        assert restored == counts
        assert _rows(target.engine, "staff_sessions") == 0
        original, copy = snapshot(populated.db.engine), snapshot(target.engine)
        assert copy["tables"] == original["tables"]
        # identities continue after the restored rows
        newcomer = services.register_patient(
            target,
            {
                "consent_treatment": True,
                "given_name": "N",
                "family_name": "New",
                "birth_date": "1990-01-01",
            },
        )
        assert newcomer.id == max(r[0] for r in original["tables"]["patients"]["rows"]) + 1
        assert services.authenticate(target, "frontdesk", "correct horse battery") is not None
    finally:
        target.dispose()


def test_sessions_in_a_backup_file_are_never_restored(
    populated: Any, empty_target_url: str, tmp_path: Path
) -> None:
    """A file that carries staff_sessions (written by hand or by an older build) restores
    everything else; the sessions stay out, so nobody is signed in by a restore."""
    file = tmp_path / "with-sessions.json"
    backup(populated.db.engine, file)
    doc = json.loads(file.read_text())
    user_id = doc["tables"]["users"]["rows"][0][0]
    start, end = "2031-01-06T09:00:00+00:00", "2031-01-06T17:00:00+00:00"
    doc["tables"]["staff_sessions"] = {
        "columns": [c.name for c in metadata.tables["staff_sessions"].columns],
        "rows": [[1, "a" * 64, user_id, start, start, end, None, "curl"]],
    }
    file.write_text(json.dumps(doc))
    target = Database.open(empty_target_url)
    try:
        counts = restore(target.engine, file)
        assert "staff_sessions" not in counts
        assert counts["users"] == len(doc["tables"]["users"]["rows"])
        assert _rows(target.engine, "staff_sessions") == 0
    finally:
        target.dispose()


def test_restore_refuses_a_database_with_records(populated: Any, tmp_path: Path) -> None:
    file = tmp_path / "b.json"
    backup(populated.db.engine, file)
    with pytest.raises(ConflictError, match="empty database"):
        restore(populated.db.engine, file)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"not json at all", "file"),
        (b'{"format": "something-else"}', "format"),
        (
            b'{"format": "needleplan-backup", "version": 1, "schema_revision": "9999", '
            b'"tables": {}}',
            "schema_revision",
        ),
        (
            b'{"format": "needleplan-backup", "version": 1, "schema_revision": "0002", '
            b'"tables": {"patients": {"columns": ["id", "bogus"], "rows": []}}}',
            "tables.patients.columns",
        ),
    ],
)
def test_bad_backup_files_are_input_errors(
    db: Any, tmp_path: Path, content: bytes, field: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(content)
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        restore(db.engine, file)


def test_backup_taken_during_a_burst_of_bookings_is_consistent(
    clinic: Any, tmp_path: Path, make_protocol: Any
) -> None:
    """Every course in the snapshot has its ledger and every appointment all its slot claims."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        k = 0
        try:
            while not stop.is_set() and k < 400:
                start = datetime(2033, 1, 1, 8, tzinfo=UTC) + timedelta(hours=k)
                patient = services.register_patient(
                    clinic.db,
                    {
                        "consent_treatment": True,
                        "given_name": "Burst",
                        "family_name": f"P{k}",
                        "birth_date": "1970-01-01",
                    },
                )
                services.book_course(
                    clinic.db,
                    patient.id,
                    make_protocol(2),
                    [(start, start + timedelta(minutes=40), clinic.alice.id)],
                )
                k += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    snaps = []
    try:
        for i in range(3):
            file = tmp_path / f"during-{i}.json"
            backup(clinic.db.engine, file)
            snaps.append(json.loads(file.read_text()))
    finally:
        stop.set()
        thread.join()
    assert not errors
    for snap in snaps:
        tables = snap["tables"]
        col = {name: {c: i for i, c in enumerate(t["columns"])} for name, t in tables.items()}
        courses = {r[col["courses"]["id"]]: r for r in tables["courses"]["rows"]}
        ledger_sum: dict[int, int] = {}
        for r in tables["course_ledger"]["rows"]:
            cid = r[col["course_ledger"]["course_id"]]
            ledger_sum[cid] = ledger_sum.get(cid, 0) + r[col["course_ledger"]["delta"]]
        assert ledger_sum == {
            cid: r[col["courses"]["remaining_sessions"]] for cid, r in courses.items()
        }
        claims: dict[int, int] = {}
        for r in tables["slot_claims"]["rows"]:
            aid = r[col["slot_claims"]["appointment_id"]]
            claims[aid] = claims.get(aid, 0) + 1
        for r in tables["appointments"]["rows"]:
            start = datetime.fromisoformat(r[col["appointments"]["start_at"]])
            end = datetime.fromisoformat(r[col["appointments"]["end_at"]])
            assert claims.get(r[col["appointments"]["id"]]) == len(slot_starts(start, end))
            assert r[col["appointments"]["course_id"]] in courses


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_backup_restores_into_postgresql_identically(
    populated: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A backup moves a clinic from the default SQLite file to PostgreSQL."""
    file = tmp_path / "move.json"
    backup(populated.db.engine, file)
    target = Database.open(migrated_empty_url(request, "postgresql", tmp_path))
    try:
        restore(target.engine, file)
        assert snapshot(target.engine)["tables"] == snapshot(populated.db.engine)["tables"]
    finally:
        target.dispose()


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    table=st.sampled_from(["patients", "appointments", "slot_claims", "users", "course_ledger"]),
    rows=st.lists(st.lists(_json, min_size=1, max_size=4), max_size=3),
    raw=st.binary(max_size=40),
)
def test_restoring_any_file_never_crashes(
    tmp_path: Path, migrated_file: Path, table: str, rows: list[list[Any]], raw: bytes
) -> None:
    """Random bytes and random tables give InputError (or restore cleanly), nothing else.

    Each restore goes into a new copy of the migrated empty database (the state the restore's
    own ``migrate.upgrade`` gives a new file; here it has nothing to do)."""
    from needleplan.storage.engine import make_engine

    columns = [c.name for c in metadata.tables[table].columns][
        : max((len(r) for r in rows), default=1)
    ]
    rows = [(r + [None] * len(columns))[: len(columns)] for r in rows]
    doc = {
        "format": "needleplan-backup",
        "version": 1,
        "schema_revision": "0002",
        "tables": {table: {"columns": columns, "rows": rows}},
    }
    for i, payload in enumerate([raw, json.dumps(doc).encode()]):
        file = tmp_path / f"f{i}.json"
        file.write_bytes(payload)
        shutil.copyfile(migrated_file, tmp_path / "target.sqlite3")
        engine = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
        try:
            restore(engine, file)
        except (InputError, ConflictError):
            pass
        finally:
            engine.dispose()
        (tmp_path / "target.sqlite3").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("appointments", "status", "teleported", "is not a valid appointment"),
        ("measurements", "scale", "bogus-scale", "is not a valid measurement"),
        ("users", "role", "superuser", "is not a valid user"),
        ("courses", "status", "paused-forever", "is not a valid course"),
    ],
)
def test_a_backup_with_values_outside_the_domain_restores_nothing(
    populated: Any,
    tmp_path: Path,
    empty_target_url: str,
    table: str,
    column: str,
    value: Any,
    rule: str,
) -> None:
    """Issue 17 L5: such a row used to be restored and then crash every page that read it."""
    file = tmp_path / "b.json"
    backup(populated.db.engine, file)
    data = json.loads(file.read_text(encoding="utf-8"))
    entry = data["tables"][table]
    assert entry["rows"], f"the populated clinic has no {table}"
    entry["rows"][0][entry["columns"].index(column)] = value
    row_id = entry["rows"][0][entry["columns"].index("id")]
    file.write_text(json.dumps(data), encoding="utf-8")
    target = Database.open(empty_target_url)
    try:
        with pytest.raises(InputError) as err:
            restore(target.engine, file)
        problem = err.value.problems[0]
        assert problem.field == f"tables.{table}.rows[id={row_id}]"
        assert rule in problem.rule
        assert "nothing restored" in problem.rule
        assert _rows(target.engine, "patients") == 0
    finally:
        target.dispose()

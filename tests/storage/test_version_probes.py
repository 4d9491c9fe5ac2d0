"""The version probes the app's caches are keyed on (``Database.calibration_version`` and
``Database.clinic_calendar_version``): committed versions from any connection, the open unit's
own uncommitted version inside it, nothing from a unit rolled back; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from needleplan.services._clock import utc_now
from needleplan.storage import Database


def test_an_empty_database_has_no_version(db: Database) -> None:
    assert db.calibration_version() is None
    assert db.clinic_calendar_version() is None


def test_committed_versions_are_seen_by_any_handle_on_the_database(db: Database) -> None:
    other = Database(db.engine.execution_options())  # another process's view of one database
    with db.transaction() as uow:
        saved = uow.clinic_configs.add("# calendar", "", utc_now(), None, "test")
        proposal = uow.calibrations.add_proposal({}, "", utc_now(), None, "test")
        uow.calibrations.add_adoption(None, proposal.id, "", utc_now(), None, "test")
        # Inside the unit the probes read through it: its own versions count already.
        assert db.clinic_calendar_version() == saved.id
        assert db.calibration_version() == 1
    assert other.clinic_calendar_version() == saved.id
    assert other.calibration_version() == 1
    with db.transaction() as uow:  # a revert to the default is the next adoption
        uow.calibrations.add_adoption(None, None, "revert", utc_now(), None, "test")
    assert other.calibration_version() == 2


def test_a_rolled_back_version_is_never_seen(db: Database) -> None:
    def save_then_fail() -> None:
        with db.transaction() as uow:
            uow.clinic_configs.add("# calendar", "", utc_now(), None, "test")
            uow.calibrations.add_adoption(None, None, "", utc_now(), None, "test")
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        save_then_fail()
    assert db.clinic_calendar_version() is None
    assert db.calibration_version() is None


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL's readers never wait (MVCC)
def test_a_probe_answers_at_once_while_another_connection_writes(db: Database) -> None:
    """SQLite: the probe reads the last committed version while a writer holds the database's
    lock (a long import, a backup restore), where a ``BEGIN IMMEDIATE`` would queue behind it
    for up to the 30-second busy timeout."""
    import threading

    with db.transaction() as uow:
        saved = uow.clinic_configs.add("# calendar", "", utc_now(), None, "test")
    answers: list[int | None] = []
    writer = db.engine.connect()
    try:
        # Its transaction begins with BEGIN IMMEDIATE (the engine's rule): it holds the lock.
        writer.exec_driver_sql("DELETE FROM clinic_configs")
        probe = threading.Thread(target=lambda: answers.append(db.clinic_calendar_version()))
        probe.start()
        probe.join(timeout=5)
        assert not probe.is_alive(), "the probe waited for the writer"
        assert answers == [saved.id]  # the committed state, not the writer's uncommitted one
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_sqlite_file_is_probed_on_a_connection_of_its_own_that_outlives_dispose(
    db: Database,
) -> None:
    """The probes' own sqlite3 connection (microseconds a read, no pool checkout) sees what the
    engine's connections commit; after ``dispose()`` it reopens at the next read."""
    from needleplan.storage.probes import SQLiteProbe

    assert isinstance(db._raw_probe, SQLiteProbe)
    assert db.probes_locally  # so the API may probe from its event loop
    assert db.clinic_calendar_version() is None
    with db.transaction() as uow:
        saved = uow.clinic_configs.add("# calendar", "", utc_now(), None, "test")
    assert db.clinic_calendar_version() == saved.id
    db.dispose()
    assert db.clinic_calendar_version() == saved.id


def test_a_private_in_memory_database_is_probed_through_the_engine() -> None:
    """``sqlite://`` lives in the engine's one connection: no second connection could see it."""
    memory = Database.open("sqlite://")
    try:
        assert memory._raw_probe is None
        assert not memory.probes_locally
        assert memory.calibration_version() is None
        with memory.transaction() as uow:
            saved = uow.clinic_configs.add("# calendar", "", utc_now(), None, "test")
        assert memory.clinic_calendar_version() == saved.id
    finally:
        memory.dispose()

"""Alembic migrations: upgrade an empty database and the previous schema; schema matches tables."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from needleplan import services
from needleplan.storage import Database, migrate
from needleplan.storage.engine import make_engine
from needleplan.storage.tables import metadata


def test_shipped_revisions_are_initial_then_follow_up() -> None:
    assert migrate.revisions() == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
        "0014",
        "0015",
        "0016",
        "0017",
        "0018",
        "0019",
        "0020",
        "0021",
        "0022",
        "0023",
        "0024",
        "0026",
        "0027",
    ]
    assert migrate.head_revision() == migrate.HEAD == "0027"


def test_upgrade_empty_database_to_head_matches_the_tables(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.HEAD
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection skips expression indexes (migration 0026) with this warning,
            # and Alembic then leaves them out of the comparison on SQLite;
            # tests/storage/test_scale_indexes.py checks they exist on both backends.
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            warnings.filterwarnings(
                "ignore", "autogenerate skipping metadata-specified expression-based index"
            )
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
        migrate.upgrade(engine)  # idempotent
        assert migrate.current_revision(engine) == migrate.HEAD
    finally:
        engine.dispose()


def test_upgrade_from_previous_schema_keeps_records(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0001")
        assert "users" not in inspect(engine).get_table_names()
        now = datetime(2030, 1, 1, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO patients (mrn, given_name, family_name, birth_date, sex, "
                    "consent_treatment, consent_contact, notes, created_at) VALUES "
                    "('OLD1', 'Old', 'Record', :bd, 'female', true, false, '', :now)"
                ),
                {
                    "bd": date(1970, 1, 1),
                    "now": now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now,
                },
            )
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.HEAD
    finally:
        engine.dispose()
    db = Database.open(empty_database_url)
    try:
        patient = services.find_patient(db, "OLD1")
        assert patient.family_name == "Record"
        assert patient.consent_research is False
        assert patient.created_at == datetime(2030, 1, 1, tzinfo=UTC)
        user = services.create_user(db, "admin", "a long enough password", "admin")
        assert user.role.value == "admin"
    finally:
        db.dispose()


def test_database_open_upgrades_on_start(empty_database_url: str) -> None:
    db = Database.open(empty_database_url)
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.dispose()

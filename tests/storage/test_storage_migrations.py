"""Alembic migrations: upgrade an empty database and the previous schema; schema matches tables."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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
        "0028",
        "0029",
        "0030",
    ]
    assert migrate.head_revision() == migrate.HEAD == "0030"


def test_upgrade_empty_database_to_head_matches_the_tables(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.replay(engine)  # every script, not the one-step build of an empty database
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


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything reflection sees of every table: columns (type, nullability, default), primary
    key, foreign keys (with their actions), indexes, unique and check constraints."""

    def squash(sql: Any) -> str:
        return re.sub(r"[\s\"()]+", "", str(sql)).lower() if sql is not None else ""

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        found = inspect(engine)
        for table in sorted(found.get_table_names()):
            out[table] = {
                # by name: a migration adds a column at the end, the definitions may list it
                # elsewhere, and nothing reads columns by position
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], squash(c.get("default")))
                    for c in found.get_columns(table)
                ),
                "primary key": found.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted(
                    (
                        fk["name"] or "",
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        tuple(sorted((fk.get("options") or {}).items())),
                    )
                    for fk in found.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (
                        i["name"] or "",
                        tuple(str(c) for c in i["column_names"]),
                        bool(i["unique"]),
                        tuple(squash(e) for e in i.get("expressions") or []),
                        squash(
                            (i.get("dialect_options") or {}).get("postgresql_where")
                            or (i.get("dialect_options") or {}).get("sqlite_where")
                        ),
                    )
                    for i in found.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in found.get_unique_constraints(table)
                ),
                "checks": sorted(
                    (c["name"] or "", squash(c["sqltext"]))
                    for c in found.get_check_constraints(table)
                ),
            }
    return out


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_empty_database_built_in_one_step_equals_the_replayed_migrations(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``migrate.upgrade`` builds an empty database from the table definitions in one step; a
    database built by every migration script must have exactly the same schema, or a later
    migration would meet different tables depending on how the clinic's database was born."""
    if backend == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}.sqlite3" for name in ("replayed", "one_step")]
    else:
        pg = request.getfixturevalue("pg_server")
        urls = [
            pg.create_database(f"{name}_{tmp_path.name[-20:]}") for name in ("replayed", "one_step")
        ]
    replayed, one_step = (make_engine(url) for url in urls)
    try:
        migrate.replay(replayed)
        assert migrate.create_at_head(one_step) is True
        assert migrate.create_at_head(one_step) is False  # a database with tables is left alone
        assert migrate.current_revision(one_step) == migrate.current_revision(replayed)
        built, expected = _schema(one_step), _schema(replayed)
        assert sorted(built) == sorted(expected)
        differences = {
            (table, part): (built[table][part], expected[table][part])
            for table in expected
            for part in expected[table]
            if built[table][part] != expected[table][part]
        }
        assert differences == {}
    finally:
        replayed.dispose()
        one_step.dispose()

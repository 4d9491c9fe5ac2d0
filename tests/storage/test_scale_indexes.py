"""Migration 0026's indexes (and 0029's on the names' search keys) exist on SQLite and
PostgreSQL, and the planner answers the hot queries (patient search, recall worklist, calendar
window) from them (docs/scale.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from needleplan import services
from needleplan.storage.tables.scale import SCALE_INDEXES

NAMES = {index.name for index in SCALE_INDEXES}


def _index_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
        else:
            rows = conn.execute(text("SELECT indexname FROM pg_indexes"))
        return {r[0] for r in rows}


def test_the_migration_creates_every_scale_index(db: Any) -> None:
    assert len(NAMES) == 7
    assert _index_names(db.engine) >= NAMES


def _plans(db: Any, call: Any) -> str:
    """The query plans of every SELECT ``call`` sends (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
    EXPLAIN with sequential scans priced out, so a usable index shows up on a tiny table)."""
    statements: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    out: list[str] = []
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, params in statements:
            if db.engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + statement, params)
                out += [str(r[-1]) for r in cur.fetchall()]
            else:
                # statistics of this test's rows, not of rows earlier tests left and deleted
                cur.execute("ANALYZE")
                cur.execute("SET enable_seqscan = off")
                cur.execute("EXPLAIN " + statement, params)
                out += [str(r[0]) for r in cur.fetchall()]
        cur.close()
    finally:
        raw.rollback()
        raw.close()
    return "\n".join(out)


@pytest.fixture
def people(db: Any) -> Any:
    for given, family, phone, email in (
        ("Anna", "Kelfeld", "+49 30 1234567", "anna.kelfeld@example.org"),
        ("Beate", "Bauer", "+49 40 7654321", "beate@example.org"),
    ):
        services.register_patient(
            db,
            {
                "given_name": given,
                "family_name": family,
                "birth_date": "1970-01-01",
                "phone": phone,
                "email": email,
            },
        )
    return db


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("kelf", "ix_patients_family_key"),
        ("ANN", "ix_patients_given_key"),
        ("+49 30 123", "ix_patients_phone_digits"),
        ("anna.kelfeld@exa", "ix_patients_email_lower"),
    ],
)
def test_patient_search_reads_the_indexes(people: Any, query: str, index: str) -> None:
    found, total = services.search_patients(people, query)
    assert total == 1
    assert found[0].family_name == "Kelfeld"
    assert index in _plans(people, lambda: services.search_patients(people, query))


def test_search_terms_are_prefixes_and_phone_digits_without_the_country_code_still_match(
    people: Any,
) -> None:
    assert services.search_patients(people, "feld")[1] == 0  # not a prefix of a name
    assert services.search_patients(people, "bau")[1] == 1
    assert services.search_patients(people, "4930123")[1] == 1
    assert services.search_patients(people, "1234567")[1] == 1  # the scan, when nothing else
    # LIKE wildcards are dropped from a word, never used as wildcards
    assert services.search_patients(people, "a%") == services.search_patients(people, "a")
    assert services.search_patients(people, "_nna")[1] == 0


def test_recall_worklist_and_calendar_read_their_indexes(people: Any) -> None:
    today = date(2031, 3, 12)
    services.add_recall(people, 1, date(2031, 3, 20))
    page = services.recall_worklist(people, today=today, tab="month", per_page=50)
    assert [e.patient_id for e in page.entries] == [1]
    plans = _plans(
        people, lambda: services.recall_worklist(people, today=today, tab="month", per_page=50)
    )
    assert "ix_recall_entries_status_due_date_id" in plans
    week = datetime(2031, 3, 10, tzinfo=UTC), datetime(2031, 3, 17, tzinfo=UTC)
    plans = _plans(people, lambda: services.appointments_between(people, *week))
    assert "ix_appointments_start_at" in plans

"""Bulk loading of rows into EMPTY tables: COPY on PostgreSQL, executemany on SQLite.

Used by the large clinic generator (:mod:`needleplan.storage.large_clinic`). On PostgreSQL the
loaded tables' secondary indexes and foreign keys are dropped inside the loading transaction
and created again from the table declarations after the COPY (PostgreSQL's own advice for
populating a database: one index build and one foreign-key check per table instead of one per
row); the transaction holds them all, so another connection never sees a table without them,
and a failed load leaves nothing. Then the id sequences move past the loaded ids and the
planner's statistics are refreshed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

#: One table's rows, in its column order, made when the table's turn comes.
Rows = Callable[[], Iterable[tuple[Any, ...]]]


def _copy(conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY ``rows`` into ``table`` (PostgreSQL); JSON values are dumped once per object."""
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    json_cols = [i for i, c in enumerate(table.columns) if c.type.__class__.__name__ == "JSON"]
    dumped: dict[int, str] = {}  # rows share their JSON values (templates): dump each once
    n = 0
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            if json_cols:
                values = list(row)
                for k in json_cols:
                    key = id(values[k])
                    found = dumped.get(key)
                    if found is None:
                        found = dumped[key] = json.dumps(values[k])
                    values[k] = found
                row = tuple(values)
            copy.write_row(row)
            n += 1
    return n


def _executemany(conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert ``rows`` into ``table`` in batches of 20,000 (SQLite: one executemany each)."""
    names = [c.name for c in table.columns]
    n, batch = 0, []
    stmt = insert(table)
    for row in rows:
        batch.append(dict(zip(names, row, strict=True)))
        if len(batch) == 20_000:
            conn.execute(stmt, batch)
            n, batch = n + len(batch), []
    if batch:
        conn.execute(stmt, batch)
        n += len(batch)
    return n


def load_tables(
    engine: Engine,
    steps: Sequence[tuple[Table, Rows]],
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Load each table's rows in order in ONE transaction; how many rows each table got."""
    postgres = engine.dialect.name == "postgresql"
    tables = [t for t, _ in steps]
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        if postgres:
            for table in tables:
                for fk in table.foreign_key_constraints:
                    conn.execute(DropConstraint(fk))
                for index in table.indexes:
                    conn.execute(DropIndex(index))
        for table, rows in steps:
            counts[table.name] = (_copy if postgres else _executemany)(conn, table, rows())
            if progress is not None:
                progress(table.name, counts[table.name])
        if postgres:
            for table in tables:
                for index in table.indexes:
                    conn.execute(CreateIndex(index))
                for fk in table.foreign_key_constraints:
                    # isolate_from_table=False: the shared table definitions must still
                    # create this key inline when a new database is built from them later
                    conn.execute(AddConstraint(fk, isolate_from_table=False))
                if "id" in table.c:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f'GREATEST((SELECT max(id) FROM "{table.name}"), 1))'
                        )
                    )
            if progress is not None:
                progress("indexes and foreign keys", len(tables))
    with engine.connect() as conn:
        if postgres:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return counts

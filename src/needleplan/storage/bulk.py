"""Bulk loading of rows into EMPTY tables: COPY on PostgreSQL, executemany on SQLite.

Used by the large clinic generator (:mod:`needleplan.storage.large_clinic`). On PostgreSQL the
loaded tables' secondary indexes and foreign keys, and the primary keys and unique constraints
no other table refers to, are dropped inside the loading transaction and created again from
the table declarations after the COPY (PostgreSQL's own advice for populating a database: one
index build and one foreign-key check per table instead of one per row, with a larger
``maintenance_work_mem`` for the builds); the transaction holds them all, so another connection never sees a table without them,
and a failed load leaves nothing. Then the id sequences move past the loaded ids and the
planner's statistics are refreshed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Constraint,
    Engine,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    insert,
    text,
)
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


#: Memory for the index builds after a load (PostgreSQL's default is 64 MB).
MAINTENANCE_WORK_MEM = "512MB"


def _rebuilt_keys(tables: Sequence[Table]) -> list[Constraint]:
    """The primary keys and unique constraints of the loaded tables that only loaded tables
    refer to: dropped before the COPY and built once after it, like the indexes. (A table
    loaded in random key order, such as the slot claims, otherwise updates a five-million-entry
    B-tree per row.) A key another table's foreign key needs stays."""
    loaded = {t.name for t in tables}
    needed = (
        {
            fk.referred_table.name
            for other in tables[0].metadata.tables.values()
            if other.name not in loaded
            for fk in other.foreign_key_constraints
        }
        if tables
        else set()
    )
    return [
        c
        for t in tables
        if t.name not in needed
        for c in t.constraints
        if isinstance(c, PrimaryKeyConstraint | UniqueConstraint) and c.name
    ]


def load_tables(
    engine: Engine,
    steps: Sequence[tuple[Table, Rows]],
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Load each table's rows in order in ONE transaction; how many rows each table got."""
    postgres = engine.dialect.name == "postgresql"
    tables = [t for t, _ in steps]
    counts: dict[str, int] = {}
    keys = _rebuilt_keys(tables) if postgres else []
    with engine.begin() as conn:
        if postgres:
            # Index builds sort in memory instead of spilling to disk (this transaction only).
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
            for table in tables:
                for fk in table.foreign_key_constraints:
                    conn.execute(DropConstraint(fk))
                for index in table.indexes:
                    conn.execute(DropIndex(index))
            for key in keys:
                conn.execute(DropConstraint(key))
        for table, rows in steps:
            counts[table.name] = (_copy if postgres else _executemany)(conn, table, rows())
            if progress is not None:
                progress(table.name, counts[table.name])
        if postgres:
            # isolate_from_table=False (here and below): the shared table definitions must still
            # create these keys inline when a new database is built from them later
            for key in keys:  # the keys first: the foreign keys below refer to them
                conn.execute(AddConstraint(key, isolate_from_table=False))
            for table in tables:
                for index in table.indexes:
                    conn.execute(CreateIndex(index))
            for table in tables:
                for fk in table.foreign_key_constraints:
                    conn.execute(AddConstraint(fk, isolate_from_table=False))
            for table in tables:
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

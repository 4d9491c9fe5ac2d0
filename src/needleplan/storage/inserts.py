"""The rows a unit of work inserts, so a batched import can take them out again.

A long import on SQLite must not hold the database's single write lock for minutes, so it
commits in short batches (:func:`needleplan.services.import_rows`); to stay all-or-nothing for
the user it removes what its earlier batches added when a later row fails. :class:`InsertLog`
records the primary key of every row the session inserts (through the ORM), in order, and
:func:`remove_rows` deletes them again, newest first (rows that reference a removed one with
``ON DELETE CASCADE``, such as slot claims, go with it). The log is opaque to the services: no
ORM row or table leaves storage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, delete, event, inspect, tuple_
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class InsertedRow:
    """One inserted row: its table and primary key (opaque outside storage)."""

    table: Table
    key: tuple[Any, ...]


@dataclass
class InsertLog:
    """Rows inserted while the log is open, oldest first."""

    rows: list[InsertedRow] = field(default_factory=list)

    def mark(self) -> int:
        """A point to go back to (:meth:`forget_since`)."""
        return len(self.rows)

    def forget_since(self, mark: int) -> None:
        """Drop the rows logged after ``mark`` (their savepoint was rolled back: they are gone,
        and their ids may be given to other rows)."""
        del self.rows[mark:]


@contextmanager
def logging_inserts(session: Session) -> Iterator[InsertLog]:
    """Log every ORM insert of ``session`` while the block runs."""
    log = InsertLog()

    def after_flush(s: Session, _context: Any) -> None:
        for obj in s.new:  # still the pre-flush state here, with primary keys assigned
            mapper = inspect(obj).mapper
            log.rows.append(
                InsertedRow(mapper.local_table, tuple(mapper.primary_key_from_instance(obj)))
            )

    event.listen(session, "after_flush", after_flush)
    try:
        yield log
    finally:
        event.remove(session, "after_flush", after_flush)


def remove_rows(session: Session, rows: Sequence[InsertedRow], *, batch: int = 500) -> int:
    """Delete the given rows, newest table first; returns how many rows were deleted."""
    removed = 0
    by_table: dict[Table, list[tuple[Any, ...]]] = {}
    order: list[Table] = []
    for row in reversed(rows):
        if row.table not in by_table:
            order.append(row.table)
        by_table.setdefault(row.table, []).append(row.key)
    for table in order:
        cols = list(table.primary_key.columns)
        keys = by_table[table]
        for lo in range(0, len(keys), batch):
            part = keys[lo : lo + batch]
            single = len(cols) == 1
            where = cols[0].in_([k[0] for k in part]) if single else tuple_(*cols).in_(part)
            result = session.execute(delete(table).where(where))
            removed += int(getattr(result, "rowcount", 0) or 0)
    return removed

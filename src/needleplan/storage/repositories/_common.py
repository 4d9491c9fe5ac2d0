"""Helpers shared by the repositories: slot arithmetic and fetch-or-not-found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import (
    SLOT_MINUTES,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLOT = timedelta(minutes=SLOT_MINUTES)


def slot_starts(start: datetime, end: datetime) -> list[datetime]:
    """Start of every ``SLOT_MINUTES`` slot (UTC, epoch-aligned) that ``[start, end)`` overlaps.

    Two intervals that overlap at any instant share at least one slot, so a unique claim per
    slot rules out every overlap. Intervals that merely touch inside one slot (10:00-10:07 and
    10:07-10:15) also share a slot: times finer than the slot are treated as conflicting.
    """
    s = start.astimezone(UTC)
    e = end.astimezone(UTC)
    offset = (s - _EPOCH) % _SLOT
    cur = s - offset
    out: list[datetime] = []
    while cur < e:
        out.append(cur)
        cur += _SLOT
    return out


#: ``Session.info`` key of the rows a unit of work keeps (see :func:`keep`).
_KEPT = "needleplan_kept_rows"


def keep(session: Session, row: Any) -> Any:
    """Hold ``row`` for the rest of the unit of work and return it.

    The session's identity map references rows weakly, and repositories hand out domain values,
    not rows: without this, a row fetched or added a moment ago is garbage and the next ``get``
    of it is another SELECT. Rows kept are dropped with the session when the transaction ends.
    """
    session.info.setdefault(_KEPT, set()).add(row)
    return row


#: The largest row id: the id columns are 32-bit integers on PostgreSQL.
MAX_ROW_ID = 2**31 - 1


def get_row(
    session: Session, row_type: type[Any], row_id: int, what: str, *, lock: bool = False
) -> Any:
    """The row by primary key (from the identity map when it is there and unlocked), else
    ``NotFoundError``; ``lock`` reads it ``FOR UPDATE``.

    SQLite has no row locks (a writer locks the whole database, and a transaction reads one
    snapshot from its first read on), so there a lock is a plain read and a row the unit of
    work already holds is not read again.
    """
    if isinstance(row_id, int) and not 1 <= row_id <= MAX_ROW_ID:
        # Beyond the 32-bit id columns: no such row (the driver would overflow, a 500).
        raise NotFoundError(f"{what} {row_id} does not exist")
    if lock and session.get_bind().dialect.name == "sqlite":
        lock = False
    row = session.get(row_type, row_id, with_for_update=True if lock else None)
    if row is None:
        raise NotFoundError(f"{what} {row_id} does not exist")
    return keep(session, row)


T = TypeVar("T")


def by_patient(
    session: Session,
    row_type: Any,
    patient_ids: Sequence[int],
    order: Sequence[Any],
    convert: Callable[[Any], T],
) -> dict[int, list[T]]:
    """Rows of ``row_type`` of each patient in ``patient_ids``, converted, in ``order`` within a
    patient (one query); a patient without rows has no key."""
    column: InstrumentedAttribute[int] = row_type.patient_id
    out: dict[int, list[T]] = {}
    rows = session.execute(
        select(row_type).where(column.in_(patient_ids)).order_by(column, *order)
    ).scalars()
    for r in rows:
        out.setdefault(r.patient_id, []).append(convert(r))
    return out

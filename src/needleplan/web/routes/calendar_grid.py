"""The calendar's time grid: where each block sits, server-side, for a CSS grid (no script).

A grid has one column per practitioner (the day view) or one per day (a practitioner's week);
rows are the clinic's slot grid (``slot_minutes``) from the earliest opening to the latest
closing of the shown days (widened to any appointment outside them, so a conflict is drawn
too). An appointment spans the rows of its duration; time the calendar does not allow
(closure, public holiday, closed weekday, day off, outside working hours, a break between
working spans) is drawn as an unavailable block carrying its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.calendar import closed_reason, working_spans
from needleplan.scheduling.clinic import Practitioner
from needleplan.web.routes.calendar_common import Entry


@dataclass(frozen=True)
class Off:
    """Unavailable time in one column [grid rows, 1-based, end exclusive] and why."""

    row: int
    end_row: int
    reason: str
    whole_day: bool = False


@dataclass(frozen=True)
class Block:
    """An appointment placed in the grid."""

    entry: Entry
    row: int
    end_row: int


@dataclass
class Column:
    """One column of the grid: a practitioner on a day."""

    day: date
    title: str
    practitioner: str
    offs: list[Off] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Grid:
    """Rows from ``first_minute`` every ``step`` minutes; ``labels`` are (row, "HH:MM") on the hour."""

    first_minute: int
    step: int
    rows: int
    columns: list[Column]
    labels: list[tuple[int, str]]


def _minute(value: datetime, day: date) -> int:
    return (value.date() - day).days * 1440 + value.hour * 60 + value.minute


def _bounds(
    clinic: ClinicConfig, days: Sequence[date], entries: Sequence[Entry]
) -> tuple[int, int]:
    lo, hi = 24 * 60, 0
    for d in days:
        for p in clinic.practitioners:
            for a, b in working_spans(clinic, p, d):
                lo, hi = min(lo, a), max(hi, b)
    for e in entries:
        lo = min(lo, _minute(e.start, e.start.date()))
        hi = max(hi, min(24 * 60, _minute(e.end, e.start.date())))
    if lo >= hi:
        lo, hi = 9 * 60, 18 * 60
    return (lo // 60) * 60, -(-hi // 60) * 60


def _offs(
    clinic: ClinicConfig, person: Practitioner | None, day: date, first: int, last: int, step: int
) -> list[Off]:
    def row(minute: int) -> int:
        return (max(first, min(last, minute)) - first) // step + 1

    end = row(last)
    if person is None:
        return [Off(1, end, "not in this calendar", True)]
    reason = closed_reason(clinic, person, day)
    if reason is not None:
        return [Off(1, end, reason, True)]
    out: list[Off] = []
    cursor = first
    spans = working_spans(clinic, person, day)
    for i, (a, b) in enumerate(spans):
        if a > cursor:
            out.append(Off(row(cursor), row(a), "closed" if i == 0 else "break"))
        cursor = max(cursor, b)
    if cursor < last:
        out.append(Off(row(cursor), end, "closed"))
    return [o for o in out if o.end_row > o.row]


def build_grid(
    clinic: ClinicConfig,
    columns: Sequence[tuple[date, str, str]],
    entries: Sequence[Entry],
) -> Grid:
    """The grid for ``columns`` (day, title, practitioner name) and the entries to place.

    An entry goes to the column of its local day and practitioner; one that matches no column
    is left out.
    """
    step = clinic.slot_minutes
    days = sorted({c[0] for c in columns})
    first, last = _bounds(clinic, days, entries)
    rows = (last - first) // step
    people = {p.name: p for p in clinic.practitioners}
    out = [
        Column(d, title, name, _offs(clinic, people.get(name), d, first, last, step))
        for d, title, name in columns
    ]
    index = {(c.day, c.practitioner): c for c in out}
    for e in entries:
        column = index.get((e.start.date(), e.practitioner))
        if column is None:
            continue
        a = max(first, _minute(e.start, e.start.date()))
        b = min(last, max(a + step, _minute(e.end, e.start.date())))
        column.blocks.append(Block(e, (a - first) // step + 1, -(-(b - first) // step) + 1))
    labels = [((m - first) // step + 1, f"{m // 60:02d}:00") for m in range(first, last, 60)]
    return Grid(first, step, rows, out, labels)

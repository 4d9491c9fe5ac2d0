"""Importing patients, assessments and measurements from rows (CSV).

A long import must not freeze the clinic: SQLite has one write lock, and a 100,000-row import in
one transaction held it for minutes while every staff page waited and then failed. Rows are
therefore applied in short batches, each its own transaction with its own audit row
(``import``, naming the lines), so other connections write between batches. It stays
all-or-nothing for the user: when a row fails (and ``skip_bad`` is off), or the import stops on
an unexpected error, the rows the earlier batches added are removed again in one short
transaction (audited as ``import`` "... refused, removed N rows"), and the error lists every bad
row. Limits: a process killed between batches leaves the batches committed so far (the audit
log names their lines), and the removal cannot take back what other users did meanwhile with a
just-imported record (a removal that their change blocks is reported, not forced).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from needleplan.domain.accounts import User, require_action
from needleplan.exceptions import (
    FieldProblem,
    InputError,
    NeedleplanError,
)
from needleplan.services.audit import audited
from needleplan.storage import Database, InsertedRow, InsertLog, UnitOfWork

T = TypeVar("T")

#: A batch ends after this many rows or :data:`BATCH_SECONDS` of work, whichever comes first,
#: so it holds the write lock for about half a second however slow the rows are.
BATCH_ROWS = 1000
BATCH_SECONDS = 0.5
#: Pause between batches on SQLite [s]. SQLite's lock is not a queue: a waiting writer polls
#: (every 100 ms at most) and would lose every race to an importer that starts its next batch at
#: once, so the importer leaves the lock free a little longer than one poll.
SQLITE_PAUSE = 0.15

#: ``progress(rows_done, rows_total)`` after each batch.
ImportProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be imported: its line in the file and what is wrong."""

    line: int
    problems: list[FieldProblem]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(p) for p in self.problems)


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[RowProblem] = field(default_factory=list)
    batches: int = 0


def _apply_batch(
    uow: UnitOfWork,
    batch: Sequence[tuple[int, T]],
    apply: Callable[[UnitOfWork, T], object],
    problems: list[RowProblem],
    log: InsertLog | None = None,
    until: float | None = None,
) -> tuple[int, int]:
    """Apply rows, each in a savepoint, until ``until`` (a ``time.monotonic()``) has passed;
    returns how many rows were applied and how many were used (applied or refused).

    A row that fails is rolled back to its savepoint, and its inserts leave ``log``: they are
    gone, and their ids may go to other connections' rows.
    """
    done = used = 0
    for line, value in batch:
        if until is not None and used and time.monotonic() > until:
            break
        used += 1
        mark = log.mark() if log is not None else 0
        try:
            with uow.savepoint():
                apply(uow, value)
        except NeedleplanError as exc:
            if log is not None:
                log.forget_since(mark)
            fields = (
                exc.problems
                if isinstance(exc, InputError)
                else [FieldProblem("row", f"line {line}", str(exc))]
            )
            problems.append(RowProblem(line, fields))
        else:
            done += 1
    return done, used


def _refusal(problems: list[RowProblem]) -> InputError:
    return InputError(
        [
            FieldProblem(f"line {p.line}: {fp.field}", fp.value, fp.rule)
            for p in problems
            for fp in p.problems
        ],
        source="import refused, nothing imported",
    )


def import_rows(
    db: Database,
    rows: Sequence[tuple[int, T]],
    apply: Callable[[UnitOfWork, T], object],
    *,
    bad: Sequence[RowProblem] = (),
    skip_bad: bool = False,
    user: User | None = None,
    username: str | None = None,
    detail: str = "",
    batch_rows: int = BATCH_ROWS,
    batch_seconds: float = BATCH_SECONDS,
    progress: ImportProgress | None = None,
    pause: float | None = None,
) -> ImportReport:
    """Apply validated rows in short audited batches, each row inside a savepoint.

    ``rows`` are ``(line, value)``; ``bad`` are rows that already failed validation. A row whose
    ``apply`` raises a needleplan error (unknown patient, duplicate record number, double booking)
    joins the bad rows. Without ``skip_bad`` any bad row means nothing is imported (what earlier
    batches added is removed) and an :class:`InputError` lists every bad row with its line and
    field; with ``skip_bad`` the good rows are kept and the report lists the rest.

    A batch ends after ``batch_rows`` rows or ``batch_seconds`` of work (at least one row).
    ``pause`` [s] between batches lets waiting writers in (default :data:`SQLITE_PAUSE` on
    SQLite, 0 on PostgreSQL, whose row locks do not block other writers).

    ``user`` (or ``username`` for an actor without an account) is the account the import acts
    as; each batch writes its ``import`` audit row in its own transaction. Called inside an open
    ``db.transaction()`` the import joins it as one unit instead (no batches: the caller's
    transaction decides).

    Raises
    ------
    InputError
        listing every bad row, when any row is bad and ``skip_bad`` is false.
    PermissionDeniedError
        when ``user``'s role may not import.
    """
    if user is not None:
        require_action(user, "import")  # before anything is written
    problems = list(bad)
    report = ImportReport()
    total = len(rows)
    wait = (SQLITE_PAUSE if db.backend == "sqlite" else 0.0) if pause is None else pause
    if db.in_transaction:
        with db.transaction() as uow:
            report.imported = _apply_batch(uow, rows, apply, problems)[0]
            report.batches = 1
    else:
        added: list[InsertedRow] = []
        try:
            lo = 0
            while lo < total:
                batch = rows[lo : lo + max(1, batch_rows)]
                with (
                    audited(db, user, "import", username=username) as note,
                    db.transaction() as uow,
                    uow.logging_inserts() as log,
                ):
                    until = time.monotonic() + batch_seconds
                    applied, used = _apply_batch(uow, batch, apply, problems, log, until)
                    uow.flush()
                    inserted = list(log.rows)
                    lines = f"lines {batch[0][0]}-{batch[used - 1][0]}"
                    note.detail = f"{detail} {lines}".strip()
                report.imported += applied
                added.extend(inserted)
                report.batches += 1
                lo += used
                if progress is not None:
                    progress(lo, total)
                if lo < total and wait > 0:
                    time.sleep(wait)  # leave the write lock to whoever waits for it
            if problems and not skip_bad:
                raise _refusal(sorted(problems, key=lambda p: p.line))
        except BaseException:
            if added:
                _remove(db, added, user, username, detail)
            raise
    problems.sort(key=lambda p: p.line)
    if problems and not skip_bad:
        raise _refusal(problems)
    report.skipped = problems
    return report


def _remove(
    db: Database,
    added: Sequence[InsertedRow],
    user: User | None,
    username: str | None,
    detail: str,
) -> None:
    """Take out what the committed batches of a refused import added (one transaction)."""
    with audited(db, user, "import", username=username) as note, db.transaction() as uow:
        removed = uow.remove_rows(added)
        note.detail = f"{detail} refused, removed {removed} rows".strip()

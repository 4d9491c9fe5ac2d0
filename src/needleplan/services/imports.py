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

#: Rows per transaction: a batch holds the write lock for a fraction of a second.
BATCH_ROWS = 500

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
) -> int:
    """Apply rows, each in a savepoint; returns how many were applied.

    A row that fails is rolled back to its savepoint, and its inserts leave ``log``: they are
    gone, and their ids may go to other connections' rows.
    """
    done = 0
    for line, value in batch:
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
    return done


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
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Apply validated rows in short audited batches, each row inside a savepoint.

    ``rows`` are ``(line, value)``; ``bad`` are rows that already failed validation. A row whose
    ``apply`` raises a needleplan error (unknown patient, duplicate record number, double booking)
    joins the bad rows. Without ``skip_bad`` any bad row means nothing is imported (what earlier
    batches added is removed) and an :class:`InputError` lists every bad row with its line and
    field; with ``skip_bad`` the good rows are kept and the report lists the rest.

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
    if db.in_transaction:
        with db.transaction() as uow:
            report.imported = _apply_batch(uow, rows, apply, problems)
            report.batches = 1
    else:
        added: list[InsertedRow] = []
        try:
            for lo in range(0, total, max(1, batch_rows)):
                batch = rows[lo : lo + batch_rows]
                lines = f"lines {batch[0][0]}-{batch[-1][0]}"
                with (
                    audited(
                        db, user, "import", detail=f"{detail} {lines}".strip(), username=username
                    ),
                    db.transaction() as uow,
                    uow.logging_inserts() as log,
                ):
                    report.imported += _apply_batch(uow, batch, apply, problems, log)
                    uow.flush()
                    inserted = list(log.rows)
                added.extend(inserted)
                report.batches += 1
                if progress is not None:
                    progress(min(lo + batch_rows, total), total)
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

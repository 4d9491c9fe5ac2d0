"""Importing patients, assessments and measurements from rows (CSV)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from needleplan.exceptions import (
    FieldProblem,
    InputError,
    NeedleplanError,
)
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")


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


def import_rows(
    db: Database,
    rows: Sequence[tuple[int, T]],
    apply: Callable[[UnitOfWork, T], object],
    *,
    bad: Sequence[RowProblem] = (),
    skip_bad: bool = False,
) -> ImportReport:
    """Apply validated rows in one transaction, each inside a savepoint.

    ``rows`` are ``(line, value)``; ``bad`` are rows that already failed validation. A row whose
    ``apply`` raises a needleplan error (unknown patient, duplicate record number, double booking)
    joins the bad rows. Without ``skip_bad`` any bad row means nothing is imported and an
    :class:`InputError` lists every bad row with its line and field; with ``skip_bad`` the good
    rows are committed and the report lists the rest.
    """
    problems = list(bad)
    report = ImportReport()
    with db.transaction() as uow:
        for line, value in rows:
            try:
                with uow.savepoint():
                    apply(uow, value)
            except InputError as exc:
                problems.append(RowProblem(line, exc.problems))
            except NeedleplanError as exc:
                problems.append(RowProblem(line, [FieldProblem("row", f"line {line}", str(exc))]))
            else:
                report.imported += 1
        problems.sort(key=lambda p: p.line)
        if problems and not skip_bad:
            raise InputError(
                [
                    FieldProblem(f"line {p.line}: {fp.field}", fp.value, fp.rule)
                    for p in problems
                    for fp in p.problems
                ],
                source="import refused, nothing imported",
            )
        report.skipped = problems
        return report

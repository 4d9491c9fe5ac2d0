"""The owner's dashboard figures as SQL aggregates: counts and sums per month, never rows.

Every method takes the month boundaries (13 instants in UTC, or 13 dates for date columns: the
first day of each of 12 months and of the month after) and returns, per month, what the
database counted. A ``CASE`` expression puts each row in its month and ``GROUP BY`` adds them
up, so a query returns at most 12 rows per group whatever the size of the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from needleplan.storage.tables import (
    AppointmentRow,
    CourseRow,
    LeadRow,
    LeadStateRow,
    PatientRow,
    PerformedSessionRow,
    RecallRow,
)

Bounds = Sequence[datetime] | Sequence[date]


def _bucket(column: Any, bounds: Bounds) -> ColumnElement[int]:
    """The month index (0-11) of the row's ``column`` value within ``bounds``."""
    whens = [(column < bounds[i + 1], i) for i in range(len(bounds) - 2)]
    return case(*whens, else_=len(bounds) - 2)


def _within(column: Any, bounds: Bounds) -> list[ColumnElement[bool]]:
    return [column >= bounds[0], column < bounds[-1]]


def _spread(rows: Any, months: int) -> dict[Any, list[int]]:
    """``(bucket, key, count)`` rows -> ``{key: [count per month]}``."""
    out: dict[Any, list[int]] = {}
    for bucket, key, count in rows:
        out.setdefault(key, [0] * months)[int(bucket)] += int(count or 0)
    return out


class FigureQuery:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _grouped(self, column: Any, key: Any, bounds: Bounds, *where: Any) -> dict[Any, list[int]]:
        bucket = _bucket(column, bounds).label("bucket")
        rows = self.session.execute(
            select(bucket, key, func.count())
            .where(*_within(column, bounds), *where)
            .group_by(bucket, key)
        ).all()
        return _spread(rows, len(bounds) - 1)

    def sessions(self, bounds: Sequence[datetime]) -> dict[str, list[int]]:
        """Performed (charted) sessions per month: ``maintenance`` (on a maintenance visit) and
        ``initial`` (every other)."""
        kind = case((AppointmentRow.kind == "maintenance", "maintenance"), else_="initial")
        bucket = _bucket(PerformedSessionRow.performed_at, bounds).label("bucket")
        rows = self.session.execute(
            select(bucket, kind, func.count())
            .select_from(PerformedSessionRow)
            .outerjoin(AppointmentRow, AppointmentRow.id == PerformedSessionRow.appointment_id)
            .where(*_within(PerformedSessionRow.performed_at, bounds))
            .group_by(bucket, kind)
        ).all()
        return _spread(rows, len(bounds) - 1)

    def new_patients(self, bounds: Sequence[datetime]) -> list[int]:
        """Patients registered per month."""
        bucket = _bucket(PatientRow.created_at, bounds).label("bucket")
        out = [0] * (len(bounds) - 1)
        for b, count in self.session.execute(
            select(bucket, func.count())
            .where(*_within(PatientRow.created_at, bounds))
            .group_by(bucket)
        ).all():
            out[int(b)] += int(count)
        return out

    def course_endings(self, bounds: Sequence[datetime]) -> dict[str, list[int]]:
        """Courses that reached a final status (completed, lapsed, cancelled) per month."""
        return self._grouped(
            CourseRow.status_changed_at,
            CourseRow.status,
            bounds,
            CourseRow.status.in_(("completed", "lapsed", "cancelled")),
        )

    def visit_outcomes(self, bounds: Sequence[datetime]) -> dict[str, list[int]]:
        """Appointments by status per month of their start (every status)."""
        return self._grouped(AppointmentRow.start_at, AppointmentRow.status, bounds)

    def recalls_due(self, bounds: Sequence[date]) -> dict[str, list[int]]:
        """Recall entries by status per month of their due date."""
        return self._grouped(RecallRow.due_date, RecallRow.status, bounds)

    def leads(self, bounds: Sequence[datetime]) -> dict[str, list[int]]:
        """Contact requests per month of arrival by state (``new``, ``handled``, ``converted``);
        deleted requests are gone and not counted."""
        state = func.coalesce(LeadStateRow.status, "new")
        bucket = _bucket(LeadRow.consented_at, bounds).label("bucket")
        rows = self.session.execute(
            select(bucket, state, func.count())
            .select_from(LeadRow)
            .outerjoin(LeadStateRow, LeadStateRow.lead_id == LeadRow.id)
            .where(*_within(LeadRow.consented_at, bounds))
            .group_by(bucket, state)
        ).all()
        return _spread(rows, len(bounds) - 1)

    def booked_minutes(self, bounds: Sequence[datetime]) -> dict[int, list[int]]:
        """Minutes of appointments (any status but cancelled) per practitioner and month of
        their start."""
        if self.session.get_bind().dialect.name == "postgresql":
            minutes: Any = func.extract("epoch", AppointmentRow.end_at - AppointmentRow.start_at)
            minutes = minutes / 60
        else:
            minutes = (
                func.julianday(AppointmentRow.end_at) - func.julianday(AppointmentRow.start_at)
            ) * 1440
        bucket = _bucket(AppointmentRow.start_at, bounds).label("bucket")
        rows = self.session.execute(
            select(bucket, AppointmentRow.practitioner_id, func.sum(minutes))
            .where(*_within(AppointmentRow.start_at, bounds), AppointmentRow.status != "cancelled")
            .group_by(bucket, AppointmentRow.practitioner_id)
        ).all()
        out: dict[int, list[int]] = {}
        for b, pid, total in rows:
            out.setdefault(int(pid), [0] * (len(bounds) - 1))[int(b)] += round(float(total or 0))
        return out

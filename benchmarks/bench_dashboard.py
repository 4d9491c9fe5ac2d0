"""Benchmark: the owner's dashboard on the 300-patient demo clinic (SQLite).

Case: the month-by-month visit outcomes (no-shows, booked minutes) of 12 months. Candidate: the
grouped SQL aggregates the dashboard uses (``uow.figures``: at most 12 rows back per figure).
Baseline: loading every appointment of the 12 months as domain objects and counting them in a
Python loop, which is what a dashboard built on the existing list use-cases would cost.

Figures: the whole dashboard (12 months of every figure, open hours from the calendar) and the
60-month projection of the demo's patients, absolute times.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

from needleplan import services
from needleplan.cohort.projection import clinic_projection
from needleplan.domain.records import AppointmentStatus
from needleplan.services._clock import add_months
from needleplan.services.dashboard import month_figures
from needleplan.services.demo import demo_calendar
from needleplan.storage import Database

TODAY = date(2026, 11, 21)
_DB: list[tuple[Database, Path]] = []


def _demo() -> Database:
    if not _DB:
        folder = Path(tempfile.mkdtemp(prefix="np-bench-dash-"))
        db = Database.open(f"sqlite:///{folder / 'd.sqlite3'}")
        services.fill_demo_clinic(db, patients=300, seed=7, today=TODAY)
        _DB.append((db, folder))
    return _DB[0][0]


def _bounds() -> list[datetime]:
    tz = demo_calendar().tz
    first = add_months(TODAY.replace(day=1), -11)
    return [
        datetime.combine(add_months(first, k), clock(0), tzinfo=tz).astimezone(UTC)
        for k in range(13)
    ]


def _aggregate() -> object:
    with _demo().transaction() as uow:
        return uow.figures.visit_outcomes(_bounds()), uow.figures.booked_minutes(_bounds())


def _loop() -> object:
    bounds = _bounds()
    rows = services.appointments_between(
        _demo(), bounds[0], bounds[-1], statuses=tuple(AppointmentStatus)
    )
    outcomes: Counter[tuple[int, str]] = Counter()
    minutes: Counter[tuple[int, int]] = Counter()
    for a in rows:
        month = sum(1 for b in bounds[1:-1] if a.start >= b)
        outcomes[(month, a.status.value)] += 1
        if a.status is not AppointmentStatus.CANCELLED:
            minutes[(month, a.practitioner_id)] += int((a.end - a.start).total_seconds() // 60)
    return outcomes, minutes


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [("12 months of visit outcomes, 300-patient demo", _aggregate, _loop)]


def figures() -> list[tuple[str, str, str, bool]]:
    db = _demo()
    clinic = demo_calendar()
    t = time.perf_counter()
    month_figures(db, clinic, TODAY, actor=None, today=TODAY)
    board_s = time.perf_counter() - t
    assessments, invalid = services.latest_assessments(db)
    t = time.perf_counter()
    clinic_projection(assessments, clinic, 60, today=TODAY, invalid=invalid)
    projection_s = time.perf_counter() - t
    db.dispose()
    shutil.rmtree(_DB[0][1])
    _DB.clear()
    return [
        ("dashboard, 12 months, 300 patients", f"{board_s * 1000:.0f} ms", "< 1 s", board_s < 1),
        (
            "projection, 60 months, 300 patients",
            f"{projection_s * 1000:.0f} ms",
            "< 5 s",
            projection_s < 5,
        ),
    ]

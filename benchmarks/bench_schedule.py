"""Benchmark: scheduling a course against a busy clinic diary.

Candidate: :func:`needleplan.scheduling.schedule_course` (numpy overlap check over every candidate
start of a day against that practitioner's sorted bookings). Baseline: the same search with a
plain-Python overlap loop over every booking (what a straightforward implementation does).
Both must return the same sessions; ``cases()`` checks that before timing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import partial

import numpy as np
import numpy.typing as npt

from needleplan.domain.assessment import Area
from needleplan.domain.protocol import IntRange, Protocol
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    CourseSchedule,
    example_clinic,
    schedule_course,
)
from needleplan.scheduling.calendar import BusyIndex


class LoopBusyIndex(BusyIndex):
    """The baseline: checks every candidate against every booking in Python."""

    periods: dict[str, list[tuple[int, int]]]

    @classmethod
    def build(cls, busy: Iterable[Busy]) -> LoopBusyIndex:
        index = cls({}, {})
        periods: dict[str, list[tuple[int, int]]] = {}
        for b in busy:
            periods.setdefault(b.practitioner, []).append(
                (int(b.start.timestamp()), int(b.end.timestamp()))
            )
        object.__setattr__(index, "periods", periods)
        return index

    def free_mask(
        self, practitioner: str, starts: npt.NDArray[np.int64], duration_s: int
    ) -> npt.NDArray[np.bool_]:
        out = []
        for s in starts.tolist():
            e = s + duration_s
            out.append(
                all(not (b0 < e and b1 > s) for b0, b1 in self.periods.get(practitioner, []))
            )
        return np.array(out, dtype=bool)


def _protocol() -> Protocol:
    return Protocol(
        initial_sessions=10,
        session_range=IntRange(min=8, max=12),
        interval_days=IntRange(min=21, max=28),
        maintenance_interval_months=IntRange(min=6, max=12),
        difficult_case=True,
        blocked=False,
        areas=[Area.FULL_FACE, Area.NECK],
        guideline_version="bench",
    )


def _diary(clinic: ClinicConfig, n: int, seed: int = 0) -> list[Busy]:
    """``n`` one-hour bookings spread over 2027 for the clinic's practitioners."""
    rng = np.random.default_rng(seed)
    names = [p.name for p in clinic.practitioners]
    out = []
    for _ in range(n):
        day = date(2027, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        hour = int(rng.integers(9, 18))
        start = datetime(day.year, day.month, day.day, hour, tzinfo=clinic.tz)
        out.append(Busy(names[int(rng.integers(0, len(names)))], start, start + timedelta(hours=1)))
    return out


def _run(clinic: ClinicConfig, busy: list[Busy], index_cls: type[BusyIndex]) -> CourseSchedule:
    """The course scheduled against the diary indexed by ``index_cls`` (built here, as
    ``schedule_course`` builds its own index from a list)."""
    index = index_cls.build(busy)
    return schedule_course(_protocol(), date(2027, 1, 11), clinic, busy=index, course_id="b")


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    clinic = example_clinic()
    out: list[tuple[str, Callable[[], object], Callable[[], object]]] = []
    for n in (500, 5000):
        busy = _diary(clinic, n)
        fast = _run(clinic, busy, BusyIndex)
        slow = _run(clinic, busy, LoopBusyIndex)
        assert fast.sessions == slow.sessions, "candidate and baseline disagree"
        out.append(
            (
                f"schedule 10-session course, {n} bookings",
                partial(_run, clinic, busy, BusyIndex),
                partial(_run, clinic, busy, LoopBusyIndex),
            )
        )
    return out


if __name__ == "__main__":
    import timeit

    for name, candidate, baseline in cases():
        c = min(timeit.repeat(candidate, number=1, repeat=3))
        b = min(timeit.repeat(baseline, number=1, repeat=3))
        print(
            f"{name}: candidate {c * 1000:.1f} ms, baseline {b * 1000:.1f} ms, ratio {b / c:.1f}x"
        )

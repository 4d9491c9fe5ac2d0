"""LazyBusyIndex: busy times read a range of days at a time give the same free starts and the
same course dates as an index holding every busy period (docs/scale.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import reference_assessment
from needleplan.guideline import make_protocol
from needleplan.scheduling import Busy, example_clinic, schedule_course
from needleplan.scheduling.calendar import BusyIndex, LazyBusyIndex, day_options

TZ = ZoneInfo("Europe/Berlin")
FIRST = date(2031, 3, 3)


def _busy_over(days: int, every: int, names: list[str]) -> list[Busy]:
    """A busy period every ``every`` half hours of each day, for each practitioner."""
    out: list[Busy] = []
    for d in range(days):
        day = FIRST + timedelta(days=d)
        for i, name in enumerate(names):
            for slot in range((i + d) % every, 20, every):
                start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ) + timedelta(
                    minutes=30 * slot
                )
                out.append(Busy(name, start, start + timedelta(minutes=60)))
    return out


class _Store:
    """A store of busy periods that records which day ranges were asked for."""

    def __init__(self, busy: list[Busy]) -> None:
        self.busy = busy
        self.asked: list[tuple[date, date]] = []

    def load(self, first: date, last: date) -> BusyIndex:
        self.asked.append((first, last))
        lo = datetime(first.year, first.month, first.day, tzinfo=TZ)
        hi = datetime(last.year, last.month, last.day, tzinfo=TZ) + timedelta(days=1)
        return BusyIndex.build(b for b in self.busy if b.start < hi and b.end > lo)


def test_a_course_is_dated_the_same_with_a_lazy_index_in_a_few_reads() -> None:
    clinic = example_clinic()
    names = [p.name for p in clinic.practitioners]
    busy = _busy_over(400, 2, names)
    protocol = make_protocol(reference_assessment())
    whole = schedule_course(protocol, FIRST, clinic, busy=busy)
    free = schedule_course(protocol, FIRST, clinic)
    assert [s.start for s in whole.sessions] != [s.start for s in free.sessions]  # busy counts
    store = _Store(busy)
    lazy = LazyBusyIndex(store.load, clinic.tz)
    dated = schedule_course(protocol, FIRST, clinic, busy=lazy)
    assert [(s.start, s.practitioner) for s in dated.sessions] == [
        (s.start, s.practitioner) for s in whole.sessions
    ]
    assert lazy.reads == len(store.asked)
    # the first days, then one read per session window: never one read per day
    assert len(store.asked) <= protocol.initial_sessions + 2
    read_days = {f + timedelta(days=i) for f, t in store.asked for i in range((t - f).days + 1)}
    assert len(read_days) == sum((t - f).days + 1 for f, t in store.asked)  # each day once
    assert len(read_days) < 200  # not the 400 days of the calendar


@settings(max_examples=40, deadline=None)
@given(
    offset=st.integers(0, 60),
    chunk=st.integers(1, 10),
    duration=st.sampled_from([30, 45, 60, 90]),
)
def test_free_starts_are_those_of_the_whole_index(offset: int, chunk: int, duration: int) -> None:
    clinic = example_clinic()
    names = [p.name for p in clinic.practitioners]
    busy = _busy_over(70, 3, names)
    whole = BusyIndex.build(busy)
    lazy = LazyBusyIndex(_Store(busy).load, clinic.tz, chunk_days=chunk)
    day = FIRST + timedelta(days=offset)
    for person in clinic.practitioners:
        assert day_options(clinic, person, day, duration, lazy) == day_options(
            clinic, person, day, duration, whole
        )


def test_from_periods_is_build_without_busy_objects() -> None:
    busy = _busy_over(3, 2, ["A", "B"])
    periods: dict[str, list[tuple[int, int]]] = {}
    for b in reversed(busy):
        periods.setdefault(b.practitioner, []).append(
            (int(b.start.timestamp()), int(b.end.timestamp()))
        )
    built, direct = BusyIndex.build(busy), BusyIndex.from_periods(periods)
    assert built.starts.keys() == direct.starts.keys()
    for name in built.starts:
        assert np.array_equal(built.starts[name], direct.starts[name])
        assert np.array_equal(built.ends[name], direct.ends[name])
    assert BusyIndex.from_periods({"C": []}).starts == {}

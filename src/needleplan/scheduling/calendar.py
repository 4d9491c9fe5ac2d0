"""Clinic calendar logic: which days are open, and which start times are free.

Wall-clock times are interpreted in the clinic's time zone; a local time that does not exist
(the hour skipped when clocks go forward) is never offered, and an ambiguous one (the hour
repeated when clocks go back) takes its first occurrence. Durations are added in absolute time,
so a session always lasts its length even across a DST change. Overlap checks run on epoch
seconds with numpy, vectorised over every candidate start of a day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from needleplan.scheduling.clinic import ClinicConfig, Practitioner, TimeSpan, Weekday
from needleplan.scheduling.models import Busy


def local_datetime(day: date, minutes: int, tz: ZoneInfo) -> datetime | None:
    """The aware datetime at ``minutes`` after local midnight of ``day``; None if it does not exist.

    Parameters
    ----------
    day : date
        Local calendar day.
    minutes : int
        Wall-clock minutes after midnight [min], 0-1439.
    tz : ZoneInfo
        The clinic's zone.
    """
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    aware = naive.replace(tzinfo=tz, fold=0)
    # A wall time inside a spring-forward gap does not survive a round trip through UTC.
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return aware


def add_minutes(start: datetime, minutes: int) -> datetime:
    """``start`` plus ``minutes`` of elapsed (absolute) time, in ``start``'s zone."""
    tz = start.tzinfo
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)


def _intersect(a: Sequence[TimeSpan], b: Sequence[TimeSpan]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for x in a:
        for y in b:
            lo, hi = max(x.start, y.start), min(x.end, y.end)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def working_spans(
    clinic: ClinicConfig, practitioner: Practitioner, day: date
) -> list[tuple[int, int]]:
    """Minutes after midnight ``[(start, end), ...]`` when the clinic is open and she works.

    Ignores holidays, closures and days off (see :func:`closed_reason`).
    """
    weekday = Weekday.of(day)
    clinic_spans = clinic.opening_hours.get(weekday, [])
    if practitioner.hours is None:
        return [(s.start, s.end) for s in clinic_spans]
    return _intersect(clinic_spans, practitioner.hours.get(weekday, []))


def closed_reason(clinic: ClinicConfig, practitioner: Practitioner, day: date) -> str | None:
    """Why ``practitioner`` cannot treat at all on ``day``, or None when she can.

    The reasons, in order: public holiday, clinic closure, clinic closed that weekday,
    practitioner's day off, practitioner not working that weekday.
    """
    holiday = clinic.holiday(day)
    if holiday is not None:
        return f"public holiday ({holiday})"
    closure = clinic.closure(day)
    if closure is not None:
        return f"clinic closure ({closure.reason})"
    weekday = Weekday.of(day)
    if not clinic.opening_hours.get(weekday):
        return f"clinic closed on {weekday.value.capitalize()}s"
    off = practitioner.day_off(day)
    if off is not None:
        return f"{practitioner.name}: {off.reason}"
    if not working_spans(clinic, practitioner, day):
        return f"{practitioner.name} does not work on {weekday.value.capitalize()}s"
    return None


@dataclass(frozen=True)
class BusyIndex:
    """Existing busy periods, per practitioner, as sorted epoch-second arrays."""

    starts: dict[str, npt.NDArray[np.int64]]
    ends: dict[str, npt.NDArray[np.int64]]

    @classmethod
    def build(cls, busy: Iterable[Busy]) -> BusyIndex:
        grouped: dict[str, list[tuple[int, int]]] = {}
        for b in busy:
            grouped.setdefault(b.practitioner, []).append(
                (int(b.start.timestamp()), int(b.end.timestamp()))
            )
        starts: dict[str, npt.NDArray[np.int64]] = {}
        ends: dict[str, npt.NDArray[np.int64]] = {}
        for name, periods in grouped.items():
            arr = np.array(sorted(periods), dtype=np.int64).reshape(-1, 2)
            starts[name] = arr[:, 0]
            ends[name] = arr[:, 1]
        return cls(starts, ends)

    @classmethod
    def from_periods(cls, periods: Mapping[str, Sequence[tuple[int, int]]]) -> BusyIndex:
        """An index from ``{practitioner: [(start, end) epoch seconds, ...]}``, in any order.

        For busy times read from a database, whose columns are aware already: it skips making
        one validated :class:`Busy` per period (a clinic group's months are tens of thousands).
        """
        starts: dict[str, npt.NDArray[np.int64]] = {}
        ends: dict[str, npt.NDArray[np.int64]] = {}
        for name, spans in periods.items():
            if not spans:
                continue
            arr = np.array(spans, dtype=np.int64).reshape(-1, 2)
            order = np.lexsort((arr[:, 1], arr[:, 0]))
            starts[name], ends[name] = arr[order, 0], arr[order, 1]
        return cls(starts, ends)

    def prefetch(self, first: date, last: date) -> None:
        """Nothing to read: every busy period is in memory (see :class:`LazyBusyIndex`)."""

    def with_busy(self, more: Iterable[Busy]) -> BusyIndex:
        """This index plus ``more`` busy periods (a new index; this one is unchanged)."""
        return self.merged(BusyIndex.build(more))

    def merged(self, added: BusyIndex) -> BusyIndex:
        """This index plus the periods of ``added`` (a new index; both are unchanged)."""
        starts, ends = dict(self.starts), dict(self.ends)
        for name, new_starts in added.starts.items():
            if name not in starts:
                starts[name], ends[name] = new_starts, added.ends[name]
                continue
            pairs = np.concatenate(
                [
                    np.stack([starts[name], ends[name]], axis=1),
                    np.stack([new_starts, added.ends[name]], axis=1),
                ]
            )
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))
            starts[name], ends[name] = pairs[order, 0], pairs[order, 1]
        return BusyIndex(starts, ends)

    def free_mask(
        self, practitioner: str, starts: npt.NDArray[np.int64], duration_s: int
    ) -> npt.NDArray[np.bool_]:
        """For each candidate start [epoch s], True when ``[start, start + duration)`` is free."""
        b_start = self.starts.get(practitioner)
        if b_start is None or starts.size == 0:
            return np.ones(starts.shape, dtype=bool)
        b_end = self.ends[practitioner]
        # Only busy periods that can touch this batch matter: those starting before the last
        # candidate ends (the arrays are sorted by start) and ending after the first begins.
        hi = int(np.searchsorted(b_start, int(starts.max()) + duration_s, side="left"))
        near = b_end[:hi] > int(starts.min())
        bs, be = b_start[:hi][near], b_end[:hi][near]
        if bs.size == 0:
            return np.ones(starts.shape, dtype=bool)
        ends = starts + duration_s
        clash = (bs[None, :] < ends[:, None]) & (be[None, :] > starts[:, None])
        free: npt.NDArray[np.bool_] = np.asarray(~clash.any(axis=1), dtype=bool)
        return free


#: Reads the busy periods overlapping the clinic days ``first`` to ``last`` (both included).
BusyLoader = Callable[[date, date], BusyIndex]


class LazyBusyIndex:
    """Busy periods read from a store a range of days at a time, when a search reaches them.

    A scheduler that dates a course looks at a few weeks spread over months (the days of session
    1, then each session's window); reading every appointment of those months first costs far
    more than the search. This index asks ``load`` for whole ranges of clinic days:
    :meth:`prefetch` reads a window the caller is about to search in one call, and
    :meth:`free_mask` reads the ``chunk_days`` from the first day it has not seen yet when a
    search goes beyond what was read. A day is read once; the answers are those of a
    :class:`BusyIndex` holding every period.

    Parameters
    ----------
    load : BusyLoader
        ``load(first, last)``: the busy periods overlapping the local days ``first`` to
        ``last`` of the clinic (both included), as an index.
    tz : ZoneInfo
        The clinic's zone (which local day a start falls on).
    chunk_days : int
        How many days one read covers when a search goes past the days read [days].
    """

    def __init__(self, load: BusyLoader, tz: ZoneInfo, chunk_days: int = 7) -> None:
        if chunk_days < 1:
            raise ValueError("chunk_days must be 1 or more")
        self._load = load
        self._tz = tz
        self._chunk = chunk_days
        self._index = BusyIndex({}, {})
        self._read: set[date] = set()
        #: How many times ``load`` was called (a search reads a few ranges, never one per day).
        self.reads = 0

    def prefetch(self, first: date, last: date) -> None:
        """Read the days ``first`` to ``last`` not read yet: one call per run of such days."""
        run: list[date] = []
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            if day in self._read:
                if run:
                    self._read_run(run[0], run[-1])
                    run = []
            else:
                run.append(day)
        if run:
            self._read_run(run[0], run[-1])

    def _read_run(self, first: date, last: date) -> None:
        self.reads += 1
        self._index = self._index.merged(self._load(first, last))
        self._read.update(first + timedelta(days=i) for i in range((last - first).days + 1))

    def free_mask(
        self, practitioner: str, starts: npt.NDArray[np.int64], duration_s: int
    ) -> npt.NDArray[np.bool_]:
        """As :meth:`BusyIndex.free_mask`, after reading the days the candidates touch."""
        if starts.size:
            first = datetime.fromtimestamp(int(starts.min()), self._tz).date()
            last = datetime.fromtimestamp(int(starts.max()) + duration_s - 1, self._tz).date()
            if (first not in self._read or last not in self._read) or any(
                first + timedelta(days=i) not in self._read for i in range(1, (last - first).days)
            ):
                self.prefetch(first, max(last, first + timedelta(days=self._chunk - 1)))
        return self._index.free_mask(practitioner, starts, duration_s)


@dataclass(frozen=True)
class DayOptions:
    """Free start times of one practitioner on one day, or why there are none."""

    day: date
    practitioner: str
    starts: tuple[datetime, ...]
    reason: str | None


@dataclass(frozen=True)
class _DayGrid:
    """The slot-grid starts of one practitioner on one day before bookings, or why none."""

    reason: str | None
    candidates: tuple[datetime, ...]
    epochs: npt.NDArray[np.int64]


class SlotGrid:
    """Remembers each day's slot grid of one clinic (a pure function of the calendar).

    :func:`day_options` and the course scheduler work out which start times a practitioner's
    working hours allow on a day (holidays, closures, days off, the DST-safe grid) before they
    look at bookings; that part depends on the calendar only, so a caller that dates many
    courses in the same clinic (the demo clinic) passes one grid to reuse it. A grid answers
    only for the ``clinic`` object it was made for.
    """

    def __init__(self, clinic: ClinicConfig) -> None:
        self.clinic = clinic
        self._days: dict[tuple[str, date, int], _DayGrid] = {}

    def day(self, practitioner: Practitioner, day: date, duration_minutes: int) -> _DayGrid:
        key = (practitioner.name, day, duration_minutes)
        grid = self._days.get(key)
        if grid is None:
            grid = _day_grid(self.clinic, practitioner, day, duration_minutes)
            self._days[key] = grid
        return grid


def _day_grid(
    clinic: ClinicConfig, practitioner: Practitioner, day: date, duration_minutes: int
) -> _DayGrid:
    none = np.zeros(0, dtype=np.int64)
    reason = closed_reason(clinic, practitioner, day)
    if reason is not None:
        return _DayGrid(reason, (), none)
    spans = working_spans(clinic, practitioner, day)
    return _grid_starts(clinic.tz, clinic.slot_minutes, day, tuple(spans), duration_minutes)


@lru_cache(maxsize=8192)
def _grid_starts(
    tz: ZoneInfo, step: int, day: date, spans: tuple[tuple[int, int], ...], duration_minutes: int
) -> _DayGrid:
    """The slot-grid starts of ``duration_minutes`` inside the working ``spans`` of ``day``
    (a pure function of its arguments, remembered: a clinic's practitioners mostly share their
    hours, so a search over twenty of them works each day's grid out once)."""
    none = np.zeros(0, dtype=np.int64)
    midnight = datetime.combine(day, time(0), tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tz)
    if midnight.utcoffset() == next_midnight.utcoffset():
        # No clock change that day (the common case): every wall time exists and lasts as
        # long as it says, so the grid is plain arithmetic.
        base = int(midnight.timestamp())
        minutes = [
            minute
            for lo, hi in spans
            for minute in range(-(-lo // step) * step, hi - duration_minutes + 1, step)
        ]
        if not minutes:
            return _DayGrid(f"no {duration_minutes}-minute slot in working hours", (), none)
        return _DayGrid(
            None,
            tuple(datetime.combine(day, time(m // 60, m % 60), tz) for m in minutes),
            _frozen(np.array([base + 60 * m for m in minutes], dtype=np.int64)),
        )
    candidates: list[datetime] = []
    for lo, hi in spans:
        first = -(-lo // step) * step
        for minute in range(first, hi - duration_minutes + 1, step):
            dt = local_datetime(day, minute, tz)
            if dt is None:
                continue
            end = add_minutes(dt, duration_minutes)
            # Across a DST change the wall-clock end moves; it must stay inside the span.
            end_wall = (end.date() - day).days * 1440 + end.hour * 60 + end.minute
            if end_wall > hi:
                continue
            candidates.append(dt)
    if not candidates:
        return _DayGrid(f"no {duration_minutes}-minute slot in working hours", (), none)
    epochs = np.array([int(c.timestamp()) for c in candidates], dtype=np.int64)
    return _DayGrid(None, tuple(candidates), _frozen(epochs))


def _frozen(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``values`` made read-only (a remembered grid is shared between searches)."""
    values.setflags(write=False)
    return values


def day_options(
    clinic: ClinicConfig,
    practitioner: Practitioner,
    day: date,
    duration_minutes: int,
    busy: BusyIndex | LazyBusyIndex,
    grid: SlotGrid | None = None,
) -> DayOptions:
    """Every start time on ``day`` (on the clinic's slot grid) where a session fits.

    A start fits when ``[start, start + duration)`` lies inside one span of clinic opening hours
    and her working hours (wall clock), the day is not a holiday, closure or day off, the local
    time exists, and she has no busy period overlapping it. ``grid`` (for this ``clinic``)
    remembers the calendar part between calls; the answer is the same with or without it.
    """
    if grid is not None and grid.clinic is clinic:
        plain = grid.day(practitioner, day, duration_minutes)
    else:
        plain = _day_grid(clinic, practitioner, day, duration_minutes)
    if plain.reason is not None:
        return DayOptions(day, practitioner.name, (), plain.reason)
    free = busy.free_mask(practitioner.name, plain.epochs, duration_minutes * 60)
    starts = tuple(c for c, ok in zip(plain.candidates, free, strict=True) if ok)
    if not starts:
        return DayOptions(day, practitioner.name, (), f"{practitioner.name} fully booked")
    return DayOptions(day, practitioner.name, starts, None)


def slot_problem(
    clinic: ClinicConfig,
    practitioner: Practitioner,
    start: datetime,
    duration_minutes: int,
    busy: BusyIndex | LazyBusyIndex,
) -> str | None:
    """Why a session at ``start`` (any minute, not only the slot grid) cannot happen, or None."""
    local = start.astimezone(clinic.tz)
    day = local.date()
    reason = closed_reason(clinic, practitioner, day)
    if reason is not None:
        return reason
    begin = local.hour * 60 + local.minute
    end = add_minutes(local, duration_minutes)
    end_wall = (end.date() - day).days * 1440 + end.hour * 60 + end.minute
    if not any(
        lo <= begin and end_wall <= hi for lo, hi in working_spans(clinic, practitioner, day)
    ):
        return (
            f"{local:%H:%M}-{end:%H:%M} is outside {practitioner.name}'s working hours "
            f"on {local:%a %Y-%m-%d}"
        )
    epoch = np.array([int(start.timestamp())], dtype=np.int64)
    if not bool(busy.free_mask(practitioner.name, epoch, duration_minutes * 60)[0]):
        return f"{practitioner.name} is already booked at {local:%a %Y-%m-%d %H:%M}"
    return None

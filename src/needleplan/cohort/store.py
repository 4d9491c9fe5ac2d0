"""Recall plans shared by the chunks of a process: computed once per distinct (age, profile).

See :mod:`needleplan.cohort.plan` for how one plan is found.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.plan import plan_courses
from needleplan.cohort.rows import row_hash
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]
#: Whole days, -1 for none (:func:`pack_plans`).
DayArray = NDArray[np.signedinteger[Any]]

# --------------------------------------------------------------------------------------------
# Plans shared by the chunks of a process
# --------------------------------------------------------------------------------------------
#: Distinct (profile, age) plans kept per process before the store starts afresh.
CACHE_LIMIT = 2_000_000
#: Plans computed together: the recall search evaluates a few days per row, so a large batch
#: keeps numpy's per-call cost small.
BATCH = 16_384


class PlanStore:
    """Planned maintenance days per distinct (age, profile), computed once per process.

    A plan depends only on its row (age and profile values), the parameters, the recall
    threshold, the number of rounds and the last day planned, and each row's days are computed
    from its own values alone, so a plan found for one chunk is the plan of that (age, profile)
    in every other chunk: reusing it changes no result, whatever the chunk size or worker.
    Plans run to ``last_day``, the horizon's last day; each patient uses those up to her own
    last day. A million patients of the example population have about 200,000 distinct rows.
    """

    def __init__(self, params: ModelParams, threshold: float, rounds: int, last_day: float):
        self.params, self.threshold, self.rounds, self.last_day = (
            params,
            threshold,
            rounds,
            last_day,
        )
        self._lock = threading.Lock()  # a Dask worker may run several chunks in threads
        self._clear()

    def _clear(self) -> None:
        # The index: the stored rows' hashes in ascending order, and where each row is stored.
        self._hashes = np.empty(0, dtype=np.uint64)
        self._slot = np.empty(0, dtype=np.int64)
        # The rows and their plans, in a buffer that doubles when full (no copy per chunk).
        # Plans are whole days (recalls are rounded down), kept packed (pack_plans): a quarter
        # of the memory of double precision, and what a process ships to another as it is.
        self._keys = np.empty((1024, 10))
        self._rows = np.empty((1024, self.rounds), dtype=_day_type(self.last_day))
        self._size = 0

    def plans(self, keys: FloatArray) -> FloatArray:
        """Maintenance days ``(U, rounds)`` of distinct rows ``[age, *values]`` (``(U, 10)``)."""
        with self._lock:
            return self._plans(keys)

    def compute(self, keys: FloatArray) -> FloatArray:
        """Plans of rows ``keys`` (computed, not looked up nor stored)."""
        return self._compute(np.ascontiguousarray(keys, dtype=np.float64))

    def _compute(self, keys: FloatArray) -> FloatArray:
        u = keys.shape[0]
        if u == 0:
            return np.empty((0, self.rounds))
        return np.concatenate(
            [
                plan_courses(
                    keys[part, 0],
                    keys[part, 1:],
                    params=self.params,
                    recall_threshold=self.threshold,
                    last_day=np.full(part.size, self.last_day),
                    rounds=self.rounds,
                ).maintenance
                for part in np.array_split(np.arange(u), -(-u // BATCH))
            ]
        )

    def missing(self, keys: FloatArray) -> NDArray[np.int64]:
        """The rows of ``keys`` (distinct) that have no stored plan yet."""
        with self._lock:
            _, where = self._lookup(np.ascontiguousarray(keys, dtype=np.float64))
            return np.nonzero(where < 0)[0]

    def add(self, keys: FloatArray, plans: DayArray) -> None:
        """Store plans computed elsewhere (another process), packed (:func:`pack_plans`), for
        distinct rows ``keys``."""
        with self._lock:
            keys = np.ascontiguousarray(keys, dtype=np.float64)
            if self._size + keys.shape[0] > CACHE_LIMIT:
                self._clear()
            h, where = self._lookup(keys)
            new = np.nonzero(where < 0)[0]
            self._insert(keys, h, new, plans[new])

    def _lookup(self, keys: FloatArray) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
        """Each row's hash and where its plan is stored (-1: not stored)."""
        h = row_hash(keys)
        pos = np.minimum(np.searchsorted(self._hashes, h), max(self._hashes.size - 1, 0))
        where = np.full(keys.shape[0], -1, dtype=np.int64)
        if self._hashes.size:
            hit = self._hashes[pos] == h
            slot = self._slot[pos[hit]]
            same = np.all(self._keys[slot].view(np.uint64) == keys[hit].view(np.uint64), axis=1)
            where[np.nonzero(hit)[0][same]] = slot[same]
        return h, where

    def _plans(self, keys: FloatArray) -> FloatArray:
        """Look the rows up by hash (one ``searchsorted``; a hit is checked bit for bit), plan
        the missing ones together, and add them to the index."""
        keys = np.ascontiguousarray(keys, dtype=np.float64)
        if self._size + keys.shape[0] > CACHE_LIMIT:
            self._clear()
        h, where = self._lookup(keys)
        missing = np.nonzero(where < 0)[0]
        if not missing.size:
            return unpack_plans(self._rows[where], self.rounds)
        new = self._compute(keys[missing])
        self._insert(keys, h, missing, pack_plans(new))
        out = np.empty((keys.shape[0], self.rounds))
        known = where >= 0
        out[known] = unpack_plans(self._rows[where[known]], self.rounds)
        out[missing] = new
        return out

    def _insert(
        self, keys: FloatArray, h: NDArray[np.uint64], missing: NDArray[np.int64], new: DayArray
    ) -> None:
        """Store the plans ``new`` (packed) of rows ``missing`` of ``keys``."""
        if new.size and int(new.max()) > self.last_day:
            raise ValueError(f"recall plans must end by day {self.last_day:g}")
        # Only rows whose hash is new are stored (the keys given are distinct; a row whose hash
        # collides with a stored other row is planned each time, never stored).
        hm = h[missing]
        pos = np.minimum(np.searchsorted(self._hashes, hm), max(self._hashes.size - 1, 0))
        fresh = self._hashes[pos] != hm if self._hashes.size else np.ones(hm.size, dtype=bool)
        store = missing[fresh]
        first, count = self._size, store.size
        if first + count > self._rows.shape[0]:  # grow once, to at least twice the size
            size = max(2 * self._rows.shape[0], first + count)
            rows = np.empty((size, self.rounds), dtype=self._rows.dtype)
            keys_ = np.empty((size, 10))
            rows[:first], keys_[:first] = self._rows[:first], self._keys[:first]
            self._rows, self._keys = rows, keys_
        width = new.shape[1]
        self._rows[first : first + count, :width] = new[fresh]
        self._rows[first : first + count, width:] = -1
        self._keys[first : first + count] = keys[store]
        self._size += count
        order = np.argsort(h[store], kind="stable")
        at = np.searchsorted(self._hashes, h[store][order])
        self._hashes = np.insert(self._hashes, at, h[store][order])
        self._slot = np.insert(self._slot, at, first + order)


def _day_type(last_day: float) -> type[np.signedinteger[Any]]:
    """Whole days up to ``last_day`` (and -1): 16 bits up to 89 years, else 32."""
    return np.int16 if last_day < 2**15 - 1 else np.int32


def pack_plans(plans: FloatArray) -> DayArray:
    """Plans as whole days in 16-bit integers (32 past 89 years; -1: none), the rounds nobody
    reaches dropped; :func:`unpack_plans` restores them exactly.

    The plans of a million patients hold about 270,000 distinct rows of 40 rounds, half of them
    past every horizon: 87 MB in double precision, 10 MB packed. This is how a process stores
    them and ships them to another.

    Raises
    ------
    ValueError
        for a day that is not a whole number from 0 (recall days are rounded down).
    """
    used = int(np.max(np.nonzero(~np.isnan(plans).all(axis=0))[0], initial=-1)) + 1
    kept = plans[:, :used]
    days = kept[~np.isnan(kept)]
    top = float(days.max()) if days.size else 0.0
    if days.size and not (
        float(days.min()) >= 0.0 and top < 2**31 - 1 and np.array_equal(np.floor(days), days)
    ):
        raise ValueError("recall plans must be whole days from 0 (rounded down)")
    return np.where(np.isnan(kept), -1.0, kept).astype(_day_type(top))


def unpack_plans(packed: DayArray, rounds: int) -> FloatArray:
    """Plans :func:`pack_plans` packed, ``(U, rounds)`` in double precision (NaN: none)."""
    out = np.full((packed.shape[0], rounds), np.nan)
    days = packed.astype(np.float64)
    out[:, : packed.shape[1]] = np.where(days >= 0.0, days, np.nan)
    return out


def join_packed(parts: list[DayArray]) -> DayArray:
    """Packed plans of several parts of the rows as one packed array (in order)."""
    if not parts:
        return np.empty((0, 0), dtype=np.int16)
    out = np.full(
        (sum(p.shape[0] for p in parts), max(p.shape[1] for p in parts)),
        -1,
        dtype=np.result_type(*parts),
    )
    first = 0
    for p in parts:
        out[first : first + p.shape[0], : p.shape[1]] = p
        first += p.shape[0]
    return out


_STORES: dict[tuple[str, float, int, float], PlanStore] = {}


def plan_store(params: ModelParams, threshold: float, rounds: int, last_day: float) -> PlanStore:
    """This process's :class:`PlanStore` for these settings (one per distinct setting)."""
    key = (repr(params), float(threshold), int(rounds), float(last_day))
    store = _STORES.get(key)
    if store is None:
        if len(_STORES) >= 8:
            _STORES.clear()
        store = _STORES[key] = PlanStore(params, threshold, rounds, last_day)
    return store


@dataclass(frozen=True)
class SharedPlans:
    """The plans of a run, made once and shipped to every worker (Dask: one broadcast)."""

    token: str  # one per run: a worker installs a run's plans once
    params: ModelParams
    threshold: float
    rounds: int
    last_day: float
    keys: FloatArray  # (U, 10) distinct [age, *profile] rows
    plans: DayArray  # (U, <= rounds) packed (pack_plans)


_INSTALLED: set[str] = set()
_INSTALL_LOCK = threading.Lock()


def install(shared: SharedPlans) -> None:
    """Put a run's plans into this process's store (once per process and run)."""
    with _INSTALL_LOCK:
        if shared.token in _INSTALLED:
            return
        if shared.keys.shape[0]:
            store = plan_store(shared.params, shared.threshold, shared.rounds, shared.last_day)
            store.add(shared.keys, shared.plans)
        if len(_INSTALLED) >= 64:
            _INSTALLED.clear()
        _INSTALLED.add(shared.token)

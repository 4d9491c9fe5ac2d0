"""Recall plans shared by the chunks of a process: computed once per distinct (age, profile).

See :mod:`needleplan.cohort.plan` for how one plan is found.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.plan import plan_courses
from needleplan.cohort.rows import row_hash
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]

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
        self._keys = np.empty((1024, 10))
        self._rows = np.empty((1024, self.rounds))
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

    def add(self, keys: FloatArray, plans: FloatArray) -> None:
        """Store plans computed elsewhere (another process) for distinct rows ``keys``."""
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
            return np.asarray(self._rows[where], dtype=np.float64)
        new = self._compute(keys[missing])
        self._insert(keys, h, missing, new)
        out = np.empty((keys.shape[0], self.rounds))
        known = where >= 0
        out[known] = self._rows[where[known]]
        out[missing] = new
        return out

    def _insert(
        self, keys: FloatArray, h: NDArray[np.uint64], missing: NDArray[np.int64], new: FloatArray
    ) -> None:
        """Store the plans ``new`` of rows ``missing`` of ``keys``."""
        # Only rows whose hash is new are stored (the keys given are distinct; a row whose hash
        # collides with a stored other row is planned each time, never stored).
        hm = h[missing]
        pos = np.minimum(np.searchsorted(self._hashes, hm), max(self._hashes.size - 1, 0))
        fresh = self._hashes[pos] != hm if self._hashes.size else np.ones(hm.size, dtype=bool)
        store = missing[fresh]
        first, count = self._size, store.size
        if first + count > self._rows.shape[0]:  # grow once, to at least twice the size
            size = max(2 * self._rows.shape[0], first + count)
            rows, keys_ = np.empty((size, self.rounds)), np.empty((size, 10))
            rows[:first], keys_[:first] = self._rows[:first], self._keys[:first]
            self._rows, self._keys = rows, keys_
        self._rows[first : first + count] = new[fresh]
        self._keys[first : first + count] = keys[store]
        self._size += count
        order = np.argsort(h[store], kind="stable")
        at = np.searchsorted(self._hashes, h[store][order])
        self._hashes = np.insert(self._hashes, at, h[store][order])
        self._slot = np.insert(self._slot, at, first + order)


def pack_plans(plans: FloatArray) -> NDArray[np.generic]:
    """Plans made compact for shipping to another process: whole days as 16-bit integers
    (-1: none), the rounds nobody reaches dropped; :func:`unpack_plans` restores them exactly.

    The plans of a million patients hold about 270,000 distinct rows of 40 rounds, half of them
    past every horizon: 87 MB in double precision, 10 MB packed. Plans that are not whole
    non-negative days (none are: recall days are rounded down) are kept in double precision.
    """
    used = int(np.max(np.nonzero(~np.isnan(plans).all(axis=0))[0], initial=-1)) + 1
    kept = plans[:, :used]
    days = kept[~np.isnan(kept)]
    if days.size and not (
        float(days.min()) >= 0.0
        and float(days.max()) < 2**31 - 1
        and np.array_equal(np.floor(days), days)
    ):
        return np.ascontiguousarray(kept, dtype=np.float64)
    dtype = np.int16 if not days.size or float(days.max()) < 2**15 - 1 else np.int32
    return np.where(np.isnan(kept), -1.0, kept).astype(dtype)


def unpack_plans(packed: NDArray[np.generic], rounds: int) -> FloatArray:
    """The plans :func:`pack_plans` packed, ``(U, rounds)`` in double precision (NaN: none)."""
    out = np.full((packed.shape[0], rounds), np.nan)
    if packed.dtype.kind == "f":
        out[:, : packed.shape[1]] = packed
    else:
        days = packed.astype(np.float64)
        out[:, : packed.shape[1]] = np.where(days >= 0.0, days, np.nan)
    return out


def join_packed(parts: list[NDArray[np.generic]], rounds: int) -> NDArray[np.generic]:
    """Packed plans of several parts of the rows as one packed array (in order)."""
    if not parts:
        return np.empty((0, 0), dtype=np.int16)
    if all(p.dtype.kind == "i" for p in parts):
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
    return pack_plans(np.concatenate([unpack_plans(p, rounds) for p in parts]))


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
    plans: NDArray[np.generic]  # (U, <= rounds) packed (pack_plans)


_INSTALLED: set[str] = set()
_INSTALL_LOCK = threading.Lock()


def install(shared: SharedPlans) -> None:
    """Put a run's plans into this process's store (once per process and run)."""
    with _INSTALL_LOCK:
        if shared.token in _INSTALLED:
            return
        if shared.keys.shape[0]:
            store = plan_store(shared.params, shared.threshold, shared.rounds, shared.last_day)
            store.add(shared.keys, unpack_plans(shared.plans, shared.rounds))
        if len(_INSTALLED) >= 64:
            _INSTALLED.clear()
        _INSTALLED.add(shared.token)

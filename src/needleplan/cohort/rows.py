"""Distinct rows of a float matrix, by a 64-bit hash of each row's bytes (no sort over columns).

Used for the distinct guideline scores of a chunk's patients and for the distinct (age, profile)
rows whose recall plans are computed once (:mod:`needleplan.cohort.plan`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = ["row_hash", "unique_rows"]

#: Fixed odd 64-bit multipliers of :func:`unique_rows` (any fixed values work).
_ROW_HASH = np.random.Generator(np.random.PCG64(20261203)).integers(
    1, 2**63, size=32, dtype=np.uint64
) | np.uint64(1)


def row_hash(rows: FloatArray) -> NDArray[np.uint64]:
    """A 64-bit hash of each row's bytes (equal rows, equal hashes; rows of up to 32 columns)."""
    z = np.ascontiguousarray(rows, dtype=np.float64).view(np.uint64) + _ROW_HASH[: rows.shape[1]]
    # splitmix64's finaliser on each value first: float bits often end in many zeros, which a
    # plain multiply-and-add would map onto few hashes (collisions, then the slow path).
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        return np.asarray((z * _ROW_HASH[: rows.shape[1]]).sum(axis=1, dtype=np.uint64))


def unique_rows(rows: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct rows of a float matrix and, for each row, the index of its distinct row.

    The same partition as ``np.unique(rows, axis=0, return_inverse=True)`` (the distinct rows in
    another order), from one sort of a 64-bit hash of each row's bytes instead of a sort over
    all columns; rows with the same hash are checked to be equal, and on a collision the column
    sort is used.
    """
    if rows.shape[0] == 0:
        return rows, np.zeros(0, dtype=np.int64)
    bits = np.ascontiguousarray(rows, dtype=np.float64).view(np.uint64)
    h = row_hash(rows)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inv = np.asarray(inverse, dtype=np.int64).reshape(-1)
    distinct = rows[first]
    if not np.array_equal(bits, distinct.view(np.uint64)[inv]):  # a hash collision
        distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
        inv = np.asarray(inverse, dtype=np.int64).reshape(-1)
    return distinct, inv

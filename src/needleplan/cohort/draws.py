"""The cohort's random draws: counter-based streams, one per quantity, addressed by patient.

Replicate ``r`` of seed ``s`` has a 128-bit key, ``SeedSequence(s).spawn(R)[r]``'s first two
64-bit words (the same for any number of replicates ``R``). Each quantity drawn per patient has
its own stream (:data:`STREAMS`): the Philox-4x64 counter-based generator under that key, with
the stream's number in the counter's second word. A quantity with ``m`` values per patient
gives patient ``i`` the words ``i m .. (i + 1) m - 1`` of its stream, so a chunk of patients
``lo:hi`` starts its generator at counter ``lo m / 4`` (Philox makes four words per counter; a
chunk starts at a multiple of 64 patients) and draws its own patients' values only, in one call
per quantity, whatever the chunk size or the order in which the chunks run.

Uniforms are Philox words as ``numpy.random.Generator.random`` makes them (53 bits in
``[0, 1)``); normals are the inverse normal distribution function of ``(2 k + 1) 2^{-53}`` for
the word's top 52 bits ``k`` (strictly inside ``(0, 1)``). Adding a stream never changes the
draws of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from needleplan.forecasting.models import persistence_from
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: The stream number of each quantity (never renumber: it would change every result).
STREAMS = {
    "patient": 0,  # the synthetic patient's uniforms (age and one per group), PATIENT_UNIFORMS
    "z": 1,  # her response effect u_R
    "start": 2,  # her first day
    "complete": 3,  # whether she completes the series
    "drop": 4,  # after which session she stops if not
    "keep": 5,  # one per maintenance round: whether she keeps the recall
    "persistence": 6,  # e in u_P = rho u_R + sqrt(1 - rho^2) e
    "late": 7,  # the late groups of a synthetic patient (menopause)
}


@dataclass(frozen=True)
class Draws:
    """Per-patient random draws of a chunk."""

    z: FloatArray
    start: IntArray
    u_complete: FloatArray
    u_drop: FloatArray
    u_keep: FloatArray  # shape (n, rounds)
    e_persistence: FloatArray

    def persistence(self, params: ModelParams) -> FloatArray:
        """Her persistence effect ``u_P = rho z + sqrt(1 - rho^2) e``."""
        return persistence_from(self.z, self.e_persistence, params)


def replicate_key(seed: int, replicate: int, replicates: int) -> tuple[int, int]:
    """The Philox key of a replicate (the same for any number of replicates)."""
    child = np.random.SeedSequence(seed).spawn(replicates)[replicate]
    words = child.generate_state(2, dtype=np.uint64)
    return int(words[0]), int(words[1])


def _bits(key: tuple[int, int], stream: str, lo: int, per: int) -> np.random.Philox:
    """The stream's generator positioned at patient ``lo`` (``per`` words per patient)."""
    first = lo * per
    if first % 4:  # pragma: no cover - chunks start at multiples of SEED_BLOCK
        raise ValueError("a chunk must start at a multiple of 4 patients")
    counter = np.array([first // 4, STREAMS[stream], 0, 0], dtype=np.uint64)
    return np.random.Philox(counter=counter, key=np.array(key, dtype=np.uint64))


def uniforms(key: tuple[int, int], stream: str, lo: int, hi: int, per: int = 1) -> FloatArray:
    """Uniforms in ``[0, 1)`` of patients ``lo:hi``, ``(hi - lo, per)`` (``(hi - lo,)`` if 1)."""
    n = hi - lo
    gen = np.random.Generator(_bits(key, stream, lo, per))
    out = gen.random(n * per)
    return out if per == 1 else out.reshape(n, per)


def normals(key: tuple[int, int], stream: str, lo: int, hi: int) -> FloatArray:
    """Standard normal draws of patients ``lo:hi`` (one per patient), by inversion."""
    raw = _bits(key, stream, lo, 1).random_raw(hi - lo)
    u = ((raw >> np.uint64(12)).astype(np.float64) * 2.0 + 1.0) * 2.0**-53
    return np.asarray(ndtri(u), dtype=np.float64)


def draw(key: tuple[int, int], lo: int, hi: int, *, rounds: int, spread_days: int) -> Draws:
    """The draws of patients ``lo:hi`` (all but the synthetic patients' own uniforms)."""
    return Draws(
        z=normals(key, "z", lo, hi),
        start=np.floor(uniforms(key, "start", lo, hi) * spread_days).astype(np.int64),
        u_complete=uniforms(key, "complete", lo, hi),
        u_drop=uniforms(key, "drop", lo, hi),
        u_keep=uniforms(key, "keep", lo, hi, rounds).reshape(hi - lo, rounds),
        e_persistence=normals(key, "persistence", lo, hi),
    )

"""The model's own uncertainty: the stored posterior draws of the population parameters.

``posterior.json`` (next to this module) holds a few hundred draws of the fitted parameters
(:data:`~needleplan.forecasting.params.FITTED`) given the seed claims and the trials, written by
``python -m needleplan.forecasting.calibration.posterior``. A forecast with the shipped
calibration gives each simulated patient one of these draws besides her own random effects, so
its band combines parameter uncertainty with the spread between patients.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from needleplan.exceptions import ConfigError
from needleplan.forecasting.params import DAYS_PER_YEAR, FITTED, ModelParams

POSTERIOR_PATH = Path(__file__).with_name("posterior.json")


@dataclass(frozen=True)
class ParameterDraws:
    """Draws of the fitted parameters, one row per draw, columns in ``names`` order."""

    names: tuple[str, ...]
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        """Values of ``name`` for the draws ``idx``, shaped ``(n, 1)`` to broadcast over days."""
        return np.asarray(self.values[idx, self.names.index(name)][:, None], dtype=np.float64)

    def rates(self, idx: NDArray[np.int64], base: ModelParams) -> DrawnParams:
        """The per-draw parameters the curve equations read, for draws ``idx``."""
        g = {n: self.column(n, idx) for n in self.names}

        def get(n: str) -> NDArray[np.float64]:
            return g[n] if n in g else np.full((idx.size, 1), float(getattr(base, n)))

        return DrawnParams(
            gain=get("gain"),
            capacity=get("capacity"),
            k_build=1.0 / get("build_days"),
            k_fast=1.0 / get("fast_fade_days"),
            k_slow=1.0 / (get("slow_fade_years") * DAYS_PER_YEAR),
            remodelled_fraction=get("remodelled_fraction"),
            ageing_rate_per_year=get("ageing_rate_per_year"),
        )


@dataclass(frozen=True)
class DrawnParams:
    """Population parameters per simulated patient, each ``(n, 1)`` (units as ModelParams)."""

    gain: NDArray[np.float64]
    capacity: NDArray[np.float64]
    k_build: NDArray[np.float64]
    k_fast: NDArray[np.float64]
    k_slow: NDArray[np.float64]
    remodelled_fraction: NDArray[np.float64]
    ageing_rate_per_year: NDArray[np.float64]

    def rows(self, start: int, stop: int) -> DrawnParams:
        """The draws ``start:stop``."""
        return DrawnParams(
            gain=self.gain[start:stop],
            capacity=self.capacity[start:stop],
            k_build=self.k_build[start:stop],
            k_fast=self.k_fast[start:stop],
            k_slow=self.k_slow[start:stop],
            remodelled_fraction=self.remodelled_fraction[start:stop],
            ageing_rate_per_year=self.ageing_rate_per_year[start:stop],
        )


@cache
def load_posterior(path: str | None = None) -> ParameterDraws:
    """The stored posterior draws (``None``: the shipped file), checked.

    Raises
    ------
    ConfigError
        if the file is missing or malformed, a name is not a fitted parameter, or a draw breaks
        a parameter rule.
    """
    p = POSTERIOR_PATH if path is None else Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        names = tuple(str(n) for n in doc["names"])
        values = np.asarray(doc["draws"], dtype=np.float64)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError.one("posterior", str(p), f"cannot read draws ({exc})") from None
    unknown = sorted(set(names) - set(FITTED))
    if unknown:
        raise ConfigError.one("names", unknown, "must be fitted parameters", source=str(p))
    if values.ndim != 2 or values.shape[1] != len(names) or values.shape[0] < 1:
        raise ConfigError.one("draws", list(values.shape), "must be draws x names", source=str(p))
    if not np.all(np.isfinite(values)) or not np.all(values > 0):
        raise ConfigError.one("draws", "non-positive", "must be finite and > 0", source=str(p))
    return ParameterDraws(names, values)

"""A clinic calibration: the population parameters and scale offsets fitted to one clinic.

The values a clinic fit estimates (``docs/calibration.md``) are a subset of the model's
population parameters (:class:`~needleplan.forecasting.params.ModelParams`) plus, for each
outcome scale, a shift of its offset:

- ``gain`` (the mean response) and ``omega_response`` (its spread between patients);
- ``fast_fade_days`` and ``slow_fade_years`` moved together by one factor (the mean
  persistence) and ``omega_fade`` (its spread; ``omega_ageing`` keeps its ratio to it);
- per scale, ``delta`` [scale units]: added to the fixed offset of a relative scale (GAIS,
  satisfaction) or to the population mean of the pre-treatment value of an absolute one.

Everything else stays at the shipped calibration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting.observation import DEFAULT_LINKS, ScaleLink
from needleplan.forecasting.params import ModelParams, default_params

#: The population parameters a clinic fit estimates (the rest stay at the shipped values).
CLINIC_PARAMS = ("gain", "fast_fade_days", "slow_fade_years", "omega_response", "omega_fade")


@dataclass(frozen=True)
class ClinicCalibration:
    """Model parameters and scale offsets in force for a clinic.

    Attributes
    ----------
    params : ModelParams
        The full parameter set (fitted values for :data:`CLINIC_PARAMS`, the shipped ones for
        the rest).
    offsets : mapping of MeasurementScale to float
        Shift ``delta`` of each scale's offset [scale units]; a scale absent is not shifted.
    """

    params: ModelParams = field(default_factory=default_params)
    offsets: Mapping[MeasurementScale, float] = field(default_factory=dict)

    def links(
        self, base: Mapping[MeasurementScale, ScaleLink] | None = None
    ) -> dict[MeasurementScale, ScaleLink]:
        """The observation model with this calibration's offsets applied."""
        table = DEFAULT_LINKS if base is None else base
        out: dict[MeasurementScale, ScaleLink] = {}
        for scale, link in table.items():
            delta = float(self.offsets.get(scale, 0.0))
            if link.offset is not None:
                out[scale] = replace(link, offset=link.offset + delta)
            else:
                out[scale] = replace(link, baseline_shift=link.baseline_shift + delta)
        return out

    @property
    def response_multiplier(self) -> float:
        """Mean response against the shipped calibration [-] (``gain / gain_default``)."""
        return self.params.gain / default_params().gain

    @property
    def persistence_multiplier(self) -> float:
        """Mean persistence against the shipped calibration [-] (fading time constants)."""
        return self.params.fast_fade_days / default_params().fast_fade_days

    def to_json(self) -> dict[str, Any]:
        return {
            "params": {name: float(getattr(self.params, name)) for name in _STORED},
            "offsets": {s.value: float(v) for s, v in sorted(self.offsets.items())},
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "clinic calibration") -> ClinicCalibration:
        """Rebuild from :meth:`to_json` on top of the shipped parameters (validated)."""
        if not isinstance(data, Mapping):
            raise InputError.one("calibration", type(data).__name__, "must be an object")
        raw_params = data.get("params", {})
        raw_offsets = data.get("offsets", {})
        if not isinstance(raw_params, Mapping) or not isinstance(raw_offsets, Mapping):
            raise InputError.one(
                "calibration", None, "params and offsets must be objects", source=source
            )
        values: dict[str, float] = {}
        for name, value in raw_params.items():
            if name not in _STORED:
                raise InputError.one(f"params.{name}", value, "is not a clinic parameter")
            values[str(name)] = _number(f"params.{name}", value)
        offsets: dict[MeasurementScale, float] = {}
        for key, value in raw_offsets.items():
            try:
                scale = MeasurementScale(key)
            except ValueError:
                raise InputError.one(f"offsets.{key}", value, "is not a scale") from None
            offsets[scale] = _number(f"offsets.{key}", value)
        return cls(default_params().with_values(**values), offsets)


_STORED = (*CLINIC_PARAMS, "omega_ageing")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError.one(name, value, "must be a finite number")
    return float(value)


def default_calibration() -> ClinicCalibration:
    """The shipped calibration, unshifted (what a clinic uses until it adopts its own)."""
    return ClinicCalibration(default_params(), {})


__all__ = ["CLINIC_PARAMS", "ClinicCalibration", "default_calibration"]

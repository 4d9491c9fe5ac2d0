"""What a clinic fit returns: each estimate next to the shipped default, the likelihoods, and
the data it read (:func:`needleplan.forecasting.clinic_fit.fit_clinic`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.clinic_fit.calibration import ClinicCalibration
from needleplan.forecasting.clinic_fit.data import Sufficiency


@dataclass(frozen=True)
class Estimate:
    """One fitted value next to the shipped default."""

    name: str
    label: str
    unit: str
    default: float
    value: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "default": round(self.default, 5),
            "value": round(self.value, 5),
        }


@dataclass(frozen=True)
class ClinicFit:
    """The result of :func:`fit_clinic`.

    Attributes
    ----------
    calibration : ClinicCalibration
        The fitted parameters and offsets (ready to adopt).
    estimates : tuple of Estimate
        Each fitted value next to its default.
    log_likelihood, log_likelihood_default : float
        Marginal log-likelihood of the clinic's data at the fit and at the default.
    converged : bool
    evaluations : int
    sufficiency : Sufficiency
    measurements : int
        Measurements the fit read (pre-treatment values and follow-ups).
    fixed_scales : tuple of MeasurementScale
        Measured scales whose offset stayed at the default (too few patients).
    """

    calibration: ClinicCalibration
    estimates: tuple[Estimate, ...]
    log_likelihood: float
    log_likelihood_default: float
    converged: bool
    evaluations: int
    sufficiency: Sufficiency
    measurements: int
    fixed_scales: tuple[MeasurementScale, ...] = field(default_factory=tuple)

    @property
    def likelihood_ratio(self) -> float:
        """``2 (log L_fit - log L_default)``: how much better the clinic's own values explain
        its data (about chi-square with as many degrees of freedom as estimates when the
        default is right)."""
        return 2.0 * (self.log_likelihood - self.log_likelihood_default)

    def to_json(self) -> dict[str, Any]:
        return {
            "calibration": self.calibration.to_json(),
            "estimates": [e.to_json() for e in self.estimates],
            "log_likelihood": round(self.log_likelihood, 3),
            "log_likelihood_default": round(self.log_likelihood_default, 3),
            "likelihood_ratio": round(self.likelihood_ratio, 3),
            "degrees_of_freedom": len(self.estimates),
            "converged": self.converged,
            "evaluations": self.evaluations,
            "measurements": self.measurements,
            "fixed_scales": [s.value for s in self.fixed_scales],
            "sufficiency": self.sufficiency.to_json(),
        }


def estimates(
    base: ClinicCalibration, cal: ClinicCalibration, scales: Sequence[MeasurementScale]
) -> tuple[Estimate, ...]:
    """Each fitted value next to the shipped default: the model's five population parameters,
    then the offset of each scale in ``scales``."""
    b, p = base.params, cal.params
    rows = [
        Estimate("gain", "mean response (dose of one session)", "% of firmness", b.gain, p.gain),
        Estimate(
            "omega_response",
            "spread of the response (log sd)",
            "-",
            b.omega_response,
            p.omega_response,
        ),
        Estimate(
            "fast_fade_days",
            "mean persistence: fast fade time",
            "days",
            b.fast_fade_days,
            p.fast_fade_days,
        ),
        Estimate(
            "slow_fade_years",
            "mean persistence: remodelled fade time",
            "years",
            b.slow_fade_years,
            p.slow_fade_years,
        ),
        Estimate(
            "omega_fade", "spread of the persistence (log sd)", "-", b.omega_fade, p.omega_fade
        ),
    ]
    for s in scales:
        rows.append(
            Estimate(
                f"offset.{s.value}",
                f"offset of {s.value.replace('_', ' ')}",
                s.info.unit,
                0.0,
                float(cal.offsets.get(s, 0.0)),
            )
        )
    return tuple(rows)


__all__ = ["ClinicFit", "Estimate", "estimates"]

"""The clinic's own calibration: fit its population parameters to its measurements.

- :mod:`.calibration`: :class:`ClinicCalibration` (parameters and scale offsets) and the default;
- :mod:`.data`: :class:`ClinicPatient`, the data-sufficiency rule, simulated clinics;
- :mod:`.fit`: the marginal-likelihood fit (:func:`fit_clinic`);
- :mod:`.result`: what it returns (:class:`ClinicFit`, each :class:`Estimate` beside its default);
- :mod:`.check`: the visual predictive check's numbers (:func:`predictive_check`).

Equations and the rule: ``docs/calibration.md``.
"""

from needleplan.forecasting.clinic_fit.calibration import (
    CLINIC_PARAMS,
    ClinicCalibration,
    default_calibration,
)
from needleplan.forecasting.clinic_fit.check import ScaleCheck, predictive_check
from needleplan.forecasting.clinic_fit.data import (
    RULE,
    ClinicPatient,
    Sufficiency,
    simulate_clinic,
    sufficiency,
)
from needleplan.forecasting.clinic_fit.fit import (
    ClinicFit,
    Estimate,
    fit_clinic,
    marginal_log_likelihood,
)

__all__ = [
    "CLINIC_PARAMS",
    "RULE",
    "ClinicCalibration",
    "ClinicFit",
    "ClinicPatient",
    "Estimate",
    "ScaleCheck",
    "Sufficiency",
    "default_calibration",
    "fit_clinic",
    "marginal_log_likelihood",
    "predictive_check",
    "simulate_clinic",
    "sufficiency",
]

"""Pure, vectorised functions of the dermal collagen/elastin (firmness) dynamics.

One function per mechanism; numpy in, numpy out; no loop over days. The equations are in each
function's Notes and in ``docs/model.md``.
"""

from needleplan.forecasting.models.ageing import ageing_decline, ageing_rate
from needleplan.forecasting.models.capacity import saturate
from needleplan.forecasting.models.covariates import PatientModifiers, patient_modifiers
from needleplan.forecasting.models.firmness import CurveInputs, improvement
from needleplan.forecasting.models.healing import (
    age_response_factor,
    healing_kernel,
    session_doses,
    spacing_factor,
)
from needleplan.forecasting.models.population import (
    RandomEffects,
    conditional_persistence,
    persistence_from,
    random_effects,
)

__all__ = [
    "CurveInputs",
    "PatientModifiers",
    "RandomEffects",
    "age_response_factor",
    "ageing_decline",
    "ageing_rate",
    "conditional_persistence",
    "healing_kernel",
    "improvement",
    "patient_modifiers",
    "persistence_from",
    "random_effects",
    "saturate",
    "session_doses",
    "spacing_factor",
]

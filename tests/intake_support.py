"""Intake answers for tests: a complete submission as a web form sends it."""

from __future__ import annotations

from typing import Any

#: Every required question answered "no contraindication", a reference-like patient.
CLEAR: dict[str, Any] = {
    "pregnancy": "no",
    "diabetes": "no",
    "autoimmune": "no",
    "recent_radiation": "no",
    "isotretinoin": "no",
    "anticoagulants": "no",
    "allergies": "no",
    "active_infection": "no",
    "active_acne": "no",
    "keloid": "no",
    "smoking": "never",
    "sun_exposure": "moderate",
    "spf_daily": "yes",
    "sunburn_history": "no",
    "areas": ["full_face"],
    "goal": "noticeable",
}

#: A patient with raising factors and a relative contraindication: current smoker, diabetes
#: (well controlled), heavy sun without SPF, keloid tendency.
RAISING: dict[str, Any] = {
    **CLEAR,
    "diabetes": "yes",
    "diabetes_control": "well",
    "smoking": "current",
    "sun_exposure": "high",
    "spf_daily": "no",
    "sunburn_history": "yes",
    "keloid": "yes",
    "areas": ["full_face", "neck"],
    "goal": "maximal",
}

"""How an assessment's factors change response, fading, ageing and healing.

Each factor multiplies one or more of:

- ``response`` the dose a session induces (lower is worse),
- ``fade`` the fading rates of new collagen, fast and remodelled (higher is worse),
- ``ageing`` the age-related decline rate (higher is worse),
- ``heal`` the healing recovery time between sessions (higher is worse),
- ``capacity`` the ceiling of treatment-induced firmness (set by severity, not a risk).

Every risk factor moves each multiplier only in its "worse" direction and every healthier choice
only in its "better" direction, so a risk factor can never lengthen a forecast and a healthier
lifestyle never shorten it (the Hypothesis properties in ``tests/forecasting``). The directions
come from the seeds (every factor they list as raising the count or speeding fading); the
magnitudes are judgement, anchored where a source gives one and listed in ``docs/model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from needleplan.domain import (
    Aftercare,
    Assessment,
    Condition,
    Diet,
    Genetic,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
)


@dataclass(frozen=True)
class Effect:
    """Multipliers one factor applies [-], and where they come from."""

    response: float = 1.0
    fade: float = 1.0
    ageing: float = 1.0
    heal: float = 1.0
    capacity: float = 1.0
    source: str = ""


#: The covariate table. Keys are ``"field=value"``.
EFFECTS: dict[str, Effect] = {
    "smoking=current": Effect(
        response=0.80,
        fade=1.25,
        ageing=1.50,
        source="Knuutinen et al. 2002, Br J Dermatol 146:588-594 (procollagen I/III synthesis "
        "18-22 % lower in smokers); seeds: smoking degrades collagen",
    ),
    "smoking=former": Effect(
        response=0.95, fade=1.05, ageing=1.15, source="judgement: a residue of current smoking"
    ),
    "sun_exposure=high": Effect(
        response=0.95,
        fade=1.20,
        ageing=1.50,
        source="Fisher et al. 1997, N Engl J Med 337:1419-1428 (UV induces collagen-degrading "
        "MMPs); seeds: sun drives fading",
    ),
    "sun_exposure=low": Effect(fade=0.95, ageing=0.85, source="judgement: less photo-ageing"),
    "spf_habit=false": Effect(fade=1.10, ageing=1.20, source="judgement: unprotected UV dose"),
    "sun_damage_history=true": Effect(
        response=0.90, ageing=1.15, source="seeds: sun damage history raises the count"
    ),
    "diet=poor": Effect(
        response=0.95, fade=1.10, ageing=1.10, source="seeds: diet affects retention"
    ),
    "diet=good": Effect(
        response=1.03, fade=0.95, ageing=0.95, source="seeds: diet affects retention"
    ),
    "conditions=diabetes": Effect(
        response=0.75,
        fade=1.20,
        heal=1.50,
        source="Brem & Tomic-Canic 2007, J Clin Invest 117:1219-1222 (impaired wound healing "
        "in diabetes); seeds: poor response",
    ),
    "conditions=autoimmune": Effect(
        response=0.80, fade=1.15, heal=1.30, source="seeds: poor response in autoimmune disease"
    ),
    "genetics=accelerated_aging": Effect(
        fade=1.15, ageing=1.50, source="seeds: genetic accelerated ageing"
    ),
    "genetics=slow_healing": Effect(
        response=0.85, heal=1.60, source="seeds: genetic slow wound healing"
    ),
    "aftercare=fair": Effect(response=0.92, fade=1.05, source="seeds: aftercare between sessions"),
    "aftercare=poor": Effect(response=0.80, fade=1.10, source="seeds: poor aftercare"),
    "repair_capacity=reduced": Effect(
        response=0.80, heal=1.30, source="seeds: the skin's repair capacity"
    ),
    "repair_capacity=good": Effect(
        response=1.15, heal=0.85, source="seeds: the skin's repair capacity"
    ),
    "severity=mild": Effect(
        capacity=0.75,
        fade=1.15,
        source="seeds: the preventive effect lasts less than improvement of existing laxity",
    ),
    "severity=advanced": Effect(capacity=1.20, source="judgement: more laxity to take up"),
    "severity=severe": Effect(capacity=1.35, source="judgement: more laxity to take up"),
}


@dataclass(frozen=True)
class PatientModifiers:
    """Product of the covariate multipliers present for one assessment [-]."""

    response: float = 1.0
    fade: float = 1.0
    ageing: float = 1.0
    heal: float = 1.0
    capacity: float = 1.0
    factors: tuple[str, ...] = field(default_factory=tuple)


def present_keys(assessment: Assessment) -> list[str]:
    """The covariate-table keys that apply to ``assessment``."""
    keys: list[str] = []
    if assessment.smoking is Smoking.CURRENT:
        keys.append("smoking=current")
    elif assessment.smoking is Smoking.FORMER:
        keys.append("smoking=former")
    if assessment.sun_exposure is SunExposure.HIGH:
        keys.append("sun_exposure=high")
    elif assessment.sun_exposure is SunExposure.LOW:
        keys.append("sun_exposure=low")
    if not assessment.spf_habit:
        keys.append("spf_habit=false")
    if assessment.sun_damage_history:
        keys.append("sun_damage_history=true")
    if assessment.diet is Diet.POOR:
        keys.append("diet=poor")
    elif assessment.diet is Diet.GOOD:
        keys.append("diet=good")
    if Condition.DIABETES in assessment.conditions:
        keys.append("conditions=diabetes")
    if Condition.AUTOIMMUNE in assessment.conditions:
        keys.append("conditions=autoimmune")
    if Genetic.ACCELERATED_AGING in assessment.genetics:
        keys.append("genetics=accelerated_aging")
    if Genetic.SLOW_HEALING in assessment.genetics:
        keys.append("genetics=slow_healing")
    if assessment.aftercare is Aftercare.FAIR:
        keys.append("aftercare=fair")
    elif assessment.aftercare is Aftercare.POOR:
        keys.append("aftercare=poor")
    if assessment.repair_capacity is RepairCapacity.REDUCED:
        keys.append("repair_capacity=reduced")
    elif assessment.repair_capacity is RepairCapacity.GOOD:
        keys.append("repair_capacity=good")
    sev = assessment.effective_severity
    if sev is not Severity.MODERATE:
        keys.append(f"severity={sev.value}")
    return keys


def patient_modifiers(assessment: Assessment) -> PatientModifiers:
    """Multiply the effects of every factor present in ``assessment``.

    Age is not here: it enters through the age terms of the ageing rate and the per-session
    response (see ``ageing_rate`` and ``age_response_factor``).
    """
    keys = present_keys(assessment)
    out = {"response": 1.0, "fade": 1.0, "ageing": 1.0, "heal": 1.0, "capacity": 1.0}
    for key in keys:
        eff = EFFECTS[key]
        for name in out:
            out[name] *= getattr(eff, name)
    return PatientModifiers(**out, factors=tuple(keys))

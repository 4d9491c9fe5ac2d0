"""How an assessment's factors change response, fading, ageing and healing.

Each factor multiplies one or more of:

- ``response`` the dose a session induces (lower is worse),
- ``fade`` the fading rates of new collagen, fast and remodelled (higher is worse),
- ``ageing`` the age-related decline rate (higher is worse),
- ``heal`` the healing recovery time between sessions (higher is worse),
- ``capacity`` the ceiling of treatment-induced firmness (lower is worse),
- ``threshold`` the improvement she calls noticeable, set by her goal (higher is worse).

Every factor that raises the guideline's session count (severity, treated area, concerns, goal,
each risk factor) moves each multiplier only in its "worse" direction and every healthier
choice only in its "better" direction, so for a given schedule a raising factor can never
lengthen a forecast; each also lowers the capacity in proportion to the guideline points it adds
(:data:`CAP_PER_POINT`), so the extra sessions the guideline gives do not carry a difficult case
past the reference patient (the Hypothesis properties in ``tests/forecasting``). The directions
come from the seeds; the magnitudes are judgement, anchored where a source gives one (smoking,
diabetes) and listed in ``docs/model.md``.

Each effect's size is uncertain. :data:`SPREADS` states, per factor (and for age), the spread of
its *strength* (one per field: the levels of a field share it) ``s = e^{sigma eps}``, ``eps ~ N(0, 1)``: a forecast draw raises every multiplier of
the factor to the power ``s`` (:func:`drawn_modifiers`), so a draw can make smoking weaker or
stronger than its central value but never helpful. Where the evidence file gives a range the
spread reproduces it; elsewhere it is a stated judgement prior (:data:`JUDGEMENT_SPREAD`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from needleplan.domain import (
    Aftercare,
    Assessment,
    Condition,
    Diet,
    Genetic,
    Goal,
    Menopause,
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
    threshold: float = 1.0
    source: str = ""


#: Capacity multiplier per point a factor adds to the default guideline's session score [-]:
#: a factor that needs more sessions also caps what a course can achieve, so the guideline's
#: extra sessions do not carry a difficult case past the reference patient (judgement; the
#: property tests on the product path check it).
CAP_PER_POINT = 0.75
#: Response multiplier per guideline point [-] (same reasoning).
RESPONSE_PER_POINT = 0.95


def _cap(points: float) -> float:
    """Capacity multiplier of a factor worth ``points`` guideline points (at least one: even a
    half point can round up to a whole extra session)."""
    return float(CAP_PER_POINT ** max(points, 1.0))


def _resp(points: float) -> float:
    return float(RESPONSE_PER_POINT ** max(points, 1.0))


#: Bounds on the product of the multipliers of stacked factors (judgement; stated in
#: docs/model.md): however many factors stack, the response and capacity keep at least half
#: their value and the fading rates at most double. Clipping keeps every direction (a product
#: at its bound stays there when another factor is added).
BOUNDS: dict[str, tuple[float, float]] = {
    "response": (0.5, 1.5),
    "fade": (0.5, 2.0),
    "ageing": (0.5, 3.0),
    "heal": (0.5, 2.5),
    "capacity": (0.5, 1.5),
    "threshold": (0.5, 1.5),
}


#: The covariate table. Keys are ``"field=value"``.
EFFECTS: dict[str, Effect] = {
    "smoking=current": Effect(
        response=0.80,
        fade=1.25,
        ageing=1.50,
        capacity=_cap(1.0),
        source="Knuutinen et al. 2002, Br J Dermatol 146:588-594 (procollagen I/III synthesis "
        "18-22 % lower in smokers); seeds: smoking degrades collagen",
    ),
    "smoking=former": Effect(
        response=0.95,
        fade=1.05,
        ageing=1.15,
        capacity=_cap(0.5),
        source="judgement: a residue of current smoking",
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
        response=0.90,
        ageing=1.15,
        capacity=_cap(1.0),
        source="seeds: sun damage history raises the count",
    ),
    "diet=poor": Effect(
        response=0.95, fade=1.10, ageing=1.10, source="seeds: diet affects retention"
    ),
    "diet=good": Effect(
        response=1.03, fade=0.95, ageing=0.95, source="seeds: diet affects retention"
    ),
    "conditions=diabetes": Effect(
        response=0.90,
        fade=1.10,
        heal=1.20,
        capacity=_cap(1.5),
        source="modest, wide uncertainty: small clean wounds closed at the same rate in 12 "
        "diabetics and 12 controls (C4, Diabetes Care 2007;30:3058); seeds: poor response",
    ),
    "conditions=autoimmune": Effect(
        response=0.80,
        fade=1.15,
        heal=1.30,
        capacity=_cap(1.5),
        source="seeds: poor response in autoimmune disease",
    ),
    "genetics=accelerated_aging": Effect(
        fade=1.15, ageing=1.50, capacity=_cap(1.0), source="seeds: genetic accelerated ageing"
    ),
    "genetics=slow_healing": Effect(
        response=0.85, heal=1.60, capacity=_cap(1.0), source="seeds: genetic slow wound healing"
    ),
    "aftercare=fair": Effect(
        response=0.92, fade=1.05, capacity=_cap(0.5), source="seeds: aftercare between sessions"
    ),
    "aftercare=poor": Effect(
        response=0.80, fade=1.10, capacity=_cap(1.0), source="seeds: poor aftercare"
    ),
    "repair_capacity=reduced": Effect(
        response=0.80, heal=1.30, capacity=_cap(1.0), source="seeds: the skin's repair capacity"
    ),
    "repair_capacity=good": Effect(
        response=1.15, heal=0.85, source="seeds: the skin's repair capacity"
    ),
    "severity=advanced": Effect(
        response=0.90,
        capacity=_cap(1.0),
        source="seeds: advanced laxity needs more sessions; a course closes less of it",
    ),
    "severity=severe": Effect(
        response=0.80,
        capacity=_cap(2.0),
        source="seeds: very lax skin with lost elasticity needs the most sessions",
    ),
    "concerns=deep_wrinkles": Effect(
        response=_resp(1.0), capacity=_cap(1.0), source="seeds: deep wrinkles raise the count"
    ),
    "concerns=enlarged_pores": Effect(
        response=_resp(0.5), capacity=_cap(0.5), source="seeds: enlarged pores raise the count"
    ),
    "concerns=loose_neck_skin": Effect(
        response=_resp(1.0), capacity=_cap(1.0), source="seeds: loose neck skin raises the count"
    ),
    **{
        f"areas={n}{'+body' if body else ''}": Effect(
            response=_resp(0.5 * extra + (1.5 if body else 0.0)),
            capacity=_cap(0.5 * extra + (1.5 if body else 0.0)),
            source="seeds: more area, more sessions; body areas larger than the face need more "
            "(0.5 guideline point per extra area, up to 3, and 1.5 for a body area)",
        )
        for extra, n in enumerate(("1", "2", "3", "4+"))
        for body in (False, True)
        if extra or body
    },
    "menopause=recent": Effect(
        fade=1.05,
        ageing=2.0,
        source="A5 (weak: a lay summary): skin collagen falls about 30 % in the first 5 years "
        "after menopause, about 2 %/year averaged over 15 years, against 0.3-1.2 %/year in "
        "adults; the rate stays capped at the adult range (judgement: x2; fading x1.05)",
    ),
    "menopause=past": Effect(
        ageing=1.3,
        source="A5 (weak): the loss slows after the first 5 years but stays above the "
        "pre-menopausal rate over 15 years (judgement: x1.3)",
    ),
    "goal=maximal": Effect(
        threshold=1.4,
        source="seeds: eliminating wrinkles or lifting sagging needs more: she notices less of "
        "a given change (judgement: a 40 % higher threshold)",
    ),
    "goal=subtle": Effect(threshold=0.9, source="judgement: a minor improvement satisfies her"),
    "goal=preventive": Effect(threshold=0.8, source="judgement: prevention, not correction"),
}

#: Areas larger than the face (the default guideline's body areas).
BODY_AREAS = frozenset({"chest", "arms", "abdomen", "thighs", "back"})


@dataclass(frozen=True)
class PatientModifiers:
    """Product of the covariate multipliers present for one assessment [-]."""

    response: float = 1.0
    fade: float = 1.0
    ageing: float = 1.0
    heal: float = 1.0
    capacity: float = 1.0
    threshold: float = 1.0
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
    if sev in (Severity.ADVANCED, Severity.SEVERE):
        keys.append(f"severity={sev.value}")
    for concern in sorted(c.value for c in assessment.concerns):
        keys.append(f"concerns={concern}")
    n_areas = len(set(assessment.areas))
    body = any(a.value in BODY_AREAS for a in assessment.areas)
    if n_areas >= 2 or body:
        count = "4+" if n_areas >= 4 else str(n_areas)
        keys.append(f"areas={count}{'+body' if body else ''}")
    if assessment.menopause is not Menopause.NONE:
        keys.append(f"menopause={assessment.menopause.value}")
    if assessment.goal is not Goal.NOTICEABLE:
        keys.append(f"goal={assessment.goal.value}")
    return keys


def patient_modifiers(assessment: Assessment) -> PatientModifiers:
    """Multiply the effects of every factor present in ``assessment``.

    Age is not here: it enters through the age terms of the ageing rate and the per-session
    response (see ``ageing_rate`` and ``age_response_factor``).
    """
    keys = present_keys(assessment)
    out = {
        "response": 1.0,
        "fade": 1.0,
        "ageing": 1.0,
        "heal": 1.0,
        "capacity": 1.0,
        "threshold": 1.0,
    }
    for key in keys:
        eff = EFFECTS[key]
        for name in out:
            out[name] *= getattr(eff, name)
    for name, (lo, hi) in BOUNDS.items():
        out[name] = min(max(out[name], lo), hi)
    return PatientModifiers(**out, factors=tuple(keys))


#: Spread of an effect's strength where no source gives a range: a judgement prior, the
#: strength known within a factor of about 1.9 either way (80 % of draws: ``s`` in 0.53-1.90).
JUDGEMENT_SPREAD = 0.5
#: The key of age's effect (the age terms ``beta_A`` of the response and ``beta_r`` of the
#: ageing rate), drawn like a factor's.
AGE_KEY = "age"

#: Fields that can hold several values at once: each value is its own factor (they stack).
MULTI_VALUED = ("conditions", "concerns", "genetics")


def family_of(key: str) -> str:
    """The factor a covariate key belongs to: its field (``"smoking"`` for ``"smoking=current"``
    and ``"smoking=former"``), or the key itself for a field that holds several values.

    The levels of one field share one strength in a draw, so a draw keeps their order (current
    smoking stays worse than former smoking in every draw).
    """
    field_name = key.split("=", 1)[0]
    return key if field_name in MULTI_VALUED else field_name


#: Spread ``sigma`` of each factor's strength [-] and its source; keys are factors
#: (:func:`family_of`) and :data:`AGE_KEY`. A factor missing here has :data:`JUDGEMENT_SPREAD`
#: (a judgement prior).
SPREADS: dict[str, tuple[float, str]] = {
    "smoking": (
        0.25,
        "evidence: smoking response 0.75-0.90 (procollagen synthesis 18-22 % lower); "
        "sigma 0.25 puts 80 % of draws of the current smoker's response multiplier at 0.74-0.85",
    ),
    "conditions=diabetes": (
        0.8,
        "evidence: modest with wide uncertainty (C4); sigma 0.8 puts 80 % of draws of the "
        "response multiplier at 0.96-0.75",
    ),
    "menopause": (0.6, "weak evidence (A5, a lay summary): a wider judgement prior"),
    AGE_KEY: (
        0.3,
        "judgement prior: the age terms rest on fibroblast and skin-thickness studies (A1, "
        "A2, Varani 2006) that give a direction and a rough size",
    ),
}

#: The factors a forecast draws a strength for, in order: every one, whether present or not,
#: so that the same seed gives each factor the same strength in every patient (common random
#: numbers: adding a factor leaves the others' draws as they were).
UNCERTAIN_KEYS: tuple[str, ...] = (*dict.fromkeys(family_of(k) for k in EFFECTS), AGE_KEY)
_MULTIPLIERS = ("response", "fade", "ageing", "heal", "capacity", "threshold")
#: Natural logs of the multipliers, one row per key of :data:`EFFECTS`.
_LOG_EFFECTS = np.log(np.array([[getattr(EFFECTS[k], m) for m in _MULTIPLIERS] for k in EFFECTS]))
_KEY_ROWS = {k: i for i, k in enumerate(EFFECTS)}


def spread_of(factor: str) -> float:
    """The spread ``sigma`` of a factor's strength [-] (:data:`SPREADS`, else the judgement
    prior); ``factor`` is a covariate key or its family."""
    fam = factor if factor in SPREADS or factor == AGE_KEY else family_of(factor)
    return SPREADS.get(fam, (JUDGEMENT_SPREAD, ""))[0]


_SIGMAS = np.array([spread_of(k) for k in UNCERTAIN_KEYS])


def effect_strengths(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Strengths ``s = e^{sigma eps}`` of every factor of :data:`UNCERTAIN_KEYS`, ``(n, K)`` [-].

    One matrix of standard normals from ``rng`` (seeded by the caller), no loop over draws.
    """
    eps = rng.standard_normal((n, len(UNCERTAIN_KEYS)))
    return np.asarray(np.exp(eps * _SIGMAS[None, :]), dtype=np.float64)


@dataclass(frozen=True)
class DrawnModifiers:
    """Covariate multipliers per forecast draw, each ``(n, 1)`` [-], as PatientModifiers.

    ``age`` is the strength of the age terms (multiplies ``beta_A`` and ``beta_r``).
    """

    response: NDArray[np.float64]
    fade: NDArray[np.float64]
    ageing: NDArray[np.float64]
    heal: NDArray[np.float64]
    capacity: NDArray[np.float64]
    threshold: NDArray[np.float64]
    age: NDArray[np.float64]


def drawn_modifiers(
    keys: list[str] | tuple[str, ...], strengths: NDArray[np.float64]
) -> DrawnModifiers:
    """The multipliers of the factors ``keys`` for each row of ``strengths``.

    Parameters
    ----------
    keys : sequence of str
        The factors present (:func:`present_keys`).
    strengths : ndarray, shape (n, K)
        From :func:`effect_strengths`, columns in :data:`UNCERTAIN_KEYS` order.

    Notes
    -----
    ``log m_j = sum_k s_{f(k)} log m_{kj}`` over the keys ``k`` present (``f(k)`` its factor),
    then clipped to
    :data:`BOUNDS` like :func:`patient_modifiers`: one matrix product for every draw. Each
    factor's multiplier stays on its side of 1 in every draw (``s > 0``), so the directions hold
    draw by draw; with every ``s = 1`` it is :func:`patient_modifiers`.
    """
    cols = [UNCERTAIN_KEYS.index(family_of(k)) for k in keys]
    logs = strengths[:, cols] @ _LOG_EFFECTS[[_KEY_ROWS[k] for k in keys]]  # (n, 6)
    out = np.exp(logs)
    for j, name in enumerate(_MULTIPLIERS):
        lo, hi = BOUNDS[name]
        np.clip(out[:, j], lo, hi, out=out[:, j])
    age = strengths[:, UNCERTAIN_KEYS.index(AGE_KEY)]
    col = {name: out[:, j : j + 1] for j, name in enumerate(_MULTIPLIERS)}
    return DrawnModifiers(
        response=col["response"],
        fade=col["fade"],
        ageing=col["ageing"],
        heal=col["heal"],
        capacity=col["capacity"],
        threshold=col["threshold"],
        age=age[:, None],
    )

"""The protocol engine: an :class:`Assessment` and a :class:`Guideline` make a :class:`Protocol`.

How a count is made (every number comes from the guideline file):

1. ``score = severity base + area load + goal + sum of the raising factors present``;
   the area load is the largest area's weight plus ``per_extra_area`` for each further area
   (at most ``extra_max``).
2. The case is *difficult* when the raising factors add up to ``difficult.raising_points_at_least``
   or more, or when the score rounds above the standard tier's maximum.
3. ``count = round_half_up(score)`` kept inside the tier's session bounds; the interval window is
   the tier's.
4. Maintenance: the standard window, or the high-risk one when the factors that speed fading
   (``retention_risk``) add up to ``maintenance.high_risk_points_at_least``.
5. Absolute contraindications block the plan (the numbers are still shown, for after the
   contraindication has resolved); relative ones and Fitzpatrick IV-VI add warnings.

Raising-factor weights are never negative (the schema enforces it) and the difficult tier starts
above the standard one, so an added raising factor or a larger area never lowers the count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from needleplan.domain.assessment import Area, Assessment, Concern
from needleplan.domain.protocol import (
    AreaNote,
    FloatRange,
    IntRange,
    Protocol,
    RationaleItem,
)
from needleplan.guideline.schema import FACTOR_MEANING, FactorId, Guideline, load_guideline

NEEDLE_DEPTH_SOURCE = (
    "Typical ranges from practice reviews: Alster & Graham 2018, Dermatol Surg 44(3):397-404; "
    "Singh & Yadav 2016, Indian Dermatol Online J 7(4):244-254. Set by the clinic's guideline."
)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _fmt(delta: float) -> str:
    return f"{delta:+g} session{'s' if abs(delta) != 1 else ''}"


def present_factors(assessment: Assessment) -> list[FactorId]:
    """The raising factors present in an assessment, in the order of :class:`FactorId`."""
    found: list[FactorId] = []
    for fid in FactorId:
        attr, value = FACTOR_MEANING[fid]
        current = getattr(assessment, attr)
        if (value in current) if isinstance(current, list) else (current == value):
            found.append(fid)
    return found


@dataclass(frozen=True)
class Score:
    """The arithmetic behind a protocol, kept for the rationale and for tests."""

    base: float
    area_load: float
    goal: float
    raising: float
    retention_risk: float
    factors: tuple[FactorId, ...]

    @property
    def total(self) -> float:
        return self.base + self.area_load + self.goal + self.raising


def score(assessment: Assessment, guideline: Guideline) -> Score:
    """Compute the score components for ``assessment`` under ``guideline``."""
    weights = sorted((guideline.areas[a].weight for a in assessment.areas), reverse=True)
    extra = min(
        guideline.area_load.per_extra_area * (len(weights) - 1), guideline.area_load.extra_max
    )
    factors = [f for f in present_factors(assessment) if f in guideline.factors]
    return Score(
        base=guideline.severity[assessment.effective_severity],
        area_load=weights[0] + extra,
        goal=guideline.goal[assessment.goal],
        raising=sum(guideline.factors[f].sessions for f in factors),
        retention_risk=sum(guideline.factors[f].retention_risk for f in factors),
        factors=tuple(factors),
    )


def make_protocol(assessment: Assessment, guideline: Guideline | None = None) -> Protocol:
    """Recommend an initial series and maintenance for ``assessment``.

    Parameters
    ----------
    assessment
        The validated assessment.
    guideline
        The rules; the shipped default when ``None``.

    Returns
    -------
    Protocol
        Counts, interval window [days], maintenance window [months], warnings, block reasons and
        a rationale naming every factor and how much it moved the result.
    """
    g = guideline if guideline is not None else load_guideline()
    s = score(assessment, g)
    sev = assessment.effective_severity
    rationale: list[RationaleItem] = []

    sev_source = (
        "" if assessment.severity is not None else f" (from Glogau {assessment.glogau_class})"
    )
    rationale.append(
        RationaleItem(
            factor=f"severity: {sev.value}{sev_source}",
            effect=f"base of {s.base:g} sessions",
            sessions_delta=s.base,
        )
    )
    area_names = ", ".join(a.value for a in assessment.areas)
    rationale.append(
        RationaleItem(
            factor=f"areas: {area_names}",
            effect=f"{_fmt(s.area_load)} (largest area plus {g.area_load.per_extra_area:g} per extra area)",
            sessions_delta=s.area_load,
        )
    )
    if s.goal:
        rationale.append(
            RationaleItem(
                factor=f"goal: {assessment.goal.value}",
                effect=_fmt(s.goal),
                sessions_delta=s.goal,
            )
        )
    for fid in s.factors:
        rule = g.factors[fid]
        if rule.sessions == 0 and rule.retention_risk == 0:
            continue
        parts = []
        if rule.sessions:
            parts.append(_fmt(rule.sessions))
        if rule.retention_risk:
            parts.append(f"retention risk +{rule.retention_risk:g}")
        rationale.append(
            RationaleItem(
                factor=fid.value,
                effect=f"{', '.join(parts)}: {rule.reason}",
                sessions_delta=rule.sessions,
            )
        )

    raw = _round_half_up(s.total)
    difficult = s.raising >= g.difficult.raising_points_at_least or raw > g.standard.sessions.max
    tier = g.difficult if difficult else g.standard
    count = min(max(raw, tier.sessions.min), tier.sessions.max)
    warnings: list[str] = []
    if difficult:
        why = (
            f"raising factors add up to {s.raising:g} (>= {g.difficult.raising_points_at_least:g})"
            if s.raising >= g.difficult.raising_points_at_least
            else f"score {s.total:g} is above the standard maximum of {g.standard.sessions.max}"
        )
        rationale.append(
            RationaleItem(
                factor="difficult case",
                effect=(
                    f"{why}: {tier.sessions.min}-{tier.sessions.max} sessions, "
                    f"{tier.interval_days.min}-{tier.interval_days.max} days apart"
                ),
                interval_shift_days=tier.interval_days.min - g.standard.interval_days.min,
            )
        )
    if count != raw:
        rationale.append(
            RationaleItem(
                factor="tier bounds",
                effect=(
                    f"score {s.total:g} rounds to {raw}; kept within "
                    f"{tier.sessions.min}-{tier.sessions.max} sessions: {count}"
                ),
                sessions_delta=float(count - raw),
            )
        )
        if raw > tier.sessions.max:
            warnings.append(
                f"The factors suggest more than {tier.sessions.max} sessions; reassess the response "
                "before adding more."
            )

    high_risk = s.retention_risk >= g.maintenance.high_risk_points_at_least
    months = g.maintenance.high_risk_months if high_risk else g.maintenance.standard_months
    rationale.append(
        RationaleItem(
            factor="maintenance",
            effect=(
                f"retention risk {s.retention_risk:g}"
                + (
                    f" (>= {g.maintenance.high_risk_points_at_least:g}): shorter window "
                    if high_risk
                    else ": standard window "
                )
                + f"of {months.min}-{months.max} months"
            ),
            maintenance_shift_months=months.max - g.maintenance.standard_months.max,
        )
    )

    block_reasons: list[str] = []
    for ci in assessment.contraindications:
        rule_ci = g.contraindications[ci]
        if rule_ci.kind == "absolute":
            block_reasons.append(f"{ci.value}: {rule_ci.reason}")
        else:
            warnings.append(f"{ci.value}: {rule_ci.reason}")
    if (
        assessment.fitzpatrick_type is not None
        and assessment.fitzpatrick_type >= g.skin_type.pigmentation_warning_from
    ):
        warnings.append(g.skin_type.pigmentation_warning)
    if Concern.LOOSE_NECK_SKIN in assessment.concerns and Area.NECK not in assessment.areas:
        warnings.append("loose_neck_skin is a concern but the neck is not among the treated areas.")

    notes = [
        AreaNote(
            area=a,
            needle_depth_mm=FloatRange(
                min=g.areas[a].needle_depth_mm.min, max=g.areas[a].needle_depth_mm.max
            ),
            note=g.areas[a].note,
            source=NEEDLE_DEPTH_SOURCE,
        )
        for a in assessment.areas
    ]
    return Protocol(
        initial_sessions=count,
        session_range=IntRange(
            min=max(tier.sessions.min, count - 1), max=min(tier.sessions.max, count + 1)
        ),
        interval_days=IntRange(min=tier.interval_days.min, max=tier.interval_days.max),
        maintenance_interval_months=IntRange(min=months.min, max=months.max),
        difficult_case=difficult,
        blocked=bool(block_reasons),
        block_reasons=block_reasons,
        warnings=warnings,
        rationale=rationale,
        areas=list(assessment.areas),
        area_notes=notes,
        milestones=list(g.milestones.text),
        guideline_version=f"{g.name} {g.version}",
    )

"""Hypothesis strategies for valid assessments, shared by the test modules."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import strategies as st

from needleplan.domain.assessment import (
    FACE_SUBAREAS,
    Aftercare,
    Area,
    Concern,
    Condition,
    Contraindication,
    Diet,
    Genetic,
    Goal,
    Menopause,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
)


def examples(n: int) -> int:
    """``n`` examples in the default (fast) Hypothesis profile, ten times as many when
    ``HYPOTHESIS_PROFILE=thorough`` (an explicit ``max_examples`` overrides any profile)."""
    return n * 10 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else n


def _values(enum: Any) -> list[str]:
    return [m.value for m in enum]


@st.composite
def area_lists(draw: st.DrawFn) -> list[str]:
    areas = draw(st.lists(st.sampled_from(_values(Area)), min_size=1, max_size=5, unique=True))
    if Area.FULL_FACE.value in areas:
        areas = [a for a in areas if Area(a) not in FACE_SUBAREAS]
    return areas


@st.composite
def assessment_dicts(draw: st.DrawFn, *, contraindications: bool = True) -> dict[str, Any]:
    conditions = draw(st.lists(st.sampled_from(_values(Condition)), unique=True, max_size=2))
    contra: list[str] = []
    if contraindications:
        contra = draw(st.lists(st.sampled_from(_values(Contraindication)), unique=True, max_size=3))
        if "uncontrolled_diabetes" in contra and "diabetes" not in conditions:
            conditions.append("diabetes")
    return {
        "age": draw(st.integers(18, 90)),
        "severity": draw(st.sampled_from(_values(Severity))),
        "areas": draw(area_lists()),
        "goal": draw(st.sampled_from(_values(Goal))),
        "concerns": draw(st.lists(st.sampled_from(_values(Concern)), unique=True, max_size=3)),
        "conditions": conditions,
        "genetics": draw(st.lists(st.sampled_from(_values(Genetic)), unique=True, max_size=2)),
        "repair_capacity": draw(st.sampled_from(_values(RepairCapacity))),
        "smoking": draw(st.sampled_from(_values(Smoking))),
        "sun_exposure": draw(st.sampled_from(_values(SunExposure))),
        "spf_habit": draw(st.booleans()),
        "sun_damage_history": draw(st.booleans()),
        "diet": draw(st.sampled_from(_values(Diet))),
        "aftercare": draw(st.sampled_from(_values(Aftercare))),
        "contraindications": contra,
        **draw(
            st.sampled_from(
                [{}, {"sex": "male"}, {"sex": "female"}]
                + [{"sex": "female", "menopause": m} for m in _values(Menopause)]
                + [{"menopause": m} for m in _values(Menopause)]
            )
        ),
    }


REFERENCE: dict[str, Any] = {
    "age": 50,
    "severity": "moderate",
    "areas": ["full_face"],
    "goal": "noticeable",
    "concerns": [],
    "conditions": [],
    "genetics": [],
    "smoking": "never",
    "sun_exposure": "moderate",
    "spf_habit": True,
    "sun_damage_history": False,
    "diet": "average",
    "aftercare": "good",
    "contraindications": [],
}

"""The patient assessment: a typed, validated record of every factor that shapes a plan.

The JSON form (accepted by every interface) uses the field names below. Unknown keys, wrong
types, out-of-range values and contradictory inputs raise :class:`~needleplan.exceptions.InputError`
naming the field, the value and the rule (see :func:`parse_assessment`).

Glogau photo-ageing class implies severity when severity is absent:

=========  ==========================  ==========
Glogau     description                 severity
=========  ==========================  ==========
I          no wrinkles, early ageing   mild
II         wrinkles in motion          moderate
III        wrinkles at rest            advanced
IV         only wrinkles, lax skin     severe
=========  ==========================  ==========

When both are given they may differ by at most one step; further apart they contradict.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from needleplan.exceptions import FieldProblem, InputError


class Severity(StrEnum):
    """Severity of skin ageing / laxity, from the seeds' four tiers."""

    MILD = "mild"  # mild crepiness, preventive
    MODERATE = "moderate"
    ADVANCED = "advanced"  # jowls, substantial wrinkles
    SEVERE = "severe"  # very lax skin, lost elasticity and muscle tone

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Area(StrEnum):
    UNDER_EYES = "under_eyes"
    FOREHEAD = "forehead"
    CHEEKS = "cheeks"
    PERIORAL = "perioral"
    FULL_FACE = "full_face"
    NECK = "neck"
    CHEST = "chest"
    HANDS = "hands"
    ARMS = "arms"
    ABDOMEN = "abdomen"
    THIGHS = "thighs"
    KNEES = "knees"
    BACK = "back"


FACE_SUBAREAS = frozenset({Area.UNDER_EYES, Area.FOREHEAD, Area.CHEEKS, Area.PERIORAL})


class Goal(StrEnum):
    PREVENTIVE = "preventive"
    SUBTLE = "subtle"
    NOTICEABLE = "noticeable"
    MAXIMAL = "maximal"


class Concern(StrEnum):
    DEEP_WRINKLES = "deep_wrinkles"
    ENLARGED_PORES = "enlarged_pores"
    LOOSE_NECK_SKIN = "loose_neck_skin"


class Condition(StrEnum):
    DIABETES = "diabetes"
    AUTOIMMUNE = "autoimmune"


class Genetic(StrEnum):
    ACCELERATED_AGING = "accelerated_aging"
    SLOW_HEALING = "slow_healing"


class Smoking(StrEnum):
    NEVER = "never"
    FORMER = "former"
    CURRENT = "current"


class Sex(StrEnum):
    """Sex as recorded for the model (optional; only menopause depends on it)."""

    FEMALE = "female"
    MALE = "male"


class Menopause(StrEnum):
    """Menopause status: skin collagen falls fastest in the first years after it (A5)."""

    NONE = "none"  # not applicable, or before menopause
    RECENT = "recent"  # within the last 5 years
    PAST = "past"  # more than 5 years ago


class SunExposure(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class Diet(StrEnum):
    POOR = "poor"
    AVERAGE = "average"
    GOOD = "good"


class Aftercare(StrEnum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class RepairCapacity(StrEnum):
    """The practitioner's judgement of how well this skin heals and makes collagen."""

    REDUCED = "reduced"
    NORMAL = "normal"
    GOOD = "good"


class Contraindication(StrEnum):
    ACTIVE_INFECTION = "active_infection"
    ACTIVE_ACNE = "active_acne"
    ISOTRETINOIN_RECENT = "isotretinoin_recent"
    PREGNANCY = "pregnancy"
    KELOID_TENDENCY = "keloid_tendency"
    ANTICOAGULANTS = "anticoagulants"
    UNCONTROLLED_DIABETES = "uncontrolled_diabetes"
    RECENT_RADIATION = "recent_radiation"


GLOGAU_TO_SEVERITY: dict[int, Severity] = {
    1: Severity.MILD,
    2: Severity.MODERATE,
    3: Severity.ADVANCED,
    4: Severity.SEVERE,
}

MIN_AGE = 18
MAX_AGE = 90

StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]


def _unique(name: str, values: list[Any]) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{name} lists {v!s} more than once")
        seen.add(v)


#: Lists of an assessment that hold each value once.
_LISTS = ("areas", "concerns", "conditions", "genetics", "contraindications")


def _cross_field_schema(schema: dict[str, Any]) -> None:
    """State the validator's rules across fields in the JSON schema, so the OpenAPI document
    says what the API refuses: "severity or glogau_class" and unique lists as schema, the rest
    in words (conditional rules defeat the test-case generators integrators use)."""
    props = schema.get("properties", {})
    for name in _LISTS:
        if name in props:
            props[name]["uniqueItems"] = True
    schema["description"] = (
        "A patient's assessment. Rules across fields (refused with 422 naming them): severity "
        "or glogau_class is required, and when both are given they differ by at most one step; "
        "every list holds each value once; full_face excludes the separate face areas; the "
        "contraindication uncontrolled_diabetes needs diabetes in conditions; menopause other "
        "than none needs sex female or sex left out."
    )

    rules: list[dict[str, Any]] = [
        {
            "anyOf": [
                {"properties": {"severity": {"not": {"type": "null"}}}, "required": ["severity"]},
                {
                    "properties": {"glogau_class": {"not": {"type": "null"}}},
                    "required": ["glogau_class"],
                },
            ]
        },
    ]
    schema["allOf"] = rules


class Assessment(BaseModel):
    """A patient's assessment at one consultation. Immutable once made."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_enum_values=False,
        json_schema_extra=lambda schema: _cross_field_schema(schema),
    )

    age: StrictInt = Field(ge=MIN_AGE, le=MAX_AGE, description="age [years]")
    severity: Severity | None = Field(
        default=None, description="ageing severity; implied by glogau_class when absent"
    )
    areas: list[Area] = Field(min_length=1, description="treated areas")
    goal: Goal = Goal.NOTICEABLE
    concerns: list[Concern] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    genetics: list[Genetic] = Field(default_factory=list)
    repair_capacity: RepairCapacity = RepairCapacity.NORMAL
    smoking: Smoking = Smoking.NEVER
    sun_exposure: SunExposure = SunExposure.MODERATE
    spf_habit: StrictBool = True
    sun_damage_history: StrictBool = False
    diet: Diet = Diet.AVERAGE
    aftercare: Aftercare = Aftercare.GOOD
    contraindications: list[Contraindication] = Field(default_factory=list)
    fitzpatrick_type: StrictInt | None = Field(default=None, ge=1, le=6)
    glogau_class: StrictInt | None = Field(default=None, ge=1, le=4)
    sex: Sex | None = Field(default=None, description="optional; needed only for menopause")
    menopause: Menopause = Field(
        default=Menopause.NONE,
        description="none (not applicable or before), recent (within 5 years), past (over 5)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("areas", "concerns", "conditions", "genetics", "contraindications"):
            _unique(name, getattr(self, name))
        if self.severity is None and self.glogau_class is None:
            raise ValueError("severity is required unless glogau_class is given")
        if self.severity is not None and self.glogau_class is not None:
            implied = GLOGAU_TO_SEVERITY[self.glogau_class]
            if abs(implied.rank - self.severity.rank) > 1:
                raise ValueError(
                    f"severity {self.severity.value} contradicts glogau_class "
                    f"{self.glogau_class} (implies {implied.value}); they may differ by one step"
                )
        if self.menopause is not Menopause.NONE and self.sex is Sex.MALE:
            raise ValueError(
                f"menopause {self.menopause.value} needs sex female (or sex left out); "
                "use menopause none"
            )
        if Area.FULL_FACE in self.areas:
            inside = sorted(a.value for a in self.areas if a in FACE_SUBAREAS)
            if inside:
                raise ValueError(
                    f"full_face already includes {', '.join(inside)}; list either full_face "
                    "or the separate face areas"
                )
        if (
            Contraindication.UNCONTROLLED_DIABETES in self.contraindications
            and Condition.DIABETES not in self.conditions
        ):
            raise ValueError(
                "contraindications lists uncontrolled_diabetes but conditions lacks diabetes"
            )
        return self

    @property
    def effective_severity(self) -> Severity:
        """Severity as given, or as implied by the Glogau class."""
        if self.severity is not None:
            return self.severity
        assert self.glogau_class is not None  # guaranteed by the validator
        return GLOGAU_TO_SEVERITY[self.glogau_class]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _field_name(loc: tuple[int | str, ...], fallback: str) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else fallback


def problems_from_validation(
    exc: ValidationError, *, fallback: str = "input"
) -> list[FieldProblem]:
    """Turn a pydantic ValidationError into field problems (field, value, rule)."""
    problems: list[FieldProblem] = []
    for err in exc.errors(include_url=False):
        field = _field_name(tuple(err.get("loc", ())), fallback)
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        value = err.get("input")
        if isinstance(value, Mapping) and field != fallback:
            value = "{...}"
        problems.append(FieldProblem(field, value, msg))
    return problems


#: Plain-word rules for the assessment's fields, by pydantic error type: the public API returns
#: them as they are, and the estimator and integrators show them to patients (issue 12).
_AREA_CHOICES = ", ".join(a.value for a in Area)


def friendly_rule(field: str, kind: str, ctx: Mapping[str, Any], fallback: str) -> str:
    """A plain-word rule for a pydantic error of ``kind`` on ``field`` (``fallback``: the
    message as it was, kept for rules written by hand, e.g. a model validator's)."""
    parts = [p for p in field.split(".") if not p.isdigit()]
    name = parts[-1] if parts else ""
    if name == "age" and kind in {
        "int_type",
        "int_parsing",
        "int_from_float",
        "greater_than_equal",
        "less_than_equal",
    }:
        return f"please give the age in whole years, from {MIN_AGE} to {MAX_AGE}"
    if name == "areas" and kind == "too_short":
        return "please tick at least one area to treat"
    if name == "areas" and kind == "enum":
        return f"is not an area we treat; choose from {_AREA_CHOICES}"
    if kind == "enum":
        return f"please choose one of: {ctx.get('expected', '')}".replace("'", "")
    if kind in {"bool_type", "bool_parsing"}:
        return "please answer yes or no (true or false)"
    if kind == "list_type":
        return "please give a list of choices (it may be empty)"
    if kind == "too_short":
        return f"please give at least {ctx.get('min_length', 1)}"
    if kind == "missing":
        return "please answer this question (it is required)"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        words = {
            "greater_than_equal": ("at least", "ge"),
            "less_than_equal": ("at most", "le"),
            "greater_than": ("more than", "gt"),
            "less_than": ("less than", "lt"),
        }[kind]
        return f"please give a number {words[0]} {ctx.get(words[1])}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "please give a whole number"
    if kind in {"float_type", "float_parsing"}:
        return "please give a number"
    return fallback


def _friendly(exc: ValidationError) -> list[FieldProblem]:
    problems = problems_from_validation(exc, fallback="assessment")
    return [
        FieldProblem(
            p.field,
            p.value,
            friendly_rule(p.field, str(err.get("type", "")), err.get("ctx") or {}, p.rule),
        )
        for p, err in zip(problems, exc.errors(include_url=False), strict=True)
    ]


def parse_assessment(data: Any) -> Assessment:
    """Validate ``data`` (a mapping, e.g. parsed JSON) into an :class:`Assessment`.

    Raises
    ------
    InputError
        naming every field that breaks a rule.
    """
    if isinstance(data, Assessment):
        return data
    if not isinstance(data, Mapping):
        raise InputError.one("assessment", type(data).__name__, "must be a JSON object")
    try:
        return Assessment.model_validate(dict(data))
    except ValidationError as exc:
        raise InputError(_friendly(exc)) from None


def reference_assessment() -> Assessment:
    """The SPEC's reference patient: 50, moderate laxity, full face, no raising factor."""
    return Assessment(
        age=50,
        severity=Severity.MODERATE,
        areas=[Area.FULL_FACE],
        goal=Goal.NOTICEABLE,
        smoking=Smoking.NEVER,
        sun_exposure=SunExposure.MODERATE,
        spf_habit=True,
        diet=Diet.AVERAGE,
        aftercare=Aftercare.GOOD,
    )

"""The intake questionnaire's definition: a versioned TOML file beside the guideline, validated
on load.

A questionnaire (``intake.toml``, see ``docs/intake.md``) lists sections and questions. Each
question has an ``id``, a ``type`` (``yes_no``, ``choice``, ``number``, ``text``, ``date``), the
``text`` the patient reads, whether it is ``required``, and what its answers do
(``[questions.when.<answer>]``): assessment fields they set or lists they add to, the guideline's
contraindications they flag, and notes for the practitioner to review. Nothing an answer does is
final: it drafts an assessment that a practitioner reviews and confirms
(:mod:`needleplan.guideline.intake_draft`).

Loading a file that breaks a rule raises :class:`~needleplan.exceptions.QuestionnaireError`
naming the key (``questions[smoking].when.current.set.smoking``) and the rule; any other content
(not TOML, not a table, wrong types, NaN, huge numbers) is refused the same way, never with
another exception.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from needleplan.domain.assessment import (
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
    Smoking,
    SunExposure,
    problems_from_validation,
)
from needleplan.exceptions import FieldProblem, QuestionnaireError

SCHEMA_VERSION = 1
DEFAULT_QUESTIONNAIRE = "intake.toml"
MAX_QUESTIONS = 200

#: Assessment fields an answer may set to one value.
SET_FIELDS = frozenset(
    {
        "goal",
        "repair_capacity",
        "smoking",
        "sun_exposure",
        "spf_habit",
        "sun_damage_history",
        "diet",
        "aftercare",
        "menopause",
    }
)
#: Assessment list fields an answer may add values to.
ADD_FIELDS = frozenset({"areas", "concerns", "conditions", "genetics"})
#: The type of each field an answer may set or add to (an enum of the assessment, or bool).
FIELD_TYPES: dict[str, Any] = {
    "goal": Goal,
    "repair_capacity": RepairCapacity,
    "smoking": Smoking,
    "sun_exposure": SunExposure,
    "spf_habit": bool,
    "sun_damage_history": bool,
    "diet": Diet,
    "aftercare": Aftercare,
    "menopause": Menopause,
    "areas": Area,
    "concerns": Concern,
    "conditions": Condition,
    "genetics": Genetic,
}

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Note = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]
StrictBool = Annotated[bool, Strict()]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)]

YES_NO = ("yes", "no")
#: The answer key of ``when`` for a text, number or date question that was answered at all.
ANSWERED = "answered"


def _field_value(field: str, value: Any) -> None:
    """``value`` checked against the assessment field's own type (ValueError naming the rule)."""
    kind = FIELD_TYPES[field]
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{field} must be true or false (got {str(value)[:40]!r})")
        return
    allowed = [m.value for m in kind]
    if value not in allowed:
        raise ValueError(
            f"{str(value)[:40]!r} is not a valid {field} (must be one of {', '.join(allowed)})"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(_Strict):
    """What one answer does to the draft assessment."""

    set: dict[str, Any] = Field(default_factory=dict)
    add: dict[str, list[Annotated[str, StringConstraints(max_length=40)]]] = Field(
        default_factory=dict
    )
    contraindications: list[Contraindication] = Field(default_factory=list)
    review: Note = ""

    @model_validator(mode="after")
    def _known(self) -> Self:
        for field, value in self.set.items():
            if field not in SET_FIELDS:
                raise ValueError(
                    f"set.{field}: not an assessment field an answer may set (one of "
                    f"{', '.join(sorted(SET_FIELDS))})"
                )
            _field_value(field, value)
        for field, values in self.add.items():
            if field not in ADD_FIELDS:
                raise ValueError(
                    f"add.{field}: not an assessment list an answer may add to (one of "
                    f"{', '.join(sorted(ADD_FIELDS))})"
                )
            for value in values:
                _field_value(field, value)
        if not (self.set or self.add or self.contraindications or self.review):
            raise ValueError("an answer's effect must set, add, flag or review something")
        return self


class Option(_Strict):
    value: Ident
    label: Text


class AskIf(_Strict):
    """Ask this question only when an earlier one got this answer."""

    question: Ident
    answer: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class Range(_Strict):
    """A number answer in ``[at_least, below)`` flags a note (and optionally contraindications)."""

    at_least: Finite | None = None
    below: Finite | None = None
    review: Text
    contraindications: list[Contraindication] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.at_least is None and self.below is None:
            raise ValueError("a range needs at_least, below or both")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError(f"at_least ({self.at_least}) must be below below ({self.below})")
        return self


QuestionType = Literal["yes_no", "choice", "number", "text", "date"]


class Question(_Strict):
    id: Ident
    section: Ident
    type: QuestionType
    text: Text
    required: StrictBool
    help: Note = ""
    options: list[Option] = Field(default_factory=list, max_length=50)
    multiple: StrictBool = False
    min: Finite | None = None
    max: Finite | None = None
    integer: StrictBool = False
    max_length: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = None
    past_only: StrictBool = False
    recent_days: Annotated[int, Strict(), Field(ge=1, le=3650)] | None = None
    recent_review: Note = ""
    ask_if: AskIf | None = None
    when: dict[Annotated[str, StringConstraints(max_length=40)], Effect] = Field(
        default_factory=dict
    )
    ranges: list[Range] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _fits_its_type(self) -> Self:
        kind = self.type
        if kind == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least 2 options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("option values must be unique")
        elif self.options or self.multiple:
            raise ValueError(f"options and multiple are for choice questions, not {kind}")
        if kind != "number" and (
            self.min is not None or self.max is not None or self.ranges or self.integer
        ):
            raise ValueError(f"min, max, integer and ranges are for number questions, not {kind}")
        if (
            kind == "number"
            and self.min is not None
            and self.max is not None
            and (self.min >= self.max)
        ):
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if kind != "text" and self.max_length is not None:
            raise ValueError(f"max_length is for text questions, not {kind}")
        if kind != "date" and (
            self.past_only or self.recent_days is not None or self.recent_review
        ):
            raise ValueError(f"past_only and recent_days are for date questions, not {kind}")
        if (self.recent_days is None) != (not self.recent_review):
            raise ValueError("recent_days and recent_review go together")
        allowed = set(self.answers)
        for key in self.when:
            if key not in allowed:
                raise ValueError(
                    f"when.{key}: not an answer of this {kind} question (one of "
                    f"{', '.join(sorted(allowed))})"
                )
        return self

    @property
    def answers(self) -> tuple[str, ...]:
        """The answer keys ``when`` may use."""
        if self.type == "yes_no":
            return YES_NO
        if self.type == "choice":
            return tuple(o.value for o in self.options)
        return (ANSWERED,)

    def label(self, value: str) -> str:
        """The text the patient saw for an answer value."""
        if self.type == "yes_no":
            return "Yes" if value == "yes" else "No"
        for option in self.options:
            if option.value == value:
                return option.label
        return value


class Section(_Strict):
    id: Ident
    title: Text


class Questionnaire(_Strict):
    """A validated questionnaire definition. Build it with :func:`load_questionnaire`."""

    schema_: Annotated[int, Strict()] = Field(alias="schema")
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,79}$")]
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    title: Text
    intro: Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)] = ""
    sections: list[Section] = Field(min_length=1, max_length=50)
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("schema_")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema {value} is not supported (expected {SCHEMA_VERSION})")
        return value

    def question(self, question_id: str) -> Question | None:
        for q in self.questions:
            if q.id == question_id:
                return q
        return None

    def in_section(self, section_id: str) -> list[Question]:
        return [q for q in self.questions if q.section == section_id]


def _key(data: Mapping[str, Any], index: int) -> str:
    """``questions[<id>]`` when the entry has a usable id, else ``questions[<index>]``."""
    questions = data.get("questions")
    entry = questions[index] if isinstance(questions, list) and index < len(questions) else None
    qid = entry.get("id") if isinstance(entry, Mapping) else None
    return (
        f"questions[{qid}]"
        if isinstance(qid, str) and qid.isidentifier()
        else f"questions[{index}]"
    )


def _named(problems: list[FieldProblem], data: Mapping[str, Any]) -> list[FieldProblem]:
    """Problems whose field starts ``questions.<n>`` renamed to the question's id."""
    out: list[FieldProblem] = []
    for p in problems:
        field = p.field if p.field.strip() else '""'  # an empty key, e.g. "" = 1 in the file
        value = None if p.rule == "Field required" else p.value  # not the table around it
        parts = field.split(".")
        if len(parts) >= 2 and parts[0] == "questions" and parts[1].isdigit():
            field = ".".join([_key(data, int(parts[1])), *parts[2:]])
        out.append(FieldProblem(field, value, p.rule))
    return out


def _cross_checks(q: Questionnaire) -> list[FieldProblem]:
    """The rules that span questions: unique ids, known sections, earlier ``ask_if`` targets,
    one question per set field, and every contraindication asked about."""
    problems: list[FieldProblem] = []
    sections = [s.id for s in q.sections]
    for i, sid in enumerate(sections):
        if sid in sections[:i]:
            problems.append(FieldProblem(f"sections[{i}].id", sid, "section ids must be unique"))
    seen: dict[str, Question] = {}
    setter: dict[str, str] = {}
    for q_ in q.questions:
        key = f"questions[{q_.id}]"
        if q_.id in seen:
            problems.append(FieldProblem(f"{key}.id", q_.id, "question ids must be unique"))
        if q_.section not in sections:
            problems.append(
                FieldProblem(f"{key}.section", q_.section, "names no section of [[sections]]")
            )
        if q_.ask_if is not None:
            target = seen.get(q_.ask_if.question)
            if target is None or target.type not in ("yes_no", "choice") or target.multiple:
                problems.append(
                    FieldProblem(
                        f"{key}.ask_if.question",
                        q_.ask_if.question,
                        "must name an earlier yes_no or single choice question",
                    )
                )
            elif q_.ask_if.answer not in target.answers:
                problems.append(
                    FieldProblem(
                        f"{key}.ask_if.answer",
                        q_.ask_if.answer,
                        f"must be an answer of {target.id} ({', '.join(target.answers)})",
                    )
                )
        for answer, effect in q_.when.items():
            for field in effect.set:
                owner = setter.setdefault(field, q_.id)
                if owner != q_.id:
                    problems.append(
                        FieldProblem(
                            f"{key}.when.{answer}.set.{field}",
                            field,
                            f"is already set by question {owner}; one question sets a field",
                        )
                    )
        seen.setdefault(q_.id, q_)
    flagged = {c for q_ in q.questions for e in q_.when.values() for c in e.contraindications}
    flagged |= {c for q_ in q.questions for r in q_.ranges for c in r.contraindications}
    missing = [c.value for c in Contraindication if c not in flagged]
    if missing:
        problems.append(
            FieldProblem(
                "questions",
                None,
                "must ask about every contraindication of the guideline; none flags "
                + ", ".join(missing),
            )
        )
    return problems


def parse_questionnaire(data: Any, *, source: str = "<questionnaire>") -> Questionnaire:
    """Validate a parsed definition (a mapping, e.g. from TOML).

    Raises
    ------
    QuestionnaireError
        naming the source, every key that breaks a rule, and the rule.
    """
    if not isinstance(data, Mapping):
        raise QuestionnaireError.one(
            "questionnaire", type(data).__name__, "must be a table", source=source
        )
    try:
        q = Questionnaire.model_validate(dict(data))
    except ValidationError as exc:
        problems = problems_from_validation(exc, fallback="questionnaire")
        raise QuestionnaireError(_named(problems, data), source=source) from None
    except (TypeError, ValueError, RecursionError, OverflowError) as exc:  # pragma: no cover
        raise QuestionnaireError.one(
            "questionnaire", None, f"cannot be read ({type(exc).__name__})", source=source
        ) from None
    problems = _cross_checks(q)
    if problems:
        raise QuestionnaireError(problems, source=source)
    return q


def parse_questionnaire_text(text: str, *, source: str = "<questionnaire>") -> Questionnaire:
    """Parse TOML text and validate it (:func:`parse_questionnaire`)."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        raise QuestionnaireError(
            FieldProblem("toml", "", f"not valid TOML: {exc}"), source=source
        ) from None
    return parse_questionnaire(data, source=source)


def load_questionnaire(path: str | Path | None = None) -> Questionnaire:
    """Load and validate a questionnaire file; ``None`` loads the shipped one (cached).

    Raises
    ------
    QuestionnaireError
        naming the file, the key and the rule.
    """
    if path is None:
        return _default()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuestionnaireError.one("questionnaire", str(file), "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionnaireError.one(
            "questionnaire", str(file), f"cannot be read ({exc})"
        ) from None
    return parse_questionnaire_text(text, source=str(file))


@functools.cache
def _default() -> Questionnaire:
    text = resources.files("needleplan.guideline").joinpath(DEFAULT_QUESTIONNAIRE).read_text()
    return parse_questionnaire_text(text, source=f"<needleplan>/{DEFAULT_QUESTIONNAIRE}")


__all__ = [
    "ADD_FIELDS",
    "ANSWERED",
    "SET_FIELDS",
    "Effect",
    "Question",
    "Questionnaire",
    "Range",
    "load_questionnaire",
    "parse_questionnaire",
    "parse_questionnaire_text",
]

"""From a patient's intake answers to a draft assessment with its flags.

:func:`parse_answers` checks a submission against a :class:`~needleplan.guideline.intake.
Questionnaire` (unknown questions, missing required answers, values outside a question's rules
are refused with an :class:`~needleplan.exceptions.InputError` naming the question) and returns
the typed answers. :func:`draft_from_answers` applies what each answer does: the proposed
assessment values, the contraindications flagged (with the guideline's kind, absolute or
relative, and its reason) and notes for review. A draft is a proposal for the practitioner: it is
never an assessment until she confirms it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from needleplan.domain.assessment import Contraindication
from needleplan.domain.language import N_
from needleplan.exceptions import FieldProblem, InputError
from needleplan.guideline.intake import ANSWERED, Effect, Question, Questionnaire
from needleplan.guideline.schema import Guideline, load_guideline

#: The longest text answer when the question sets no ``max_length``.
TEXT_MAX = 2000
FLAG_ORDER = {"absolute": 0, "relative": 1, "review": 2}

#: A typed answer as stored: bool (yes_no), str (choice, text, ISO date), list of str (multiple
#: choice), int or float (number).
Answer = bool | str | list[str] | int | float


@dataclass(frozen=True)
class IntakeFlag:
    """Something the practitioner must look at: a contraindication or a note."""

    kind: str  # "absolute" | "relative" (a contraindication) | "review" (a note)
    code: str  # the contraindication's name, or "review"
    question: str  # the question whose answer raised it
    text: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "code": self.code, "question": self.question, "text": self.text}


@dataclass(frozen=True)
class IntakeDraft:
    """The proposed assessment values (JSON field names) and the flags, for review."""

    values: dict[str, Any]
    flags: list[IntakeFlag] = field(default_factory=list)

    @property
    def contraindications(self) -> list[str]:
        return list(self.values.get("contraindications", []))

    def to_json(self) -> dict[str, Any]:
        return {"values": self.values, "flags": [f.to_json() for f in self.flags]}


def _shown(q: Question, answers: Mapping[str, Answer]) -> bool:
    if q.ask_if is None:
        return True
    given = answers.get(q.ask_if.question)
    if isinstance(given, bool):
        given = "yes" if given else "no"
    return given == q.ask_if.answer


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list)) and not value) or value == [""]


def _one(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(N_("must be one answer, not a list"))
        return value[0]
    return value


def _parse_yes_no(value: Any) -> bool:
    value = _one(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return value.strip().lower() == "yes"
    raise ValueError(N_("must be yes or no"))


def _parse_choice(q: Question, value: Any) -> str | list[str]:
    allowed = [o.value for o in q.options]
    rule = "must be one of " + ", ".join(allowed)
    if q.multiple:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise ValueError(rule)
        chosen = [v.strip() for v in items if v.strip()]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            raise ValueError(f"{rule} (not {bad[0][:40]!r})")
        if len(set(chosen)) != len(chosen):
            raise ValueError("lists an answer more than once")
        return [v for v in allowed if v in chosen]  # the definition's order
    single = _one(value)
    if not isinstance(single, str) or single.strip() not in allowed:
        raise ValueError(rule)
    return single.strip()


def _parse_number(q: Question, value: Any) -> int | float:
    value = _one(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(N_("must be a number"))
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if len(text) > 30:
            raise ValueError(N_("must be a number"))
        try:
            number = float(text)
        except ValueError:
            raise ValueError(N_("must be a number")) from None
    else:
        number = float(value)
    if not math.isfinite(number):
        raise ValueError(N_("must be a finite number"))
    if q.min is not None and number < q.min:
        raise ValueError(f"must be at least {q.min:g}")
    if q.max is not None and number > q.max:
        raise ValueError(f"must be at most {q.max:g}")
    if q.integer:
        if not number.is_integer():
            raise ValueError(N_("must be a whole number"))
        return int(number)
    return int(number) if number.is_integer() else number


def _parse_text(q: Question, value: Any) -> str:
    value = _one(value)
    if not isinstance(value, str):
        raise ValueError(N_("must be text"))
    text = value.replace("\r\n", "\n").strip()
    limit = q.max_length or TEXT_MAX
    if len(text) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in text) or "\x7f" in text:
        raise ValueError(N_("must not contain control characters"))
    return text


def _parse_date(q: Question, value: Any, today: date) -> str:
    value = _one(value)
    if not isinstance(value, str) or len(value.strip()) != 10:
        raise ValueError(N_("must be a date as YYYY-MM-DD"))
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(N_("must be a date as YYYY-MM-DD")) from None
    if day.year < 1900:
        raise ValueError(N_("must not be before 1900"))
    if q.past_only and day > today:
        raise ValueError(N_("must not be in the future"))
    return day.isoformat()


def _parse_one(q: Question, value: Any, today: date) -> Answer:
    if q.type == "yes_no":
        return _parse_yes_no(value)
    if q.type == "choice":
        return _parse_choice(q, value)
    if q.type == "number":
        return _parse_number(q, value)
    if q.type == "date":
        return _parse_date(q, value, today)
    return _parse_text(q, value)


def parse_answers(
    questionnaire: Questionnaire, raw: Mapping[str, Any], *, today: date
) -> dict[str, Answer]:
    """The typed answers of a submission (question id -> answer), in the definition's order.

    ``raw`` maps question ids to what was submitted: strings (a web form), lists of strings
    (ticked boxes), or JSON values. Empty answers count as not given. Answers to a question
    whose ``ask_if`` is not met are left out.

    Raises
    ------
    InputError
        naming every question whose answer breaks a rule: an unknown question, a required one
        left empty, a value outside the question's options or bounds.
    """
    if not isinstance(raw, Mapping):
        raise InputError.one("answers", type(raw).__name__, "must be an object of answers")
    problems: list[FieldProblem] = []
    known = {q.id for q in questionnaire.questions}
    for key in raw:
        if key not in known:
            problems.append(
                FieldProblem(
                    str(key)[:60],
                    None,
                    f"is not a question of questionnaire {questionnaire.version}",
                )
            )
    answers: dict[str, Answer] = {}
    for q in questionnaire.questions:
        if not _shown(q, answers):
            continue
        value = raw.get(q.id)
        if _empty(value):
            if q.required:
                problems.append(FieldProblem(q.id, None, N_("is required")))
            continue
        try:
            answers[q.id] = _parse_one(q, value, today)
        except ValueError as exc:
            shown = value if isinstance(value, (str, int, float)) else None
            if isinstance(shown, str):
                shown = shown[:60]
            problems.append(FieldProblem(q.id, shown, str(exc)))
            continue
        if q.type == "choice" and q.multiple and not answers[q.id] and q.required:
            problems.append(FieldProblem(q.id, None, N_("is required")))
    if problems:
        raise InputError(problems)
    return answers


def _guideline_flag(guideline: Guideline, c: Contraindication, question: str) -> IntakeFlag:
    rule = guideline.contraindications[c]
    return IntakeFlag(rule.kind, c.value, question, rule.reason)


def _apply(
    effect: Effect, question: str, values: dict[str, Any], flags: list[IntakeFlag], g: Guideline
) -> None:
    for name, value in effect.set.items():
        values[name] = value
    for name, items in effect.add.items():
        current: list[str] = values.setdefault(name, [])
        current.extend(v for v in items if v not in current)
    for c in effect.contraindications:
        listed: list[str] = values.setdefault("contraindications", [])
        if c.value not in listed:
            listed.append(c.value)
        flags.append(_guideline_flag(g, c, question))
    if effect.review:
        flags.append(IntakeFlag("review", "review", question, effect.review))


def draft_from_answers(
    questionnaire: Questionnaire,
    answers: Mapping[str, Answer],
    *,
    today: date,
    guideline: Guideline | None = None,
) -> IntakeDraft:
    """What the answers propose: assessment values (never severity, age or the practitioner's
    judgements: those are hers to set) and the flags to review, contraindications first."""
    g = guideline or load_guideline()
    values: dict[str, Any] = {}
    flags: list[IntakeFlag] = []
    for q in questionnaire.questions:
        if q.id not in answers:
            continue
        answer = answers[q.id]
        keys: list[str]
        if q.type == "yes_no":
            keys = ["yes" if answer else "no"]
        elif q.type == "choice":
            keys = list(answer) if isinstance(answer, list) else [str(answer)]
        else:
            keys = [ANSWERED] if not _empty(answer) else []
        for key in keys:
            effect = q.when.get(key)
            if effect is not None:
                _apply(effect, q.id, values, flags, g)
        if q.type == "number" and isinstance(answer, (int, float)):
            for r in q.ranges:
                if (r.at_least is None or answer >= r.at_least) and (
                    r.below is None or answer < r.below
                ):
                    _apply(
                        Effect(contraindications=r.contraindications, review=r.review),
                        q.id,
                        values,
                        flags,
                        g,
                    )
        if (
            q.type == "date"
            and q.recent_days is not None
            and isinstance(answer, str)
            and (today - date.fromisoformat(answer)).days <= q.recent_days
        ):
            flags.append(IntakeFlag("review", "review", q.id, q.recent_review))
    flags.sort(key=lambda f: FLAG_ORDER.get(f.kind, 3))
    return IntakeDraft(values, flags)


def answer_text(q: Question, answer: Answer) -> str:
    """An answer as the patient gave it, in words (option labels, Yes/No)."""
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    if isinstance(answer, list):
        return ", ".join(q.label(v) for v in answer) or "none"
    if q.type == "choice":
        return q.label(str(answer))
    return str(answer)


def answer_items(
    questionnaire: Questionnaire, answers: Mapping[str, Answer]
) -> list[dict[str, Any]]:
    """The questions answered, with their text and the answer in words (a snapshot kept with
    the stored answers, so a later definition cannot change what she was asked)."""
    return [
        {
            "id": q.id,
            "text": q.text,
            "answer": answers[q.id],
            "shown": answer_text(q, answers[q.id]),
        }
        for q in questionnaire.questions
        if q.id in answers
    ]


__all__ = [
    "Answer",
    "IntakeDraft",
    "IntakeFlag",
    "answer_items",
    "answer_text",
    "draft_from_answers",
    "parse_answers",
]

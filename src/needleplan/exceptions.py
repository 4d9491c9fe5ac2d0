"""Errors raised by needleplan.

Every error the product raises on purpose derives from :class:`NeedleplanError`::

    NeedleplanError
    ├── InputError              bad input: names the field, the value and the rule
    │   └── GuidelineError      a guideline file that fails its schema (adds the file)
    │   └── ConfigError         a clinic configuration file that fails its schema
    │   └── QuestionnaireError  an intake questionnaire file that fails its schema
    ├── BlockedError            a plan blocked by an absolute contraindication
    ├── ModelRangeError         a forecast asked outside the model's validated range
    ├── SchedulingError         no feasible date for a session (names the session and why)
    ├── ConflictError           a booking collides with another (double booking)
    │   └── DuplicatePatientError   a new patient likely already has a record (names it)
    ├── NotFoundError           a record that does not exist
    ├── StateError              an illegal state transition (e.g. completed -> active)
    │   └── ConsentRequiredError    no signed consent in force (names the patient and kind)
    └── PermissionDeniedError   the user's role does not allow the action

The CLI maps them to exit codes (see ``docs/cli.md``); the web API maps them to HTTP status
codes with one JSON error shape ``{"errors": [{"field", "value", "rule"}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field."""

    field: str
    value: Any
    rule: str

    def __str__(self) -> str:
        if self.value is None or self.value == "":  # nothing was given: say only the rule
            return f"{self.field}: {self.rule}"
        return f"{self.field}: {self.rule} (got {self.value!r})"


class NeedleplanError(Exception):
    """Root of every error needleplan raises on purpose."""


class InputError(NeedleplanError, ValueError):
    """Input that breaks a rule. Carries one or more :class:`FieldProblem`."""

    def __init__(self, problems: list[FieldProblem] | FieldProblem, *, source: str = "") -> None:
        self.problems = [problems] if isinstance(problems, FieldProblem) else list(problems)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        self.source = source
        super().__init__(self.message)

    @classmethod
    def one(cls, field: str, value: Any, rule: str, *, source: str = "") -> InputError:
        return cls(FieldProblem(field, value, rule), source=source)

    @property
    def message(self) -> str:
        text = "; ".join(str(p) for p in self.problems)
        return f"{self.source}: {text}" if self.source else text


class GuidelineError(InputError):
    """A guideline file that cannot be loaded or fails its schema."""


class ConfigError(InputError):
    """A clinic configuration file that cannot be loaded or fails its schema."""


class QuestionnaireError(InputError):
    """An intake questionnaire definition that cannot be loaded or fails its schema."""


class BlockedError(NeedleplanError):
    """A plan blocked by an absolute contraindication."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("plan blocked: " + "; ".join(reasons))


class ModelRangeError(NeedleplanError, ValueError):
    """A forecast requested outside the model's validated range."""


class SchedulingError(NeedleplanError):
    """No feasible slot for a session."""


class ConflictError(NeedleplanError):
    """A booking that collides with an existing one."""


class DuplicatePatientError(ConflictError):
    """A patient being registered likely already has a record: ``matches`` holds
    ``(patient id, record number, what matched)`` for each, oldest first."""

    def __init__(self, matches: list[tuple[int, str, str]]) -> None:
        self.matches = matches
        first_id, first_mrn, why = matches[0]
        more = f" (and {len(matches) - 1} more)" if len(matches) > 1 else ""
        super().__init__(
            f"likely a duplicate of patient {first_id} (record {first_mrn}): same {why}{more}; "
            "confirm to register anyway"
        )


class NotFoundError(NeedleplanError, LookupError):
    """A record that does not exist."""


class StateError(NeedleplanError):
    """An illegal state transition."""


class ConsentRequiredError(StateError):
    """The patient has no signed consent of ``kind`` in force (never signed, or withdrawn):
    the message says which; a caller can offer the signing screen for ``patient_id``."""

    def __init__(self, message: str, *, patient_id: int, kind: str) -> None:
        super().__init__(message)
        self.patient_id = patient_id
        self.kind = kind


class PermissionDeniedError(NeedleplanError):
    """The acting user's role does not allow the action."""

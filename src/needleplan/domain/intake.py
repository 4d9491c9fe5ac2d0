"""Intake questionnaire records as values: a stored response and a kiosk lock.

The questionnaire's definition and what answers propose live in the guideline package
(:mod:`needleplan.guideline.intake`, :mod:`needleplan.guideline.intake_draft`); storing,
reviewing and confirming them is :mod:`needleplan.services.intake`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IntakeStatus(StrEnum):
    """A response is a draft until a practitioner confirms it (draft -> confirmed)."""

    DRAFT = "draft"
    CONFIRMED = "confirmed"


class IntakeChannel(StrEnum):
    """Where the patient filled the form."""

    KIOSK = "kiosk"
    PORTAL = "portal"


@dataclass(frozen=True)
class IntakeResponse:
    """A patient's intake answers, kept exactly as submitted, with what they propose.

    ``answers`` is the submission as received; ``draft`` holds ``answers_typed``, ``items`` (the
    questions she saw and her answers in words), ``values`` (the proposed assessment) and
    ``flags`` (contraindications and notes for review).
    """

    id: int
    patient_id: int
    questionnaire_id: str
    questionnaire_version: str
    answers: dict[str, Any]
    draft: dict[str, Any]
    channel: IntakeChannel
    submitted_at: datetime
    submitted_by: str
    status: IntakeStatus
    reviewed_at: datetime | None
    reviewed_by: str | None
    assessment_id: int | None

    @property
    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = self.draft.get("values", {})
        return values

    @property
    def flags(self) -> list[dict[str, str]]:
        flags: list[dict[str, str]] = self.draft.get("flags", [])
        return flags

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.draft.get("items", [])
        return items


@dataclass(frozen=True)
class KioskLock:
    """A staff browser session locked to one patient's intake form."""

    patient_id: int
    started_by: str
    started_at: datetime
    response_id: int | None

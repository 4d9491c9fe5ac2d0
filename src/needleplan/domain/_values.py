"""The building blocks every domain record shares: timezone-aware datetimes, clean text and the
frozen, extra-forbidding base model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("must be timezone-aware (add an offset such as +00:00)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


def _clean_text(value: str) -> str:
    stripped = value.strip()
    if any(ord(ch) < 32 and ch not in "\t" for ch in stripped):
        raise ValueError("must not contain control characters")
    return stripped


CleanStr = Annotated[str, AfterValidator(_clean_text)]


def _clean_multiline(value: str) -> str:
    stripped = value.strip()
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped):
        raise ValueError("must not contain control characters")
    return stripped


CleanText = Annotated[str, AfterValidator(_clean_multiline)]


class _Record(BaseModel):
    """A validated, immutable record value (unknown fields refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

"""The building blocks every domain record shares: timezone-aware datetimes, clean text and the
frozen, extra-forbidding base model."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("must be timezone-aware (add an offset such as +00:00)")
    return value


def _not_a_number(value: Any) -> Any:
    """Dates and times are written as text: a number (read as seconds since 1970) is refused."""
    if isinstance(value, int | float):  # bool is an int
        raise ValueError("must be written as a date (2030-09-02) or date-time text, not a number")
    return value


AwareDatetime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_aware)]
#: A calendar date written as ISO text (or a date), never a number.
IsoDate = Annotated[date, BeforeValidator(_not_a_number)]


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

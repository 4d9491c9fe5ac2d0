"""Time and calendar helpers shared by the services (one copy of each)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import TypeVar

from needleplan.exceptions import (
    InputError,
)

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None, field_name: str) -> datetime:
    if value is None:
        return utc_now()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError.one(field_name, value.isoformat(), "must be timezone-aware")
    return value


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

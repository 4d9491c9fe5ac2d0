"""Time and calendar helpers shared by the services (one copy of each).

The clock is :func:`utc_now`. Outside production (``NEEDLEPLAN_ENVIRONMENT`` is not
``production``) it honours ``NEEDLEPLAN_NOW``, an ISO 8601 date-time with its offset (such as
``2031-03-03T09:00+01:00``), so a demo or a test can run the clinic "on" a given moment through the
real entry points; in production the variable is ignored and the real clock is used.
"""

from __future__ import annotations

import calendar
import os
from datetime import UTC, date, datetime
from typing import TypeVar

from needleplan.exceptions import (
    InputError,
)

T = TypeVar("T")


#: The environment variable that sets the clock outside production.
NOW_VARIABLE = "NEEDLEPLAN_NOW"


def utc_now() -> datetime:
    """Now, timezone-aware in UTC (``NEEDLEPLAN_NOW`` outside production; see the module)."""
    fixed = os.environ.get(NOW_VARIABLE, "").strip()
    if fixed and os.environ.get("NEEDLEPLAN_ENVIRONMENT", "").strip().lower() != "production":
        return _parse_now(fixed)
    return datetime.now(UTC)


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError.one(
            NOW_VARIABLE, text[:40], "must be an ISO 8601 date-time such as 2031-03-03T09:00+01:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError.one(
            NOW_VARIABLE, text[:40], "must state its offset from UTC, such as +01:00 or Z"
        )
    return value.astimezone(UTC)


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

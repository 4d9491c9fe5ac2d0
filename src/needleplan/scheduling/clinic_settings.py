"""The clinic calendar's settings blocks: holidays, prices, visit lengths, patient messages and
online booking (each a ``[section]`` of the clinic TOML, docs/scheduling.md), and the time-of-day
parsing they share with :mod:`needleplan.scheduling.clinic`."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def minutes_of_day(hours: str, minutes: str, *, allow_24: bool) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not allow_24)):
        raise ValueError(f"{hours}:{minutes} is not a time of day")
    return h * 60 + m


def parse_time(value: Any) -> Any:
    if isinstance(value, str):
        match = _TIME.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a time like '10:00'")
        minutes = minutes_of_day(*match.groups(), allow_24=False)
        return time(minutes // 60, minutes % 60)
    return value


class HolidaySource(BaseModel):
    """Public holidays from the ``holidays`` package (ISO 3166 country and subdivision codes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(min_length=2, max_length=3)
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self) -> Self:
        import holidays  # deferred: importing it takes about 0.4 s

        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"country {self.country!r} is not supported by the holidays package")
        subdivisions = supported[self.country]
        if self.subdivision is not None and self.subdivision not in subdivisions:
            raise ValueError(
                f"subdivision {self.subdivision!r} is not one of {self.country}'s: "
                + ", ".join(subdivisions)
            )
        return self


class Prices(BaseModel):
    """Session prices, read by the forecast helper's cost code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_session: float = Field(gt=0, description="price of one initial-series session")
    maintenance_session: float = Field(gt=0, description="price of one maintenance session")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")


#: How long a visit of each kind lasts when the calendar does not say [minutes].
DEFAULT_SHORT_VISIT_MINUTES = 30


class VisitMinutes(BaseModel):
    """Length of one visit by kind [minutes], before rounding up to the slot grid.

    Find-a-slot and single-visit booking use it. A treatment ``session`` or ``maintenance``
    visit the calendar does not size takes ``session_minutes.default``; a course's sessions
    booked from a protocol are sized by their treated areas (``session_minutes``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    consultation: int = Field(default=DEFAULT_SHORT_VISIT_MINUTES, ge=5, le=8 * 60)
    session: int = Field(default=60, ge=5, le=8 * 60)
    maintenance: int = Field(default=60, ge=5, le=8 * 60)
    review: int = Field(default=DEFAULT_SHORT_VISIT_MINUTES, ge=5, le=8 * 60)


TimeOfDay = Annotated[time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]


class MessageSettings(BaseModel):
    """When patient messages go out (docs/messages.md): reminders, quiet hours, recall nudges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reminder_hours: int = Field(
        default=48, ge=1, le=24 * 14, description="remind this long before a visit [hours]"
    )
    quiet_start: Annotated[TimeOfDay, Field(description="no messages from this local time")] = time(
        21, 0
    )
    quiet_end: Annotated[TimeOfDay, Field(description="until this local time")] = time(8, 0)
    recall_nudge_days: int = Field(
        default=14, ge=1, le=365, description="second recall message after this long [days]"
    )
    survey_weeks: int = Field(
        default=6, ge=1, le=52, description="follow-up survey this long after a session [weeks]"
    )

    @field_validator("quiet_start", "quiet_end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return parse_time(value)


class OnlineBookingSettings(BaseModel):
    """The public booking page (docs/online-booking.md): whether it is open, how long a chosen
    slot is held for her confirmation, how far ahead it offers slots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="the public booking page /book is open")
    hold_minutes: int = Field(
        default=30,
        ge=5,
        le=24 * 60,
        description="a chosen slot is held this long for her e-mail confirmation [minutes]",
    )
    days_ahead: int = Field(
        default=21, ge=1, le=92, description="the page offers slots this far ahead [days]"
    )
    course_start: bool = Field(
        default=False,
        description="a patient with a confirmed plan may book her course start through her "
        "portal link (the whole course dated and booked as staff book it)",
    )

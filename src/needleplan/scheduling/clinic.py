"""The clinic configuration: time zone, opening hours, holidays, closures, practitioners.

A clinic describes itself in a TOML file (format documented in ``docs/scheduling.md``; a
complete example ships as ``needleplan/scheduling/example_clinic.toml``). :func:`load_clinic`
reads and validates it; any problem raises :class:`~needleplan.exceptions.ConfigError` naming
the file, the key and the rule. The model is pure data: the calendar logic that uses it lives in
:mod:`needleplan.scheduling.calendar`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from needleplan.domain.assessment import Area, problems_from_validation
from needleplan.domain.language import SHIPPED_LANGUAGES, check_language
from needleplan.exceptions import ConfigError, InputError
from needleplan.scheduling.clinic_settings import (
    DEFAULT_SHORT_VISIT_MINUTES as DEFAULT_SHORT_VISIT_MINUTES,
)
from needleplan.scheduling.clinic_settings import HolidaySource as HolidaySource
from needleplan.scheduling.clinic_settings import MessageSettings as MessageSettings
from needleplan.scheduling.clinic_settings import OnlineBookingSettings as OnlineBookingSettings
from needleplan.scheduling.clinic_settings import Prices as Prices
from needleplan.scheduling.clinic_settings import TimeOfDay as TimeOfDay
from needleplan.scheduling.clinic_settings import VisitMinutes as VisitMinutes
from needleplan.scheduling.clinic_settings import minutes_of_day, parse_time

EXAMPLE_CLINIC = "example_clinic.toml"

#: Default recall threshold: improvement [% of pre-treatment firmness] below which the
#: improvement is no longer noticeable: the forecast model's "noticeable" level, derived from
#: the observation model (``forecasting.observation.shipped_noticeable_threshold``; a test keeps
#: them equal). A clinic's ``recall_threshold`` setting overrides it.
DEFAULT_RECALL_THRESHOLD = 4.6


@cache
def iana_zones() -> frozenset[str]:
    """The IANA time zone names this system's tz database holds, read once per process (listing
    them walks the whole database: about 17 ms, which every parse of a clinic file paid)."""
    return frozenset(available_timezones())


class Weekday(StrEnum):
    """Days of the week, in ``datetime.date.weekday()`` order (Monday = 0)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return _WEEKDAYS[day.weekday()]


_WEEKDAYS = tuple(Weekday)  # Weekday.of without listing the enum per call (a scheduler's hot path)


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class TimeSpan(BaseModel):
    """A span of local wall-clock time within one day, ``[start, end)`` in minutes after midnight.

    Written in TOML as ``"09:00-18:00"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=0, le=24 * 60, description="start [minutes after midnight]")
    end: int = Field(ge=0, le=24 * 60, description="end [minutes after midnight]")

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _SPAN.match(value)
            if match is None:
                raise ValueError(f"{value!r} is not a span like '09:00-18:00'")
            a, b, c, d = match.groups()
            return {
                "start": minutes_of_day(a, b, allow_24=False),
                "end": minutes_of_day(c, d, allow_24=True),
            }
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"span {self} ends before it starts")
        return self

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


WeekHours = dict[Weekday, list[TimeSpan]]


def _check_week(hours: WeekHours) -> WeekHours:
    for day, spans in hours.items():
        ordered = sorted(spans, key=lambda s: s.start)
        for before, after in pairwise(ordered):
            if after.start < before.end:
                raise ValueError(f"{day.value}: spans {before} and {after} overlap")
        hours[day] = ordered
    return hours


class Closure(BaseModel):
    """A period the whole clinic is closed, both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date | None = None
    reason: str = "closed"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"closure ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def last(self) -> date:
        return self.end if self.end is not None else self.start

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.last


class Practitioner(BaseModel):
    """Someone who treats patients: working hours (within the clinic's) and days off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    hours: WeekHours | None = Field(
        default=None, description="working hours by weekday; absent = the clinic's opening hours"
    )
    days_off: list[Closure] = Field(default_factory=list)

    @field_validator("days_off", mode="before")
    @classmethod
    def _dates_as_closures(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"start": v, "reason": "day off"} if isinstance(v, date) else v for v in value]
        return value

    @field_validator("hours")
    @classmethod
    def _week(cls, value: WeekHours | None) -> WeekHours | None:
        return None if value is None else _check_week(value)

    def day_off(self, day: date) -> Closure | None:
        for off in self.days_off:
            if off.covers(day):
                return off
        return None


_PHONE = re.compile(r"^\+?[0-9 ()/.-]{5,40}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_WEBSITE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s<>\"']*)?$")
#: A stored logo: the SHA-256 of its bytes and its type (see ``services/clinic_identity``).
LOGO_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg)$")


def _one_line(value: str, field: str) -> str:
    clean = value.strip()
    if clean and not clean.isprintable():
        raise ValueError(f"the {field} must be one line of printable text")
    return clean


class ClinicConfig(BaseModel):
    """One clinic's calendar and scheduling settings (validated; see ``docs/scheduling.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    location: str = Field(default="", max_length=300, description="address shown in calendars")
    phone: str = Field(default="", max_length=40, description="the clinic's public phone number")
    email: str = Field(default="", max_length=200, description="the clinic's public e-mail address")
    website: str = Field(
        default="", max_length=200, description="the clinic's website (http/https)"
    )
    logo: str = Field(default="", description="a stored logo (SHA-256 hex + .png/.jpg), or empty")
    opening_hours: WeekHours = Field(description="opening hours by weekday; absent day = closed")
    holidays: HolidaySource | None = None
    closures: list[Closure] = Field(default_factory=list)
    practitioners: list[Practitioner] = Field(min_length=1)
    session_minutes: dict[str, int] = Field(
        default_factory=lambda: {"default": 60},
        description="session length [minutes] by treated area, plus 'default'",
    )
    visit_minutes: VisitMinutes = Field(
        default_factory=VisitMinutes,
        description="visit length [minutes] by kind; session and maintenance default to "
        "session_minutes.default",
    )
    slot_minutes: int = Field(default=15, ge=5, le=240, description="start-time grid [minutes]")
    preferred_start: Annotated[TimeOfDay, Field(description="preferred local start time")] = time(
        10, 0
    )
    first_session_search_days: int = Field(
        default=14, ge=0, le=366, description="how far after the requested start to look [days]"
    )
    recall_threshold: float = Field(
        default=DEFAULT_RECALL_THRESHOLD,
        gt=0,
        lt=100,
        description="recall when the forecast improvement falls to this [% of pre-treatment]",
    )
    prices: Prices | None = None
    check_in_window_minutes: int = Field(
        default=30,
        ge=0,
        le=240,
        description="how long before its start a visit may be checked in and charted [minutes]",
    )
    cancellation_notice_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 14,
        description="a cancellation later than this before the start is late [hours]",
    )
    messages: MessageSettings = Field(default_factory=MessageSettings)
    online_booking: OnlineBookingSettings = Field(default_factory=OnlineBookingSettings)
    # Where the estimator finds a logo that is not uploaded through the settings form (the
    # identity itself, phone, e-mail, website, logo, is above).
    logo_url: str = Field(
        default="",
        max_length=300,
        description="its logo: a path on this site, e.g. /media/logo.png",
    )
    # Languages (docs/languages.md): patient-facing text is in one of these.
    default_language: str = Field(default="en", description="language of patient-facing text")
    languages: list[str] = Field(
        default_factory=lambda: list(SHIPPED_LANGUAGES),
        min_length=1,
        description="languages its public pages offer (the default among them)",
    )

    @field_validator("logo_url")
    @classmethod
    def _logo_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"/[A-Za-z0-9._~/-]+\.(png|jpe?g|svg|webp|gif)", value):
            raise ValueError(
                f"{value!r} is not a path on this site to an image "
                "(e.g. /media/logo.png; the page may show images from its own site only)"
            )
        if ".." in value or "//" in value:
            raise ValueError(f"{value!r} must not contain '..' or '//'")
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        return check_language(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        codes = [check_language(v) for v in value]
        if len(set(codes)) != len(codes):
            raise ValueError("each language may be listed once")
        return codes

    @model_validator(mode="after")
    def _default_offered(self) -> Self:
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language {self.default_language!r} must be one of languages "
                f"({', '.join(self.languages)})"
            )
        return self

    lead_retention_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="contact requests are deleted this long after they arrive [days]",
    )

    @field_validator("preferred_start", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return parse_time(value)

    @model_validator(mode="before")
    @classmethod
    def _visit_defaults(cls, data: Any) -> Any:
        """Treatment and maintenance visits the calendar does not size last
        ``session_minutes.default`` (as before visit lengths could be set)."""
        if not isinstance(data, Mapping):
            return data
        visits = data.get("visit_minutes", {})
        minutes = data.get("session_minutes", {})
        default = minutes.get("default", 60) if isinstance(minutes, Mapping) else 60
        if isinstance(visits, Mapping) and isinstance(default, int):
            filled = {"session": default, "maintenance": default, **visits}
            return {**data, "visit_minutes": filled}
        return data

    @field_validator("name")
    @classmethod
    def _line(cls, value: str, info: ValidationInfo) -> str:
        return _one_line(value, str(info.field_name))

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        clean = _one_line(value, "phone")
        if clean and not _PHONE.match(clean):
            raise ValueError("a phone number is digits, spaces, + ( ) / . - (5-40 characters)")
        return clean

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        clean = _one_line(value, "email")
        if clean and not _EMAIL.match(clean):
            raise ValueError("an e-mail address looks like desk@example-clinic.com")
        return clean

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        clean = _one_line(value, "website")
        if clean and not _WEBSITE.match(clean):
            raise ValueError("a website starts with https:// (or http://) and has no spaces")
        return clean

    @field_validator("logo")
    @classmethod
    def _logo(cls, value: str) -> str:
        clean = value.strip()
        if clean and not LOGO_NAME.match(clean):
            raise ValueError("a logo is a stored image's name (64 hex digits and .png or .jpg)")
        return clean

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in iana_zones():
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - defensive
            raise ValueError(f"{value!r} cannot be loaded: {exc}") from None
        return value

    @field_validator("opening_hours")
    @classmethod
    def _week(cls, value: WeekHours) -> WeekHours:
        if not any(value.values()):
            raise ValueError("the clinic must be open on at least one day")
        return _check_week(value)

    @field_validator("session_minutes")
    @classmethod
    def _durations(cls, value: dict[str, int]) -> dict[str, int]:
        known = {a.value for a in Area} | {"default"}
        for key, minutes in value.items():
            if key not in known:
                raise ValueError(f"{key!r} is not an area ({', '.join(sorted(known))})")
            if not 5 <= minutes <= 8 * 60:
                raise ValueError(f"{key}: {minutes} minutes is outside 5-480")
        if "default" not in value:
            value = {**value, "default": 60}
        return value

    @model_validator(mode="after")
    def _practitioners(self) -> Self:
        names = [p.name for p in self.practitioners]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"practitioner names must be unique: {', '.join(duplicates)}")
        return self

    # -- derived ---------------------------------------------------------------------------
    @cached_property
    def tz(self) -> ZoneInfo:
        """The clinic's time zone."""
        return ZoneInfo(self.timezone)

    @cached_property
    def _holiday_calendar(self) -> Any:
        if self.holidays is None:
            return None
        import holidays

        return holidays.country_holidays(
            self.holidays.country, subdiv=self.holidays.subdivision, language="en_US"
        )

    def holiday(self, day: date) -> str | None:
        """The public holiday's name on ``day``, or None."""
        calendar = self._holiday_calendar
        if calendar is None:
            return None
        name = calendar.get(day)
        return None if name is None else str(name)

    def closure(self, day: date) -> Closure | None:
        for closure in self.closures:
            if closure.covers(day):
                return closure
        return None

    def practitioner(self, name: str) -> Practitioner:
        """The practitioner called ``name``; raises InputError when there is none."""
        for p in self.practitioners:
            if p.name == name:
                return p
        raise InputError.one(
            "practitioner",
            name,
            "must be one of the clinic's practitioners: "
            + ", ".join(p.name for p in self.practitioners),
        )

    def session_duration_minutes(self, areas: list[Area] | list[str]) -> int:
        """Length of one session treating ``areas`` [minutes]: the sum of each area's minutes.

        Areas the config does not list use ``session_minutes.default``. The total is rounded up
        to the slot grid.
        """
        total = sum(
            self.session_minutes.get(str(a), self.session_minutes["default"]) for a in areas
        )
        total = total or self.session_minutes["default"]
        return -(-total // self.slot_minutes) * self.slot_minutes


def parse_clinic(data: Mapping[str, Any], *, source: str = "clinic config") -> ClinicConfig:
    """Validate a mapping (parsed TOML) into a :class:`ClinicConfig`.

    Raises
    ------
    ConfigError
        naming the source, each failing key (dotted path) and the rule it breaks.
    """
    try:
        return ClinicConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, fallback="clinic"), source=source) from None


def load_clinic(path: str | Path | None = None) -> ClinicConfig:
    """Load and validate a clinic TOML file; ``None`` loads the bundled example clinic.

    Raises
    ------
    ConfigError
        when the file is missing, is not valid TOML, or breaks the schema (file, key, rule).
    """
    if path is None:
        text = resources.files("needleplan.scheduling").joinpath(EXAMPLE_CLINIC).read_text("utf-8")
        source = f"<bundled {EXAMPLE_CLINIC}>"
    else:
        file = Path(path)
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError.one(
                "file", str(file), f"cannot be read ({exc.strerror or exc})", source=source
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.one("toml", None, f"is not valid TOML: {exc}", source=source) from None
    return parse_clinic(data, source=source)


def example_clinic() -> ClinicConfig:
    """The bundled example clinic (Berlin, two practitioners), used when none is given."""
    return load_clinic(None)

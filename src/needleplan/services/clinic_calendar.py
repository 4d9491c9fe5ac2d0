"""The clinic calendar as saved versions in the database: save, check, revert, and what is in force.

The clinic calendar (opening hours, holidays, closures, practitioners, session lengths, prices;
format in ``docs/scheduling.md``) used to live only in a TOML file. Admins now save it in the
app (or with ``needleplan clinic set``): every saved version is a row of ``clinic_configs``,
never changed or deleted, and the newest one is in force.

- :func:`effective_clinic`: what is in force: the newest saved version, else the file the server
  was given (``NEEDLEPLAN_CLINIC_FILE``), else the bundled example clinic.
- :func:`save_clinic_config` / :func:`revert_clinic_config`: validate with
  :func:`~needleplan.scheduling.parse_clinic` (one :class:`~needleplan.exceptions.ConfigError`
  naming key, value and rule; nothing stored), append the version and its audit row in one
  transaction.
- :func:`affected_appointments`: the future booked appointments a calendar would not allow
  (outside clinic or practitioner hours, on a closure, public holiday or day off, with a
  practitioner it no longer lists), checked with the same code the booking uses
  (:func:`needleplan.scheduling.calendar.slot_problem`). Nothing is cancelled: they stay booked
  and are listed so the front desk can move them.
- :func:`with_closure` / :func:`with_leave`: the two common edits applied to the TOML text
  itself (with ``tomlkit``, so the admin's comments and layout survive).
- :func:`clinic_summary`: a readable summary for the admin page and ``needleplan clinic show``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from needleplan.domain.accounts import Permission, require_permission
from needleplan.domain.records import Appointment, AppointmentStatus, User
from needleplan.exceptions import ConfigError, ConflictError, FieldProblem, InputError
from needleplan.scheduling import ClinicConfig, Weekday, parse_clinic
from needleplan.scheduling.calendar import BusyIndex, slot_problem, working_spans
from needleplan.scheduling.clinic import EXAMPLE_CLINIC
from needleplan.services._clock import utc_now
from needleplan.services.audit import recorded_as
from needleplan.storage import Database
from needleplan.storage.database import UnitOfWork
from needleplan.storage.repositories import ClinicConfigRepository, ClinicConfigVersion

#: The longest calendar text accepted [characters] (the bundled example has about 2,600).
MAX_TOML_CHARS = 100_000
#: Longest note on a version, closure reason or leave reason [characters].
MAX_NOTE_CHARS = 200
MAX_REASON_CHARS = 120
_USERNAME_CHARS = 40
#: How far ahead :func:`affected_appointments` looks [days] (booked appointments only).
_HORIZON_DAYS = 366 * 30

SAVE_ACTION = "clinic.config.save"
REVERT_ACTION = "clinic.config.revert"


class _Any(Enum):
    ANY = "any"


#: ``base_version`` default: save whatever version is newest (no check).
ANY_VERSION: Final = _Any.ANY

#: Who saves a version: a database account, a name (CLI, or a web account from another store),
#: or None for the system itself.
Actor = User | str | None


# --------------------------------------------------------------------------- parsing

_TOML_POSITION = re.compile(r"at line (\d+), column (\d+)")


def parse_clinic_toml(text: str, *, source: str = "clinic calendar") -> ClinicConfig:
    """Validate calendar TOML text into a :class:`~needleplan.scheduling.ClinicConfig`.

    Raises
    ------
    ConfigError
        for text that is empty, too long or not TOML (field ``toml``, the offending line as the
        value, the position and TOML's complaint as the rule), or for a key that breaks the
        schema (the key's dotted path, its value, the rule).
    """
    if not isinstance(text, str):
        raise ConfigError.one("toml", type(text).__name__, "must be text", source=source)
    if not text.strip():
        raise ConfigError.one("toml", "", "must not be empty", source=source)
    if len(text) > MAX_TOML_CHARS:
        raise ConfigError.one(
            "toml",
            f"{len(text)} characters",
            f"must be at most {MAX_TOML_CHARS} characters",
            source=source,
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = ""
        if position is not None:
            number = int(position.group(1))
            lines = text.splitlines()
            line = lines[number - 1].strip()[:120] if 0 < number <= len(lines) else ""
        raise ConfigError.one(
            "toml", line, f"is not valid TOML: {message}", source=source
        ) from None
    try:
        return parse_clinic(data, source=source)
    except ConfigError as exc:
        # A rule about several keys reports the whole table as its value; keep messages short.
        raise ConfigError([_compact(p) for p in exc.problems], source=exc.source) from None


def _compact(problem: FieldProblem) -> FieldProblem:
    value = problem.value
    if isinstance(value, Mapping):
        return FieldProblem(problem.field, "{...}", problem.rule)
    if isinstance(value, list):
        return FieldProblem(problem.field, "[...]", problem.rule)
    return problem


def bundled_clinic_toml() -> str:
    """The text of the bundled example clinic."""
    return resources.files("needleplan.scheduling").joinpath(EXAMPLE_CLINIC).read_text("utf-8")


def _clean_line(value: str, field: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InputError.one(field, value, "must be text")
    clean = value.strip()
    if required and not clean:
        raise InputError.one(field, value, "must not be empty")
    if len(clean) > limit:
        raise InputError.one(field, value[:40] + "…", f"must be at most {limit} characters")
    if not clean.isprintable():
        raise InputError.one(field, clean, "must be one line of printable text")
    return clean


def _who(uow: UnitOfWork, user: Actor) -> tuple[int | None, str]:
    if user is None:
        return None, "system"
    if isinstance(user, User):
        # An account of another store (the web app's in-memory one) is recorded by name.
        user_id, _ = recorded_as(uow, user)
        return user_id, user.username[:_USERNAME_CHARS]
    name = user.strip()[:_USERNAME_CHARS]
    return None, name or "unknown"


def _may_configure(user: Actor, action: str) -> None:
    """An account (not a name or the system) needs the config permission (admins)."""
    if isinstance(user, User):
        require_permission(user, Permission.CONFIG, action)


# --------------------------------------------------------------------------- what is in force


class ClinicSource(StrEnum):
    """Where the calendar in force comes from."""

    SAVED = "saved"
    FILE = "file"
    BUNDLED = "bundled"


@dataclass(frozen=True)
class EffectiveClinic:
    """The calendar in force, its TOML text, and where it comes from."""

    clinic: ClinicConfig
    toml: str
    source: ClinicSource
    version: ClinicConfigVersion | None = None
    file: Path | None = None

    @property
    def version_id(self) -> int | None:
        return self.version.id if self.version is not None else None

    def describe(self) -> str:
        """One line for people: which version, by whom and when; or which file."""
        if self.version is not None:
            # On the wall clock of the calendar it saved, with the zone's abbreviation.
            at = self.version.created_at.astimezone(self.clinic.tz).strftime("%Y-%m-%d %H:%M %Z")
            return f"saved version {self.version.id} (by {self.version.username}, {at})"
        if self.source is ClinicSource.FILE:
            return f"the file {self.file} (no version saved in the app yet)"
        return "the bundled example clinic (no version saved in the app yet)"


def fallback_clinic(fallback_file: str | Path | None = None) -> EffectiveClinic:
    """The calendar when none is saved: ``fallback_file`` if given, else the bundled example.

    Raises
    ------
    ConfigError
        when the file cannot be read or breaks the schema (file, key, rule).
    """
    if fallback_file is None:
        text = bundled_clinic_toml()
        clinic = parse_clinic_toml(text, source=f"<bundled {EXAMPLE_CLINIC}>")
        return EffectiveClinic(clinic, text, ClinicSource.BUNDLED)
    path = Path(fallback_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError.one(
            "file", str(path), f"cannot be read ({reason})", source=str(path)
        ) from None
    return EffectiveClinic(
        parse_clinic_toml(text, source=str(path)), text, ClinicSource.FILE, file=path
    )


def _parse_version(version: ClinicConfigVersion) -> ClinicConfig:
    return parse_clinic_toml(version.toml, source=f"clinic calendar version {version.id}")


def newest_clinic_version_id(db: Database) -> int | None:
    """The number of the saved version in force, or None (one cheap query; for caches)."""
    with db.transaction() as uow:
        return uow.clinic_configs.newest_id()


def newest_clinic_version(db: Database) -> ClinicConfigVersion | None:
    """The newest saved version as stored (not validated), or None."""
    with db.transaction() as uow:
        return uow.clinic_configs.newest()


def current_clinic_config(db: Database) -> tuple[ClinicConfigVersion, ClinicConfig] | None:
    """The saved version in force and its validated calendar, or None when none was saved.

    Raises
    ------
    ConfigError
        when the stored text no longer validates (e.g. after an upgrade tightened a rule).
    """
    version = newest_clinic_version(db)
    if version is None:
        return None
    return version, _parse_version(version)


def effective_clinic(
    db: Database | None, fallback_file: str | Path | None = None
) -> EffectiveClinic:
    """The calendar in force: the newest saved version, else ``fallback_file``, else the bundled
    example clinic (``db=None``: no saved versions to look at)."""
    version = newest_clinic_version(db) if db is not None else None
    if version is None:
        return fallback_clinic(fallback_file)
    return EffectiveClinic(_parse_version(version), version.toml, ClinicSource.SAVED, version)


def clinic_config_version(db: Database, version_id: int) -> ClinicConfigVersion:
    """One saved version (NotFoundError when there is none with that number)."""
    with db.transaction() as uow:
        return uow.clinic_configs.get(version_id)


def clinic_config_history(db: Database, limit: int | None = None) -> list[ClinicConfigVersion]:
    """Saved versions, newest (the one in force) first."""
    if limit is not None and limit < 1:
        raise InputError.one("limit", limit, "must be 1 or more")
    with db.transaction() as uow:
        return uow.clinic_configs.history(limit)


# --------------------------------------------------------------------------- saving


def _check_base(repo: ClinicConfigRepository, base_version: int | _Any | None) -> None:
    if base_version is ANY_VERSION:
        return
    newest = repo.newest()
    newest_id = newest.id if newest is not None else None
    if newest_id == base_version:
        return
    if newest is None:
        raise ConflictError(
            f"the clinic calendar changed while you edited it: version {base_version} is gone"
        )
    at = newest.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    raise ConflictError(
        f"the clinic calendar changed while you edited it: version {newest.id} was saved by "
        f"{newest.username} at {at}; check your change against it and save again"
    )


def _append(
    uow: UnitOfWork,
    toml_text: str,
    user: Actor,
    note: str,
    action: str,
    detail: str,
    base_version: int | _Any | None,
) -> ClinicConfigVersion:
    repo = uow.clinic_configs
    _check_base(repo, base_version)
    user_id, username = _who(uow, user)
    now = utc_now()
    version = repo.add(toml_text, note, now, user_id, username)
    text = f"version {version.id}" + (f"; {detail}" if detail else "")
    uow.users.add_audit(now, user_id, username, action, None, text)
    return version


def save_clinic_config(
    db: Database,
    toml_text: str,
    user: Actor,
    note: str = "",
    *,
    base_version: int | _Any | None = ANY_VERSION,
    detail: str = "",
) -> ClinicConfigVersion:
    """Validate ``toml_text`` and save it as the newest version (in force from now on).

    Parameters
    ----------
    user
        who saves: an account (it needs the config permission: admins), a name (CLI), or None
        (the system).
    note
        why (one line, at most 200 characters).
    base_version
        the version the edit started from (None: none was saved). When another version was
        saved since, nothing is stored and :class:`ConflictError` says who saved what when.
    detail
        extra audit detail (ids and counts only; never patient data).

    Raises
    ------
    ConfigError
        for text that is not TOML or breaks the schema (key, value, rule); nothing is stored.
    PermissionDeniedError
        when ``user`` is an account whose role may not change the clinic calendar.
    """
    _may_configure(user, "save the clinic calendar")
    clean_note = _clean_line(note, "note", MAX_NOTE_CHARS, required=False)
    parse_clinic_toml(toml_text)
    with db.transaction() as uow:
        return _append(uow, toml_text, user, clean_note, SAVE_ACTION, detail, base_version)


def revert_clinic_config(
    db: Database,
    version_id: int,
    user: Actor,
    note: str = "",
    *,
    base_version: int | _Any | None = ANY_VERSION,
    detail: str = "",
) -> ClinicConfigVersion:
    """Put an older version back in force by appending a copy of it (history stays intact).

    Raises
    ------
    NotFoundError
        when there is no version ``version_id``.
    ConfigError
        when that version no longer validates (the rules changed since it was saved).
    """
    _may_configure(user, "revert the clinic calendar")
    clean_note = _clean_line(note, "note", MAX_NOTE_CHARS, required=False)
    if isinstance(version_id, bool) or not isinstance(version_id, int) or version_id < 1:
        raise InputError.one("version", version_id, "must be a version number (1 or more)")
    with db.transaction() as uow:
        old = uow.clinic_configs.get(version_id)
    _parse_version(old)
    with db.transaction() as uow:
        return _append(
            uow,
            old.toml,
            user,
            clean_note or f"revert to version {old.id}",
            REVERT_ACTION,
            f"copy of version {old.id}" + (f"; {detail}" if detail else ""),
            base_version,
        )


# --------------------------------------------------------------------------- conflicts


@dataclass(frozen=True)
class AffectedAppointment:
    """A future booked appointment a calendar does not allow, and why.

    ``already`` is True when the calendar in force refuses it too (the change does not cause it).
    """

    appointment: Appointment
    practitioner: str
    reason: str
    already: bool = False


def appointment_problem(
    clinic: ClinicConfig, practitioner: str, appointment: Appointment
) -> str | None:
    """Why ``clinic`` would not allow ``appointment`` with ``practitioner`` (a name), or None."""
    person = next((p for p in clinic.practitioners if p.name == practitioner), None)
    if person is None:
        return f"{practitioner} is not a practitioner in this calendar"
    minutes = max(1, round((appointment.end - appointment.start).total_seconds() / 60))
    return slot_problem(clinic, person, appointment.start, minutes, BusyIndex.build([]))


def affected_appointments(
    db: Database,
    new_clinic: ClinicConfig,
    now: datetime | None = None,
    *,
    current: ClinicConfig | None = None,
) -> list[AffectedAppointment]:
    """Booked appointments starting at or after ``now`` that ``new_clinic`` would not allow.

    Each is checked as a booking would be (:func:`~needleplan.scheduling.calendar.slot_problem`
    without the double-booking check): public holiday, clinic closure, clinic closed that
    weekday, practitioner's day off or not working that weekday, outside clinic or
    practitioner hours (wall clock in the new calendar's time zone), or a practitioner the new
    calendar does not list. With ``current`` (the calendar in force) each is marked ``already``
    when ``current`` refuses it too. Soonest first.
    """
    start = now if now is not None else utc_now()
    if start.tzinfo is None or start.utcoffset() is None:
        raise InputError.one("now", start.isoformat(), "must be timezone-aware")
    with db.transaction() as uow:
        names = {p.id: p.name for p in uow.clinics.practitioners()}
        booked = uow.appointments.between(
            start, start + timedelta(days=_HORIZON_DAYS), None, (AppointmentStatus.BOOKED,)
        )
    out: list[AffectedAppointment] = []
    for appointment in booked:
        if appointment.start < start:
            continue  # already under way
        name = names.get(appointment.practitioner_id, f"practitioner {appointment.practitioner_id}")
        reason = appointment_problem(new_clinic, name, appointment)
        if reason is None:
            continue
        already = (
            current is not None and appointment_problem(current, name, appointment) is not None
        )
        out.append(AffectedAppointment(appointment, name, reason, already))
    return out


def new_conflicts(affected: Sequence[AffectedAppointment]) -> list[AffectedAppointment]:
    """The affected appointments the change itself causes (not refused already)."""
    return [a for a in affected if not a.already]


# --------------------------------------------------------------------------- quick edits


def _period(start: date, end: date | None, reason: str) -> tuple[date, date | None, str]:
    if not isinstance(start, date):
        raise InputError.one("start", start, "must be a date like 2027-03-01")
    if end is not None and not isinstance(end, date):
        raise InputError.one("end", end, "must be a date like 2027-03-01 or empty")
    if end is not None and end < start:
        raise InputError.one("end", end.isoformat(), f"must be on or after start ({start})")
    clean = _clean_line(reason, "reason", MAX_REASON_CHARS, required=True)
    return start, (None if end == start else end), clean


def _entry(start: date, end: date | None, reason: str, *, inline: bool) -> Table | InlineTable:
    table: Table | InlineTable = tomlkit.inline_table() if inline else tomlkit.table()
    table.append("start", start)
    if end is not None:
        table.append("end", end)
    table.append("reason", reason)
    return table


def _append_entry(container: Any, start: date, end: date | None, reason: str) -> None:
    if isinstance(container, AoT):
        container.append(_entry(start, end, reason, inline=False))
    elif isinstance(container, Array):
        container.append(_entry(start, end, reason, inline=True))
    else:
        raise TypeError(type(container).__name__)


def _tidy(text: str) -> str:
    """A blank line before a table header that directly follows a value (tomlkit appends new
    ``[[...]]`` tables without one), and never more than one blank line in a row. Layout only:
    comments and values are untouched, and a header under its own comment stays with it."""
    lines: list[str] = []
    for line in text.split("\n"):
        header = line.lstrip().startswith("[")
        previous = lines[-1].strip() if lines else ""
        if header and previous and not previous.startswith("#"):
            lines.append("")
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line)
    return "\n".join(lines).rstrip("\n") + "\n"


def _edited(toml_text: str, edit: Any) -> str:
    base = parse_clinic_toml(toml_text)
    try:
        document = tomlkit.parse(toml_text)
        edit(document, base)
        raw = tomlkit.dumps(document)
        out = _tidy(raw)
        if tomllib.loads(out) != tomllib.loads(raw):  # e.g. a multi-line string with a "[" line
            out = raw
    except (TOMLKitError, tomllib.TOMLDecodeError, TypeError, KeyError) as exc:
        raise InputError.one(
            "toml",
            type(exc).__name__,
            "the calendar's TOML is laid out in a way this form cannot extend; "
            "edit the TOML text instead",
        ) from None
    parse_clinic_toml(out)
    return out


def with_closure(toml_text: str, start: date, end: date | None, reason: str) -> str:
    """``toml_text`` with one more whole-clinic closure (``end`` inclusive; None: one day).

    The text is edited in place: comments and layout stay as they were.
    """
    first, last, why = _period(start, end, reason)

    def edit(document: Any, _base: ClinicConfig) -> None:
        if "closures" in document:
            _append_entry(document["closures"], first, last, why)
        else:
            table = _entry(first, last, why, inline=False)
            document.append("closures", tomlkit.aot())
            document["closures"].append(table)

    return _edited(toml_text, edit)


def with_leave(
    toml_text: str, practitioner: str, start: date, end: date | None, reason: str
) -> str:
    """``toml_text`` with a period off (``end`` inclusive; None: one day) for ``practitioner``."""
    first, last, why = _period(start, end, reason)

    def edit(document: Any, base: ClinicConfig) -> None:
        base.practitioner(practitioner)  # InputError listing the names when unknown
        for person in document["practitioners"]:
            if str(person.get("name")) != practitioner:
                continue
            if "days_off" in person:
                _append_entry(person["days_off"], first, last, why)
            else:
                days_off = tomlkit.array()
                days_off.append(_entry(first, last, why, inline=True))
                person["days_off"] = days_off
            return
        raise KeyError(practitioner)

    return _edited(toml_text, edit)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    reason: str

    def __str__(self) -> str:
        if self.start == self.end:
            return f"{self.start} ({self.reason})"
        return f"{self.start} to {self.end} ({self.reason})"


@dataclass(frozen=True)
class PractitionerSummary:
    name: str
    #: working spans by weekday label (intersected with opening hours); "" = not working
    hours: dict[str, str]
    own_hours: bool
    days_off: list[Period]


@dataclass(frozen=True)
class ClinicSummary:
    """What a person needs to read a calendar at a glance (upcoming periods only)."""

    name: str
    timezone: str
    location: str
    opening_hours: dict[str, str]
    practitioners: list[PractitionerSummary]
    closures: list[Period]
    holidays: str
    upcoming_holidays: list[tuple[date, str]]
    session_minutes: dict[str, int]
    slot_minutes: int
    preferred_start: str
    first_session_search_days: int
    recall_threshold: float
    prices: str


WEEKDAY_LABELS = {d: d.value.capitalize() for d in Weekday}


def _spans_text(spans: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans)


def clinic_summary(clinic: ClinicConfig, today: date, *, holiday_days: int = 365) -> ClinicSummary:
    """A readable summary: hours per weekday, practitioners with their hours and upcoming days
    off, upcoming closures and public holidays (within ``holiday_days``), session lengths,
    prices."""
    # A date of each weekday, to ask the calendar code for the working spans.
    monday = today - timedelta(days=today.weekday())
    week = {d: monday + timedelta(days=i) for i, d in enumerate(Weekday)}
    opening = {
        WEEKDAY_LABELS[d]: _spans_text([(s.start, s.end) for s in clinic.opening_hours.get(d, [])])
        for d in Weekday
    }
    people = [
        PractitionerSummary(
            name=p.name,
            hours={
                WEEKDAY_LABELS[d]: _spans_text(working_spans(clinic, p, week[d])) for d in Weekday
            },
            own_hours=p.hours is not None,
            days_off=sorted(
                (Period(o.start, o.last, o.reason) for o in p.days_off if o.last >= today),
                key=lambda o: o.start,
            ),
        )
        for p in clinic.practitioners
    ]
    holidays = ""
    upcoming: list[tuple[date, str]] = []
    if clinic.holidays is not None:
        holidays = clinic.holidays.country + (
            f"-{clinic.holidays.subdivision}" if clinic.holidays.subdivision else ""
        )
        for offset in range(holiday_days):
            day = today + timedelta(days=offset)
            name = clinic.holiday(day)
            if name is not None:
                upcoming.append((day, name))
    prices = ""
    if clinic.prices is not None:
        p = clinic.prices
        prices = (
            f"initial session {p.initial_session:.2f} {p.currency}, "
            f"maintenance session {p.maintenance_session:.2f} {p.currency}"
        )
    return ClinicSummary(
        name=clinic.name,
        timezone=clinic.timezone,
        location=clinic.location,
        opening_hours=opening,
        practitioners=people,
        closures=sorted(
            (Period(c.start, c.last, c.reason) for c in clinic.closures if c.last >= today),
            key=lambda c: c.start,
        ),
        holidays=holidays,
        upcoming_holidays=upcoming,
        session_minutes=dict(clinic.session_minutes),
        slot_minutes=clinic.slot_minutes,
        preferred_start=clinic.preferred_start.strftime("%H:%M"),
        first_session_search_days=clinic.first_session_search_days,
        recall_threshold=clinic.recall_threshold,
        prices=prices,
    )


__all__ = [
    "ANY_VERSION",
    "MAX_TOML_CHARS",
    "REVERT_ACTION",
    "SAVE_ACTION",
    "AffectedAppointment",
    "ClinicConfigVersion",
    "ClinicSource",
    "ClinicSummary",
    "EffectiveClinic",
    "affected_appointments",
    "appointment_problem",
    "bundled_clinic_toml",
    "clinic_config_history",
    "clinic_config_version",
    "clinic_summary",
    "current_clinic_config",
    "effective_clinic",
    "fallback_clinic",
    "new_conflicts",
    "newest_clinic_version",
    "newest_clinic_version_id",
    "parse_clinic_toml",
    "revert_clinic_config",
    "save_clinic_config",
    "with_closure",
    "with_leave",
]

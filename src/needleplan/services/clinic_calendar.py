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

from dataclasses import dataclass
from datetime import UTC
from enum import Enum, StrEnum
from pathlib import Path
from typing import Final

from needleplan.domain.accounts import Permission, require_permission
from needleplan.domain.records import User
from needleplan.exceptions import ConfigError, ConflictError, InputError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.clinic import EXAMPLE_CLINIC
from needleplan.services._clock import utc_now
from needleplan.services.audit import recorded_as
from needleplan.services.clinic_calendar_conflicts import (
    AffectedAppointment,
    affected_appointments,
    appointment_problem,
    new_conflicts,
)
from needleplan.services.clinic_calendar_summary import ClinicSummary, clinic_summary
from needleplan.services.clinic_calendar_text import (
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    MAX_TOML_CHARS,
    _clean_line,
    bundled_clinic_toml,
    parse_clinic_toml,
    with_closure,
    with_leave,
)
from needleplan.storage import Database
from needleplan.storage.database import UnitOfWork
from needleplan.storage.repositories import ClinicConfigRepository, ClinicConfigVersion

_USERNAME_CHARS = 40

SAVE_ACTION = "clinic.config.save"
REVERT_ACTION = "clinic.config.revert"


class _Any(Enum):
    ANY = "any"


#: ``base_version`` default: save whatever version is newest (no check).
ANY_VERSION: Final = _Any.ANY

#: Who saves a version: a database account, a name (CLI, or a web account from another store),
#: or None for the system itself.
Actor = User | str | None


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
    """The number of the saved version in force, or None (one indexed read on a bare
    connection, inside a running unit of work through it; for caches)."""
    return db.clinic_calendar_version()


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


__all__ = [
    "ANY_VERSION",
    "MAX_NOTE_CHARS",
    "MAX_REASON_CHARS",
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

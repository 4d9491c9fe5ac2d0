"""What the clinic-record commands share: ``--database``, opening the records, the calendar in
force, dates, JSON output.

Every record command takes ``--database URL`` (default ``$NEEDLEPLAN_DATABASE_URL``, else the
SQLite file in the user's data directory) and opens it with :func:`open_records`, which upgrades
the schema on start and always closes it. The commands themselves live in one module per group
(:mod:`~needleplan.cli.patient`, :mod:`~needleplan.cli.course`, ...).

Only Typer, Rich and the standard library are imported here: the storage stack (SQLAlchemy,
Alembic, argon2), pydantic and the model are imported inside the functions, so that
``needleplan --help`` does not pay for them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.domain.records import Patient
    from needleplan.scheduling import ClinicConfig
    from needleplan.storage import Database

console = Console(highlight=False, soft_wrap=True)

DATABASE_HELP = (
    "Database URL or SQLite file (default: $NEEDLEPLAN_DATABASE_URL, else the user data dir)."
)

#: ``--database URL``, the same on every command that reads or changes the clinic records.
DatabaseOpt: Any = typer.Option(None, "--database", "-d", help=DATABASE_HELP, show_default=False)

#: The environment variable naming the clinic calendar file in force until a version is saved
#: (the web app reads the same one, see ``needleplan.web.settings``).
CLINIC_FILE_ENV = "NEEDLEPLAN_CLINIC_FILE"

#: Help of ``--clinic FILE`` on the commands that book, move, rebook or record.
CLINIC_OVERRIDE_HELP = (
    "Clinic calendar TOML to use instead of the one in force (default: the version saved in "
    "the database, else $NEEDLEPLAN_CLINIC_FILE, else the bundled example clinic)."
)


@contextmanager
def open_records(
    url: str | None, *, upgrade: bool = True, read_only: bool = False
) -> Iterator[Database]:
    """The clinic records for one command: opened, always closed afterwards.

    By default the schema is upgraded to the newest revision on opening. ``upgrade=False``
    connects without migrating (``db current``, ``db upgrade`` and ``restore`` look at or change
    the schema themselves). ``read_only=True`` neither creates nor migrates anything: a missing
    SQLite file or a schema behind the newest revision is an InputError naming ``--database``
    (``cohort simulate --from-db``). A database that cannot be reached is one InputError naming
    ``database_url``.
    """
    from needleplan.storage import Database, migrate
    from needleplan.storage.engine import resolve_url

    if read_only:
        resolved = resolve_url(url)
        if resolved.startswith("sqlite:///"):
            path = resolved.removeprefix("sqlite:///")
            if path and path != ":memory:" and not Path(path).exists():
                raise InputError.one("--database", path, "no such database file")
        url = resolved
    db = Database.open(url, upgrade=upgrade and not read_only)
    try:
        if read_only and migrate.needs_upgrade(db.engine):
            raise InputError.one(
                "--database",
                db.display_url,
                "its schema is not at the newest revision; run `needleplan db upgrade` first",
            )
        yield db
    finally:
        db.dispose()


def clinic_file_setting() -> str | None:
    """``$NEEDLEPLAN_CLINIC_FILE``, or None when unset or empty."""
    return os.environ.get(CLINIC_FILE_ENV, "").strip() or None


def clinic_in_force(db: Database, clinic_file: Path | None = None) -> ClinicConfig:
    """The calendar a command books in: ``--clinic FILE`` when given, else the one in force for
    the web app too (the newest version saved in the database, else ``$NEEDLEPLAN_CLINIC_FILE``,
    else the bundled example clinic; see
    :func:`needleplan.services.clinic_calendar.effective_clinic`)."""
    if clinic_file is not None:
        from needleplan.scheduling import load_clinic

        return load_clinic(clinic_file)
    from needleplan.services.clinic_calendar import effective_clinic

    return effective_clinic(db, clinic_file_setting()).clinic


def parse_when(value: str, field: str) -> datetime:
    """An ISO 8601 date-time with offset (``2030-01-02T10:00+01:00``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError.one(
            field, value, "must be an ISO 8601 date-time like 2030-01-02T10:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        raise InputError.one(field, value, "must include a UTC offset, e.g. +01:00 or Z")
    return parsed


def parse_day(value: str, field: str) -> date:
    """A calendar day (``2030-01-31``)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.one(field, value, "must be a date like 2030-01-31") from None


def _jsonable(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Records (pydantic models, dataclasses, lists of them) as indented JSON on stdout."""
    typer.echo(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def resolve_patient(db: Database, key: str) -> Patient:
    """The patient with record number or id ``key`` (NotFoundError otherwise)."""
    from needleplan import services

    return services.find_patient(db, key)


def appointment_table(appointments: list[Any], names: dict[int, str], timezone: str) -> None:
    """Print appointments on the clinic's wall clock, practitioners by name."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    table = Table(title=f"appointments ({timezone})", title_justify="left")
    for col in ("id", "#", "start", "end", "practitioner", "status"):
        table.add_column(col)
    for a in appointments:
        table.add_row(
            str(a.id),
            str(a.session_number or ""),
            f"{a.start.astimezone(zone):%a %Y-%m-%d %H:%M}",
            f"{a.end.astimezone(zone):%H:%M}",
            escape(names.get(a.practitioner_id, str(a.practitioner_id))),
            a.status.value,
        )
    console.print(table)


#: ``--clinic FILE`` on the commands that book, move, rebook or record: an explicit override of
#: the calendar in force (see :func:`clinic_in_force`).
ClinicOpt: Any = typer.Option(None, "--clinic", help=CLINIC_OVERRIDE_HELP, show_default=False)


def appointment_ref(db: Database, text: str, field: str = "APPT") -> int:
    """An appointment named by its id (``1759``) or as session N of course C (``301/3``: the
    booked or checked-in appointment of that session), the form a receptionist reads off a
    course; InputError naming ``field`` for anything else."""
    from needleplan import services
    from needleplan.domain.records import AppointmentStatus

    raw = text.strip()
    course, sep, session = raw.partition("/")
    if not sep:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 2**31 - 1:
            raise InputError.one(field, text, "must be an appointment id or COURSE/SESSION")
        return int(raw)
    if not all(p.isascii() and p.isdigit() and 1 <= int(p) <= 2**31 - 1 for p in (course, session)):
        raise InputError.one(field, text, "must be an appointment id or COURSE/SESSION, e.g. 301/3")
    live = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)
    for appt in services.course_file(db, int(course)).appointments:
        if appt.session_number == int(session) and appt.status in live:
            return appt.id
    raise InputError.one(field, text, f"course {course} has no booked session {session}")

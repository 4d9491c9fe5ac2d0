"""Backup and restore as a transaction-consistent JSON snapshot (works on SQLite and PostgreSQL).

The dump reads every table inside one transaction: ``REPEATABLE READ`` on PostgreSQL, a WAL
snapshot under the write lock on SQLite. Writers may keep working during the dump (on SQLite they
wait for it); the file shows the database exactly as it was at one instant, never half a use-case.

Format (``.json``, or gzip-compressed when the file name ends in ``.gz``)::

    {"format": "needleplan-backup", "version": 1, "schema_revision": "0002",
     "created_at": "...", "tables": {"patients": {"columns": [...], "rows": [[...], ...]}, ...}}

Datetimes are ISO 8601 in UTC, dates ISO 8601, binary columns (signed consent PDFs) base64. A backup restores only into an empty database
(fresh or just migrated), on either backend: it doubles as a SQLite -> PostgreSQL move.

Media files (photos and their thumbnails, :mod:`needleplan.storage.media`) travel in the same
file: ``"media": {"<sha256>": "<base64>", ...}`` holds every file a ``photos`` row refers to,
read from the media folder. A restore checks each file's SHA-256 against its name, refuses a
backup whose photos lack a file, and writes the files (0600) into the target's media folder.

Encrypted backups (``key=``, :mod:`needleplan.storage.backup_crypto`): the gzip-compressed JSON
sealed with AES-256-GCM under a key file or a passphrase; :func:`read_backup` recognises them by
their header and needs the key. Every backup file is created 0600 (its folders 0700). Scheduled,
verified and rotated backups: :mod:`needleplan.storage.backup_schedule`.

Every table is backed up except :data:`EXCLUDED_TABLES`: ``staff_sessions`` holds sign-in
sessions, short-lived secrets that a restore must not bring back (a restored session would sign a
browser in again, perhaps one whose session had been ended since). After a restore everybody signs
in afresh; ``rate_limits`` holds short-lived rate-limit counters and ``idempotency_keys`` the
24-hour replay answers of booking requests, ``intake_kiosks`` the kiosk locks of those sessions, ``worker_heartbeats`` when each worker last ran. A file that does carry such a
table is accepted and the table is ignored. ``patient_name_tokens`` (the later words of the
patients' names, for the search) is worked out from the names: a restore rebuilds it, as it works
out the names' search keys.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, Engine, LargeBinary, Table, func, insert, select, text
from sqlalchemy.exc import StatementError

from needleplan.domain.name_keys import name_key
from needleplan.exceptions import ConflictError, InputError
from needleplan.private_files import private_parent
from needleplan.storage import media, migrate
from needleplan.storage.backup_crypto import BackupKey, decrypt, encrypt, is_encrypted
from needleplan.storage.tables import PatientNameTokenRow, metadata
from needleplan.storage.tables.clinical import name_token_rows
from needleplan.storage.types import UtcDateTime

FORMAT = "needleplan-backup"
VERSION = 1
#: Tables neither written to a backup nor restored from one (transient sign-in secrets and
#: counters; the name search's words, which a restore works out from the names).
EXCLUDED_TABLES = frozenset(
    {
        "staff_sessions",
        "rate_limits",
        "idempotency_keys",
        "intake_kiosks",
        "worker_heartbeats",
        "patient_name_tokens",
    }
)


def backed_up_tables() -> list[Table]:
    """The tables a backup holds, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in EXCLUDED_TABLES]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def snapshot(engine: Engine, media_root: Path | None = None) -> dict[str, Any]:
    """Every row of every backed-up table, read in one consistent transaction, and the media
    files the photos refer to (from ``media_root``, default :func:`media.media_dir`)."""
    conn = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            revision = _revision(conn)
            tables: dict[str, Any] = {}
            for table in backed_up_tables():
                columns = [c.name for c in table.columns]
                order = [table.c[c.name] for c in table.primary_key.columns]
                rows = conn.execute(select(table).order_by(*order)).all()
                tables[table.name] = {
                    "columns": columns,
                    "rows": [[_encode(v) for v in row] for row in rows],
                }
    finally:
        conn.close()
    root = media_root if media_root is not None else media.media_dir(engine)
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": revision,
        "created_at": datetime.now(UTC).isoformat(),
        "tables": tables,
        "media": {
            digest: base64.b64encode(media.read_media(root, digest)).decode("ascii")
            for digest in sorted(_media_hashes(tables))
        },
    }


def _media_hashes(tables: dict[str, Any]) -> set[str]:
    """The media files the ``photos`` rows of a snapshot refer to."""
    entry = tables.get("photos") or {"columns": [], "rows": []}
    columns = entry["columns"]
    wanted = [columns.index(c) for c in ("sha256", "thumb_sha256") if c in columns]
    return {str(row[k]) for row in entry["rows"] for k in wanted}


def _revision(conn: Connection) -> str | None:
    try:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except Exception:  # no alembic_version table: not a needleplan database
        return None
    return str(row[0]) if row else None


def backup(
    engine: Engine,
    path: str | Path,
    media_root: Path | None = None,
    *,
    key: BackupKey | None = None,
) -> dict[str, int]:
    """Write a consistent snapshot (with the media files) to ``path`` atomically, 0600, sealed
    with ``key`` when given (compressed first); returns the row count per table."""
    target = Path(path)
    data = snapshot(engine, media_root)
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if target.name.endswith(".gz") or key is not None:
        payload = gzip.compress(payload, mtime=0)
    if key is not None:
        payload = encrypt(payload, key)
    private_parent(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {name: len(t["rows"]) for name, t in data["tables"].items()}


def read_backup(path: str | Path, key: BackupKey | None = None) -> dict[str, Any]:
    """Load and check a backup file, opening it with ``key`` when it is encrypted (raises
    :class:`InputError` naming what is wrong: a wrong key names ``key_file``/``passphrase``)."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise InputError.one("file", str(source), f"cannot be read ({exc.strerror})") from None
    if is_encrypted(raw):
        raw = decrypt(raw, key, str(source))
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError):
        raise InputError.one("file", str(source), "is not a needleplan backup (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError.one("format", _short(data), f"must be {FORMAT}")
    if data.get("version") != VERSION:
        raise InputError.one("version", data.get("version"), f"must be {VERSION}")
    known = migrate.revisions()
    if data.get("schema_revision") not in known:
        raise InputError.one(
            "schema_revision",
            data.get("schema_revision"),
            "is not a schema this needleplan version knows: " + ", ".join(known),
        )
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise InputError.one("tables", _short(tables), "must be an object of tables")
    for table in backed_up_tables():
        entry = tables.get(table.name, {"columns": [], "rows": []})
        if not isinstance(entry, dict):
            raise InputError.one(f"tables.{table.name}", _short(entry), "must be an object")
        columns, rows = entry.get("columns"), entry.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise InputError.one(f"tables.{table.name}", "...", "needs columns and rows lists")
        unknown = [c for c in columns if c not in table.c]
        if unknown:
            raise InputError.one(f"tables.{table.name}.columns", unknown, "unknown columns")
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise InputError.one(
                    f"tables.{table.name}.rows[{i}]", "...", f"must list {len(columns)} values"
                )
    extra = sorted(set(tables) - {t.name for t in metadata.sorted_tables})
    if extra:
        raise InputError.one("tables", extra, "unknown tables")
    _check_media(data)
    return data


def _check_media(data: dict[str, Any]) -> None:
    """The ``media`` section: hash -> base64 bytes that match the hash, one per photo file."""
    files = data.setdefault("media", {})
    if not isinstance(files, dict):
        raise InputError.one("media", _short(files), "must be an object of files by SHA-256")
    decoded: dict[str, bytes] = {}
    for digest, encoded in files.items():
        media.check_hash(digest, f"media.{str(digest)[:70]}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (TypeError, ValueError):
            raise InputError.one(
                f"media.{digest}", _short(encoded), "must be base64 data"
            ) from None
        if hashlib.sha256(raw).hexdigest() != digest:
            raise InputError.one(f"media.{digest}", f"{len(raw)} bytes", "must match its SHA-256")
        decoded[digest] = raw
    try:
        wanted = _media_hashes(data["tables"])
    except (TypeError, ValueError, KeyError, IndexError):
        raise InputError.one("tables.photos", "...", "needs sha256 columns") from None
    missing = sorted(wanted - set(decoded))
    if missing:
        raise InputError.one("media", missing[:3], "must hold every photo's file; missing")
    data["media"] = decoded


def _name_keys(rows: list[dict[str, Any]]) -> None:
    """Each patient's search keys worked out from her names (a backup written before migration
    0029 has none; a file's own keys are not trusted to match her names)."""
    for row in rows:
        for name, key in (("given_name", "given_key"), ("family_name", "family_key")):
            value = row.get(name)
            row[key] = name_key(value) if isinstance(value, str) else ""


def _short(value: Any) -> str:
    return repr(value)[:60]


def _decode(column: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    try:
        if isinstance(column.type, UtcDateTime):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("naive")
            return parsed
        if isinstance(column.type, Date):
            return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError.one(where, _short(value), "must be an ISO 8601 date/time") from None
    if isinstance(column.type, LargeBinary):
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise InputError.one(where, _short(value), "must be base64 data") from None
    return value


def _required(column: Any) -> bool:
    """A column that must be given: not null, no default, not the table's generated id."""
    if column.nullable or column.default is not None or column.server_default is not None:
        return False
    return not (column.name == "id" and column.primary_key)


def _check_required(table: Any, columns: list[str], rows: list[list[Any]]) -> None:
    if not rows:
        return
    missing = [c.name for c in table.columns if _required(c) and c.name not in columns]
    if missing:
        raise InputError.one(f"tables.{table.name}.columns", missing, "required columns missing")
    for name in columns:
        if not _required(table.c[name]):
            continue
        k = columns.index(name)
        for i, row in enumerate(rows):
            if row[k] is None:
                raise InputError.one(
                    f"tables.{table.name}.rows[{i}].{name}", None, "must not be empty"
                )


def _readers() -> list[tuple[type[Any], Callable[[Any], Any]]]:
    """Each table's row class and the function the repositories read its rows with."""
    from needleplan.storage.repositories import (
        assessments,
        audit,
        clinics,
        courses,
        measurements,
        patients,
        recall,
        users,
    )
    from needleplan.storage.tables import (
        AppointmentRow,
        AssessmentRow,
        AuditRow,
        ClinicRow,
        ContactAttemptRow,
        CourseRow,
        LedgerRow,
        MeasurementRow,
        PatientRow,
        PerformedSessionRow,
        PractitionerRow,
        RecallRow,
        UserRow,
    )

    return [
        (ClinicRow, clinics.to_clinic),
        (PractitionerRow, clinics.to_practitioner),
        (UserRow, users.to_user),
        (PatientRow, patients.to_patient),
        (AssessmentRow, assessments.to_assessment),
        (CourseRow, courses.to_course),
        (LedgerRow, courses.to_ledger),
        (AppointmentRow, courses.to_appointment),
        (PerformedSessionRow, courses.to_session),
        (MeasurementRow, measurements.to_measurement),
        (RecallRow, recall.to_recall),
        (ContactAttemptRow, recall.to_attempt),
        (AuditRow, audit.to_audit),
    ]


def check_readable(conn: Connection) -> None:
    """Read every restored row back the way the app reads it (the repositories' domain models,
    which validate each value), so a backup holding a value outside the domain (a status that
    does not exist, a measurement off its scale, a birth date in the future) is refused here,
    naming the table, the row and the rule, instead of crashing the pages that read it later.
    The leads and API tokens are read through their repositories too."""
    from sqlalchemy.orm import Session

    from needleplan.storage.repositories import ApiTokenRepository, LeadRepository

    session = Session(bind=conn)
    try:
        for row_class, read in _readers():
            name = row_class.__table__.name
            for row in session.execute(select(row_class)).scalars():
                try:
                    read(row)
                except (ValueError, TypeError, KeyError) as exc:  # pydantic's ValidationError too
                    value, rule = _first_error(exc)
                    raise InputError.one(
                        f"tables.{name}.rows[id={row.id}]",
                        _short(value),
                        f"is not a valid {name[:-1].replace('_', ' ')} ({rule}); nothing restored",
                    ) from None
        for name, read_all in (
            ("leads", LeadRepository(session).all),
            ("api_tokens", ApiTokenRepository(session).all),
        ):
            try:
                read_all()
            except (ValueError, TypeError, KeyError) as exc:
                value, rule = _first_error(exc)
                raise InputError.one(
                    f"tables.{name}",
                    _short(value),
                    f"holds an invalid row ({rule}); nothing restored",
                ) from None
    finally:
        session.close()


def _first_error(exc: Exception) -> tuple[Any, str]:
    """The offending value and a one-line rule from a validation error (or any ValueError)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", "invalid")
        return first.get("input"), f"{where}: {message}" if where else message
    return None, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                return False
    return True


def restore(
    engine: Engine,
    path: str | Path,
    media_root: Path | None = None,
    *,
    key: BackupKey | None = None,
) -> dict[str, int]:
    """Load a backup (opened with ``key`` when encrypted) into an empty database (migrated to
    head first); all rows or none. Its media files are written into ``media_root`` (default
    :func:`media.media_dir`).

    Returns the rows restored per backed-up table; :data:`EXCLUDED_TABLES` stay empty even when
    the file carries them.

    Raises
    ------
    ConflictError
        when the target database already holds records.
    InputError
        when the file is not a valid backup.
    """
    data = read_backup(path, key)
    migrate.upgrade(engine)
    counts: dict[str, int] = {}
    with engine.connect() as conn, conn.begin():
        for table in metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise ConflictError(
                    f"restore needs an empty database; table {table.name} already has rows"
                )
        for table in backed_up_tables():
            entry = data["tables"].get(table.name, {"columns": [], "rows": []})
            columns: list[str] = entry["columns"]
            _check_required(table, columns, entry["rows"])
            rows = [
                {
                    c: _decode(table.c[c], v, f"tables.{table.name}.rows[{i}].{c}")
                    for c, v in zip(columns, row, strict=True)
                }
                for i, row in enumerate(entry["rows"])
            ]
            if table.name == "patients":
                _name_keys(rows)
            if rows:
                try:
                    conn.execute(insert(table), rows)
                except StatementError as exc:
                    raise InputError.one(
                        f"tables.{table.name}",
                        f"{len(rows)} rows",
                        f"cannot be stored ({type(exc.orig or exc).__name__}); nothing restored",
                    ) from None
            if table.name == "patients":
                tokens = [
                    t
                    for r in rows
                    if isinstance(r.get("id"), int)
                    for t in name_token_rows(r["id"], r["given_key"], r["family_key"])
                ]
                if tokens:
                    conn.execute(insert(PatientNameTokenRow), tokens)
            counts[table.name] = len(rows)
        check_readable(conn)
        root = media_root if media_root is not None else media.media_dir(engine)
        for raw in data["media"].values():
            media.store_media(root, raw)
        if engine.dialect.name == "postgresql":
            for table in metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                            f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
                        )
                    )
    return counts

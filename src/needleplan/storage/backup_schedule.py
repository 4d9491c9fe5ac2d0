"""Scheduled backups: one new file in a folder, verified by a restore, then old ones rotated.

:func:`scheduled_backup` (``needleplan backup --dir DIR``, run daily by the shipped systemd timer
``deploy/needleplan-backup.timer``):

1. writes ``needleplan-YYYYMMDDTHHMMSSZ.json.gz`` (``.json.gz.enc`` when encrypted) into the
   folder, 0600 (the folder 0700), with the media files (:mod:`needleplan.storage.backup`);
2. **verifies** it: reads the file back from disk (opening it with the key), restores it into a
   scratch SQLite database and media folder in a private temporary folder, and compares the rows
   of every table there with the rows the snapshot held, and the media files with the photos'
   files. A backup that does not verify is renamed ``*.failed`` and the run fails
   (:class:`StateError`, exit code 5): no older backup is deleted;
3. **rotates**: keeps the newest backup of each of the last ``daily`` days that have one, of the
   last ``weekly`` ISO weeks and of the last ``monthly`` months (:func:`to_keep`; one file may
   count for all three) and deletes the other files of that name pattern. Files of any other
   name in the folder are never touched.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from needleplan.exceptions import InputError, StateError
from needleplan.private_files import DIR_MODE, private_parent
from needleplan.storage import backup as backups
from needleplan.storage.backup_crypto import BackupKey

NAME = re.compile(r"^needleplan-(\d{8}T\d{6}Z)\.json\.gz(\.enc)?$")
STAMP = "%Y%m%dT%H%M%SZ"
KEEP_MAX = 10_000


@dataclass(frozen=True)
class Retention:
    """How many daily, weekly and monthly backups to keep (each 0 to 10,000, not all 0)."""

    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def __post_init__(self) -> None:
        for name in ("daily", "weekly", "monthly"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= KEEP_MAX:
                raise InputError.one(
                    f"keep_{name}", value, f"must be a whole number from 0 to {KEEP_MAX}"
                )
        if not (self.daily or self.weekly or self.monthly):
            raise InputError.one(
                "keep_daily", 0, "keep at least one backup (daily, weekly or monthly above 0)"
            )


@dataclass(frozen=True)
class Verification:
    """What the scratch restore held: rows per table and media files."""

    rows: dict[str, int]
    media_files: int


@dataclass
class ScheduledBackup:
    path: Path
    rows: dict[str, int]
    verification: Verification
    deleted: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def backup_name(at: datetime, *, encrypted: bool) -> str:
    return f"needleplan-{at.astimezone(UTC).strftime(STAMP)}.json.gz" + (
        ".enc" if encrypted else ""
    )


def stamp_of(name: str) -> datetime | None:
    """When the backup named ``name`` was taken, or None for a name outside the pattern."""
    match = NAME.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def to_keep(stamps: Iterable[datetime], retention: Retention) -> set[datetime]:
    """The backups to keep: the newest of each of the last ``daily`` days, ``weekly`` ISO weeks
    and ``monthly`` months that have a backup."""
    newest_first = sorted(set(stamps), reverse=True)
    rules: list[tuple[int, Callable[[datetime], Hashable]]] = [
        (retention.daily, lambda t: t.date()),
        (retention.weekly, lambda t: t.isocalendar()[:2]),
        (retention.monthly, lambda t: (t.year, t.month)),
    ]
    kept: set[datetime] = set()
    for count, bucket in rules:
        seen: set[Hashable] = set()
        for stamp in newest_first:
            key = bucket(stamp)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(key)
            kept.add(stamp)
    return kept


def verify(path: Path, expected: dict[str, int], key: BackupKey | None = None) -> Verification:
    """Restore ``path`` into a scratch SQLite database and media folder (in a private temporary
    folder, removed afterwards) and compare its rows per table with ``expected``; StateError
    naming the first table that differs."""
    from needleplan.storage.engine import make_engine

    with tempfile.TemporaryDirectory(prefix="needleplan-verify-") as scratch:
        root = Path(scratch)
        engine = make_engine(f"sqlite:///{root / 'scratch.sqlite3'}")
        try:
            backups.restore(engine, path, root / "media", key=key)
            with engine.connect() as conn:
                rows = {
                    table.name: int(
                        conn.execute(select(func.count()).select_from(table)).scalar_one()
                    )
                    for table in backups.backed_up_tables()
                }
        finally:
            engine.dispose()
        media_files = sum(1 for p in (root / "media").rglob("*") if p.is_file())
    for name in sorted(set(expected) | set(rows)):
        if expected.get(name, 0) != rows.get(name, 0):
            raise StateError(
                f"backup {path.name} does not verify: table {name} has {rows.get(name, 0)} rows "
                f"after a restore, the database had {expected.get(name, 0)}"
            )
    return Verification(rows, media_files)


def scheduled_backup(
    engine: Engine,
    folder: str | Path,
    retention: Retention,
    *,
    key: BackupKey | None = None,
    media_root: Path | None = None,
    now: datetime | None = None,
) -> ScheduledBackup:
    """Write, verify and rotate (see the module)."""
    target_dir = Path(folder)
    private_parent(target_dir / "x")
    target_dir.mkdir(mode=DIR_MODE, exist_ok=True)
    at = now or datetime.now(UTC)
    path = target_dir / backup_name(at, encrypted=key is not None)
    if path.exists():
        raise StateError(f"{path} already exists: one backup per second")
    rows = backups.backup(engine, path, media_root, key=key)
    try:
        checked = verify(path, rows, key)
    except Exception:
        path.replace(path.with_name(path.name + ".failed"))
        raise
    done = ScheduledBackup(path, rows, checked)
    found = {p: stamp_of(p.name) for p in target_dir.iterdir() if p.is_file()}
    dated = {p: s for p, s in found.items() if s is not None}
    keep = to_keep(dated.values(), retention)
    for candidate, stamp in sorted(dated.items()):
        if stamp in keep or candidate == path:
            done.kept.append(candidate)
        else:
            candidate.unlink(missing_ok=True)
            done.deleted.append(candidate)
    return done


__all__ = [
    "Retention",
    "ScheduledBackup",
    "Verification",
    "backup_name",
    "scheduled_backup",
    "stamp_of",
    "to_keep",
    "verify",
]

"""``needleplan backup``, ``needleplan restore`` and ``needleplan backup-key``: consistent
snapshots of every record, optionally encrypted, verified and rotated (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from needleplan.cli.records import DatabaseOpt, console, open_records
from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.storage.backup_crypto import BackupKey

#: Top-level commands (added to the root app without a group name).
app = typer.Typer(rich_markup_mode=None)

KeyFileOpt = typer.Option(
    None, "--key-file", help="Encrypt (or open) with this key file (needleplan backup-key)."
)
PassphraseFileOpt = typer.Option(
    None,
    "--passphrase-file",
    help="Encrypt (or open) with the passphrase on this file's first line.",
)


def _key(key_file: Path | None, passphrase_file: Path | None) -> BackupKey | None:
    from needleplan.storage.backup_crypto import BackupKey

    if key_file is not None and passphrase_file is not None:
        raise InputError.one(
            "passphrase_file",
            str(passphrase_file),
            "give --key-file or --passphrase-file, not both",
        )
    if key_file is not None:
        return BackupKey.from_key_file(key_file)
    if passphrase_file is not None:
        return BackupKey.from_passphrase_file(passphrase_file)
    return None


@app.command("backup")
def backup_cmd(
    file: Path | None = typer.Argument(
        None, help="Target file (.json, .json.gz; .json.gz.enc when encrypted)."
    ),
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Write a dated backup into this folder, verify it, then rotate the folder.",
    ),
    keep_daily: int = typer.Option(7, "--keep-daily", help="With --dir: daily backups kept."),
    keep_weekly: int = typer.Option(4, "--keep-weekly", help="With --dir: weekly backups kept."),
    keep_monthly: int = typer.Option(
        12, "--keep-monthly", help="With --dir: monthly backups kept."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Restore FILE into a scratch database and compare (--dir always)."
    ),
    key_file: Path | None = KeyFileOpt,
    passphrase_file: Path | None = PassphraseFileOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Write a consistent snapshot of every record (safe while the app runs), 0600."""
    from needleplan.storage import backup, backup_schedule

    if (file is None) == (directory is None):
        raise InputError.one("file", str(file or ""), "give a FILE or --dir DIR (one of them)")
    key = _key(key_file, passphrase_file)
    if directory is not None:
        retention = backup_schedule.Retention(keep_daily, keep_weekly, keep_monthly)
        with open_records(database) as db:
            done = backup_schedule.scheduled_backup(db.engine, directory, retention, key=key)
        rows = sum(done.rows.values())
        console.print(
            f"backup written to {escape(str(done.path))}: {rows} rows, "
            f"{done.verification.media_files} media files"
            + (", encrypted" if key is not None else "")
        )
        console.print(f"verified: a scratch restore holds the same {rows} rows in every table")
        console.print(
            f"rotation: {len(done.kept)} kept, {len(done.deleted)} deleted"
            + "".join(f"\n  deleted {escape(p.name)}" for p in done.deleted)
        )
        return
    assert file is not None
    with open_records(database) as db:
        counts = backup.backup(db.engine, file, key=key)
    console.print(
        f"backup written to {escape(str(file))}: {sum(counts.values())} rows"
        + (", encrypted" if key is not None else "")
    )
    if verify:
        backup_schedule.verify(file, counts, key)
        console.print(f"verified: a scratch restore holds the same {sum(counts.values())} rows")


@app.command("restore")
def restore_cmd(
    file: Path = typer.Argument(..., help="A file written by needleplan backup."),
    key_file: Path | None = KeyFileOpt,
    passphrase_file: Path | None = PassphraseFileOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Restore a backup (encrypted ones with their key) into an empty database."""
    from needleplan.storage import backup

    key = _key(key_file, passphrase_file)
    with open_records(database, upgrade=False) as db:
        counts = backup.restore(db.engine, file, key=key)
    console.print(f"restored {sum(counts.values())} rows from {escape(str(file))}")


@app.command("backup-key")
def backup_key_cmd(
    file: Path = typer.Argument(..., help="The new key file (never overwritten)."),
) -> None:
    """Make a new random key file for encrypted backups (0600). Keep a copy off the machine:
    without it no encrypted backup opens."""
    from needleplan.storage.backup_crypto import write_key_file

    made = write_key_file(file)
    console.print(f"key file written to {escape(str(made))} (mode 0600)")

"""Encrypted, verified and rotated backups (issue 17): AES-256-GCM with a key file or a
passphrase, one clear error for a wrong key or an altered file, files 0600; a scheduled backup
restores itself into a scratch database and compares every table's rows before it rotates the
folder (newest per day, ISO week and month)."""

from __future__ import annotations

import gzip
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.exceptions import InputError, StateError
from needleplan.storage import Database
from needleplan.storage import backup as backups
from needleplan.storage.backup_crypto import BackupKey, write_key_file
from needleplan.storage.backup_schedule import (
    Retention,
    backup_name,
    scheduled_backup,
    stamp_of,
    to_keep,
    verify,
)

PASSPHRASE = "correct horse battery staple"


def _counts(db: Database) -> dict[str, int]:
    from sqlalchemy import func, select

    with db.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in backups.backed_up_tables()
        }


def test_an_encrypted_backup_opens_only_with_its_key(
    populated: Any, empty_database_url: str, tmp_path: Path
) -> None:
    key = BackupKey.from_key_file(write_key_file(tmp_path / "keys" / "backup.key"))
    assert stat.S_IMODE((tmp_path / "keys" / "backup.key").stat().st_mode) == 0o600
    file = tmp_path / "out" / "clinic.json.gz.enc"
    written = backups.backup(populated.db.engine, file, key=key)
    raw = file.read_bytes()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert raw.startswith(b"NPBACKUP-AEAD\n")
    assert b"Doe" not in raw
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(raw)
    # no key, another key file, a passphrase: one clear error each, nothing restored
    with pytest.raises(InputError, match="is an encrypted backup: give --key-file"):
        backups.read_backup(file)
    other = BackupKey.from_key_file(write_key_file(tmp_path / "other.key"))
    with pytest.raises(InputError, match="key_file: does not open this backup"):
        backups.read_backup(file, other)
    with pytest.raises(InputError, match="it needs --key-file"):
        backups.read_backup(file, BackupKey.from_passphrase(PASSPHRASE))
    target = Database.open(empty_database_url)
    try:
        with pytest.raises(InputError, match="does not open"):
            backups.restore(target.engine, file, tmp_path / "m", key=other)
        assert backups.is_empty(target.engine)
        restored = backups.restore(target.engine, file, tmp_path / "m", key=key)
        assert restored == written
        assert _counts(target) == _counts(populated.db)
    finally:
        target.dispose()


def test_a_passphrase_backup_and_an_altered_byte(populated: Any, tmp_path: Path) -> None:
    key = BackupKey.from_passphrase(PASSPHRASE)
    file = tmp_path / "clinic.json.gz.enc"
    backups.backup(populated.db.engine, file, key=key)
    assert backups.read_backup(file, BackupKey.from_passphrase(PASSPHRASE))["tables"]
    with pytest.raises(InputError, match="passphrase: does not open this backup"):
        backups.read_backup(file, BackupKey.from_passphrase(PASSPHRASE + "!"))
    raw = bytearray(file.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    file.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="or the file was altered"):
        backups.read_backup(file, key)
    file.write_bytes(bytes(raw[:20]))
    with pytest.raises(InputError, match="cut short"):
        backups.read_backup(file, key)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: BackupKey.from_passphrase("short"), "passphrase: must be at least 12"),
        (lambda p: BackupKey.from_key_file(p / "missing.key"), "key_file: cannot be read"),
        (lambda p: BackupKey.from_passphrase_file(p / "nope"), "passphrase_file: cannot be read"),
        (lambda p: write_key_file(p / "exists.key"), "already exists; never overwritten"),
    ],
)
def test_bad_keys_are_refused_naming_the_option(make: Any, message: str, tmp_path: Path) -> None:
    (tmp_path / "exists.key").write_text("x" * 40)
    with pytest.raises(InputError, match=message):
        make(tmp_path)


def test_a_scheduled_backup_is_verified_by_a_scratch_restore_then_the_folder_rotated(
    populated: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    now = datetime(2031, 3, 31, 2, 30, tzinfo=UTC)
    # forty earlier nightly backups (their content does not matter to the rotation) and a file
    # of another name that is never touched
    folder.mkdir(mode=0o700)
    for days in range(1, 41):
        (folder / backup_name(now - timedelta(days=days), encrypted=True)).write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    key = BackupKey.from_passphrase(PASSPHRASE)
    done = scheduled_backup(
        populated.db.engine, folder, Retention(daily=3, weekly=2, monthly=2), key=key, now=now
    )
    assert done.path.name == "needleplan-20310331T023000Z.json.gz.enc"
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600
    assert done.verification.rows == done.rows == _counts(populated.db)
    assert done.verification.media_files == 2  # the photo and its thumbnail
    left = sorted(p.name for p in folder.iterdir())
    assert "notes.txt" in left
    kept_days = sorted(s.date().isoformat() for p in folder.iterdir() if (s := stamp_of(p.name)))
    # daily: 31, 30, 29 Mar; weekly: the newest of this ISO week (Monday 31 Mar) and of the week
    # before (Sunday 30 Mar); monthly: March (31) and February (28)
    assert kept_days == ["2031-02-28", "2031-03-29", "2031-03-30", "2031-03-31"]
    assert len(done.deleted) == 37
    # the kept backup opens with its passphrase
    assert backups.read_backup(done.path, key)["schema_revision"]


def test_a_backup_that_does_not_verify_fails_and_deletes_nothing(
    db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from needleplan import services

    services.ensure_clinic(db, "Test clinic", "Europe/London")
    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / backup_name(datetime(2030, 1, 1, tzinfo=UTC), encrypted=False)
    old.write_bytes(b"an older backup")
    real = backups.backup

    def losing_a_row(*args: Any, **kwargs: Any) -> dict[str, int]:
        counts = real(*args, **kwargs)
        return {**counts, "clinics": counts["clinics"] + 1}  # the file holds one row too few

    monkeypatch.setattr(backups, "backup", losing_a_row)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    with pytest.raises(StateError, match="table clinics has 1 rows after a restore, the database"):
        scheduled_backup(db.engine, folder, Retention(daily=1, weekly=0, monthly=0), now=now)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [old.name, "needleplan-20310101T000000Z.json.gz.failed"]


def test_verify_compares_every_table(db: Any, tmp_path: Path) -> None:
    file = tmp_path / "b.json.gz"
    counts = backups.backup(db.engine, file)
    assert verify(file, counts).rows == counts
    with pytest.raises(StateError, match="table patients has 0 rows"):
        verify(file, {**counts, "patients": 3})


@pytest.mark.parametrize(
    ("daily", "weekly", "monthly", "field"),
    [(0, 0, 0, "keep_daily"), (-1, 4, 12, "keep_daily"), (7, 10_001, 12, "keep_weekly")],
)
def test_a_retention_that_keeps_nothing_or_is_out_of_range_is_refused(
    daily: int, weekly: int, monthly: int, field: str
) -> None:
    with pytest.raises(InputError, match=field):
        Retention(daily, weekly, monthly)


stamps = st.lists(
    st.datetimes(
        min_value=datetime(2030, 1, 1), max_value=datetime(2033, 1, 1), timezones=st.just(UTC)
    ).map(lambda t: t.replace(microsecond=0)),
    min_size=1,
    max_size=60,
)


@given(
    stamps,
    st.integers(0, 10),
    st.integers(0, 6),
    st.integers(0, 6),
)
def test_rotation_keeps_the_newest_and_one_per_period(
    taken: list[datetime], daily: int, weekly: int, monthly: int
) -> None:
    if not (daily or weekly or monthly):
        daily = 1
    kept = to_keep(taken, Retention(daily, weekly, monthly))
    assert kept <= set(taken)
    assert max(taken) in kept
    assert len(kept) <= daily + weekly + monthly
    days = {t.date() for t in taken}
    newest_days = sorted(days, reverse=True)[:daily]
    for day in newest_days:  # the newest backup of each of the last `daily` days
        assert max(t for t in taken if t.date() == day) in kept
    assert stamp_of(backup_name(max(taken), encrypted=False)) == max(taken)

"""Backups carry the photos' media files: a restore into another media folder gives the same
bytes (checked against their SHA-256), private; a backup missing a photo's file, or holding a
file that does not match its hash, restores nothing.

The populated clinic (tests/conftest.py) and the restore's empty target
(test_storage_backup.py's ``migrated_empty_url``) are copies: the same rows, ids and media files
as filling and migrating new databases for each test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from needleplan.exceptions import InputError
from needleplan.storage import Database
from needleplan.storage.backup import backup, restore
from needleplan.storage.media import media_path

from .test_storage_backup import migrated_empty_url


@pytest.fixture
def empty_target_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A restore's target: a new database at the newest schema, without rows."""
    return migrated_empty_url(request, backend, tmp_path)


def _photo_hashes(db: Database) -> set[str]:
    with db.transaction() as uow:
        return uow.photos.hashes()


def test_backup_and_restore_keep_the_media_files(
    populated: Any, empty_target_url: str, tmp_path: Path, media_folder: Path
) -> None:
    wanted = _photo_hashes(populated.db)
    assert len(wanted) == 2  # the image and its thumbnail
    file = tmp_path / "clinic.json.gz"
    backup(populated.db.engine, file)
    data = json.loads(gzip.decompress(file.read_bytes()))
    assert set(data["media"]) == wanted
    elsewhere = tmp_path / "restored-media"
    target = Database.open(empty_target_url)
    try:
        restore(target.engine, file, media_root=elsewhere)
        assert _photo_hashes(target) == wanted
    finally:
        target.dispose()
    for digest in wanted:
        copy = media_path(elsewhere, digest)
        assert copy.read_bytes() == media_path(media_folder, digest).read_bytes()
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600


@pytest.mark.parametrize("damage", ["missing", "altered", "not-base64"])
def test_a_backup_with_a_missing_or_altered_media_file_restores_nothing(
    populated: Any, empty_target_url: str, tmp_path: Path, damage: str
) -> None:
    file = tmp_path / "clinic.json"
    backup(populated.db.engine, file)
    data = json.loads(file.read_text())
    digest = sorted(data["media"])[0]
    if damage == "missing":
        del data["media"][digest]
    elif damage == "altered":
        data["media"][digest] = "AAAA"
    else:
        data["media"][digest] = "%%%"
    file.write_text(json.dumps(data))
    target = Database.open(empty_target_url)
    try:
        with pytest.raises(InputError, match="media"):
            restore(target.engine, file, media_root=tmp_path / "out")
        with target.engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT COUNT(*) FROM patients")).scalar() == 0
    finally:
        target.dispose()
    assert not (tmp_path / "out").exists()

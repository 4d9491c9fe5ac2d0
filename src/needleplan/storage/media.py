"""The media folder: uploaded files (photos and their thumbnails) named by content hash.

Where it is (:func:`media_dir`): ``$NEEDLEPLAN_MEDIA_DIR`` when set; else a ``media`` folder
beside the SQLite database file; else (PostgreSQL, or an in-memory SQLite database) ``media``
under the user data folder the default database lives in. Folders are created 0700 and files
0600 (:mod:`needleplan.private_files`): nothing in it is world-readable.

A file is stored as ``<root>/<first two hex digits>/<sha256>`` where ``sha256`` is the SHA-256
of its bytes, so the same bytes are stored once and a file that was changed on disk no longer
matches its name (:func:`read_media` checks it).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from sqlalchemy import Engine

from needleplan.exceptions import InputError, NotFoundError
from needleplan.private_files import private_parent, write_private_bytes
from needleplan.storage.engine import default_database_path

ENV_VAR = "NEEDLEPLAN_MEDIA_DIR"
_HASH = re.compile(r"^[0-9a-f]{64}$")


def media_dir(engine: Engine | None = None) -> Path:
    """The media folder for the database behind ``engine`` (see the module docstring)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if engine is not None and engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).expanduser().resolve().parent / "media"
    return default_database_path().parent / "media"


def check_hash(value: str, field: str = "sha256") -> str:
    """``value`` if it is a lower-case hex SHA-256, else an InputError naming ``field``."""
    if not isinstance(value, str) or not _HASH.match(value):
        raise InputError.one(field, str(value)[:70], "must be a SHA-256 (64 lower-case hex digits)")
    return value


def media_path(root: Path, sha256: str) -> Path:
    check_hash(sha256)
    return root / sha256[:2] / sha256


def store_media(root: Path, data: bytes) -> str:
    """Store ``data`` (once) under its SHA-256 in ``root``; returns the hash."""
    digest = hashlib.sha256(data).hexdigest()
    target = media_path(root, digest)
    if not target.exists():
        private_parent(target)
        tmp = target.with_name(f".{digest}.tmp{os.getpid()}")
        write_private_bytes(tmp, data)
        os.replace(tmp, target)
    return digest


def read_media(root: Path, sha256: str) -> bytes:
    """The bytes stored under ``sha256``; NotFoundError when missing or no longer matching."""
    target = media_path(root, sha256)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"media file {sha256} is missing from {root}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise NotFoundError(f"media file {sha256} in {root} was changed on disk")
    return data

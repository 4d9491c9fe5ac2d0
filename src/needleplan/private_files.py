"""Files that hold patient data, created readable by their owner only.

Exports (CSV, FHIR), handouts and the SQLite database are created with mode 0600; the folders
needleplan creates for them get 0700 (folders that already exist are left as they are). A file
that already exists is truncated and set to 0600 as well.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_parent(path: str | os.PathLike[str]) -> Path:
    """Create the missing folders above ``path`` with mode 0700; returns ``path`` as a Path."""
    target = Path(path)
    missing: list[Path] = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by someone else
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is reduced by the umask
    return target


def touch_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (its folders 0700)."""
    target = private_parent(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing ("w" or "wb"), the file created or truncated as 0600."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_private writes only ('w' or 'wb'), not {mode!r}")
    target = private_parent(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with contextlib.suppress(OSError):  # a file system without modes
        os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode, **kwargs)


def write_private_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with open_private(path, "wb") as out:
        out.write(data)


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    with open_private(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)

"""Saved versions of the clinic calendar (table ``clinic_configs``): append-only, newest in force.

Rows are never changed or deleted. Saving appends a row; reverting appends a copy of an older
one. A version's number is its row id, so numbers only grow and the newest is the highest.
The TOML text is stored as the admin wrote it (comments included); validating it is the
services' job (:mod:`needleplan.services.clinic_calendar`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import ClinicConfigRow


@dataclass(frozen=True)
class ClinicConfigVersion:
    """One saved version: its number, the TOML text, the note, who saved it and when.

    ``user_id`` is None when the saver was not a database account (the CLI, or a web user from
    another store); ``username`` still names them.
    """

    id: int
    toml: str
    note: str
    created_at: datetime
    user_id: int | None
    username: str


def _version(row: ClinicConfigRow) -> ClinicConfigVersion:
    return ClinicConfigVersion(
        id=row.id,
        toml=row.toml,
        note=row.note,
        created_at=row.created_at,
        user_id=row.user_id,
        username=row.username,
    )


class ClinicConfigRepository:
    """Reads and appends clinic calendar versions inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, toml: str, note: str, at: datetime, user_id: int | None, username: str
    ) -> ClinicConfigVersion:
        row = ClinicConfigRow(
            toml=toml, note=note, created_at=at, user_id=user_id, username=username
        )
        self.session.add(row)
        self.session.flush()
        return _version(row)

    def newest_id(self) -> int | None:
        """The number of the version in force, or None when none was saved (one indexed read)."""
        newest: int | None = self.session.execute(select(func.max(ClinicConfigRow.id))).scalar()
        return newest

    def newest(self) -> ClinicConfigVersion | None:
        row = self.session.execute(
            select(ClinicConfigRow).order_by(ClinicConfigRow.id.desc()).limit(1)
        ).scalar()
        return _version(row) if row is not None else None

    def get(self, version_id: int) -> ClinicConfigVersion:
        row = self.session.get(ClinicConfigRow, version_id)
        if row is None:
            raise NotFoundError(f"clinic calendar version {version_id} does not exist")
        return _version(row)

    def history(self, limit: int | None = None) -> list[ClinicConfigVersion]:
        """Saved versions, newest first."""
        stmt = select(ClinicConfigRow).order_by(ClinicConfigRow.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_version(r) for r in self.session.execute(stmt).scalars()]

    def count(self) -> int:
        total: int = self.session.execute(select(func.count(ClinicConfigRow.id))).scalar_one()
        return total


__all__ = ["ClinicConfigRepository", "ClinicConfigVersion"]

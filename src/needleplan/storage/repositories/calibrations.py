"""Clinic calibrations (table ``clinic_calibrations``): proposals and versioned adoptions.

Rows are never changed or deleted. A fit is appended as a proposal; adopting or reverting
appends an adoption with the next version number. The adoption with the highest version is
in force; with none, the clinic uses the default calibration. Validating a body is the
services' job (:mod:`needleplan.services.calibrations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import ClinicCalibrationRow

PROPOSAL = "proposal"
ADOPTION = "adoption"


@dataclass(frozen=True)
class CalibrationRecord:
    """One stored row: a proposal (``version`` None) or an adoption (``body`` None = default)."""

    id: int
    kind: str
    version: int | None
    proposal_id: int | None
    body: dict[str, Any] | None
    note: str
    created_at: datetime
    user_id: int | None
    username: str


def _record(row: ClinicCalibrationRow) -> CalibrationRecord:
    return CalibrationRecord(
        id=row.id,
        kind=row.kind,
        version=row.version,
        proposal_id=row.proposal_id,
        body=row.body,
        note=row.note,
        created_at=row.created_at,
        user_id=row.user_id,
        username=row.username,
    )


class CalibrationRepository:
    """Reads and appends clinic calibration rows inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_proposal(
        self, body: dict[str, Any], note: str, at: datetime, user_id: int | None, username: str
    ) -> CalibrationRecord:
        row = ClinicCalibrationRow(
            kind=PROPOSAL,
            version=None,
            proposal_id=None,
            body=body,
            note=note,
            created_at=at,
            user_id=user_id,
            username=username,
        )
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def add_adoption(
        self,
        body: dict[str, Any] | None,
        proposal_id: int | None,
        note: str,
        at: datetime,
        user_id: int | None,
        username: str,
    ) -> CalibrationRecord:
        """Append an adoption with the next version number (the unique version column makes
        two concurrent adoptions of one number impossible)."""
        newest: int | None = self.session.execute(
            select(func.max(ClinicCalibrationRow.version))
        ).scalar()
        row = ClinicCalibrationRow(
            kind=ADOPTION,
            version=(newest or 0) + 1,
            proposal_id=proposal_id,
            body=body,
            note=note,
            created_at=at,
            user_id=user_id,
            username=username,
        )
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def get(self, record_id: int) -> CalibrationRecord:
        row = self.session.get(ClinicCalibrationRow, record_id)
        if row is None:
            raise NotFoundError(f"clinic calibration proposal {record_id} does not exist")
        return _record(row)

    def version(self, version: int) -> CalibrationRecord:
        row = self.session.execute(
            select(ClinicCalibrationRow).where(ClinicCalibrationRow.version == version)
        ).scalar()
        if row is None:
            raise NotFoundError(f"clinic calibration version {version} does not exist")
        return _record(row)

    def in_force(self) -> CalibrationRecord | None:
        """The adoption with the highest version, or None (the default is in force)."""
        row = self.session.execute(
            select(ClinicCalibrationRow)
            .where(ClinicCalibrationRow.kind == ADOPTION)
            .order_by(ClinicCalibrationRow.version.desc())
            .limit(1)
        ).scalar()
        return _record(row) if row is not None else None

    def newest_proposal(self) -> CalibrationRecord | None:
        row = self.session.execute(
            select(ClinicCalibrationRow)
            .where(ClinicCalibrationRow.kind == PROPOSAL)
            .order_by(ClinicCalibrationRow.id.desc())
            .limit(1)
        ).scalar()
        return _record(row) if row is not None else None

    def history(self, limit: int = 50) -> list[CalibrationRecord]:
        """Rows newest first (proposals and adoptions)."""
        stmt = select(ClinicCalibrationRow).order_by(ClinicCalibrationRow.id.desc()).limit(limit)
        return [_record(r) for r in self.session.execute(stmt).scalars()]


__all__ = ["ADOPTION", "PROPOSAL", "CalibrationRecord", "CalibrationRepository"]

"""The clinic and its practitioners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    Clinic,
    Practitioner,
)
from needleplan.storage.repositories._common import get_row, keep
from needleplan.storage.tables import (
    ClinicRow,
    PractitionerRow,
)


def to_clinic(row: ClinicRow) -> Clinic:
    return Clinic(id=row.id, name=row.name, timezone=row.timezone)


def to_practitioner(row: PractitionerRow) -> Practitioner:
    return Practitioner(id=row.id, clinic_id=row.clinic_id, name=row.name, active=row.active)


class ClinicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def first(self) -> Clinic | None:
        row = self.session.execute(select(ClinicRow).order_by(ClinicRow.id).limit(1)).scalar()
        return to_clinic(row) if row else None

    def add(self, name: str, timezone: str, at: datetime) -> Clinic:
        row = ClinicRow(name=name, timezone=timezone, created_at=at)
        self.session.add(keep(self.session, row))
        self.session.flush()
        return to_clinic(row)

    def get(self, clinic_id: int) -> Clinic:
        return to_clinic(get_row(self.session, ClinicRow, clinic_id, "clinic"))

    def add_practitioner(self, clinic_id: int, name: str) -> Practitioner:
        self.get(clinic_id)
        row = PractitionerRow(clinic_id=clinic_id, name=name, active=True)
        self.session.add(keep(self.session, row))
        self.session.flush()
        return to_practitioner(row)

    def practitioner(self, practitioner_id: int) -> Practitioner:
        return to_practitioner(
            get_row(self.session, PractitionerRow, practitioner_id, "practitioner")
        )

    def practitioners(self) -> list[Practitioner]:
        rows = self.session.execute(select(PractitionerRow).order_by(PractitionerRow.id)).scalars()
        return [to_practitioner(r) for r in rows]

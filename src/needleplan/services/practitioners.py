"""The clinic and its practitioners."""

from __future__ import annotations

from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from needleplan.domain.records import (
    Clinic,
    Practitioner,
)
from needleplan.exceptions import (
    InputError,
)
from needleplan.scheduling import (
    ClinicConfig,
)
from needleplan.services._clock import utc_now
from needleplan.storage import Database

T = TypeVar("T")


def ensure_clinic(db: Database, name: str = "needleplan clinic", timezone: str = "UTC") -> Clinic:
    """The clinic of this database, created on first use."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError.one("timezone", timezone, "must be an IANA time zone name") from None
    with db.transaction() as uow:
        existing = uow.clinics.first()
        if existing is not None:
            return existing
        return uow.clinics.add(name, timezone, utc_now())


def add_practitioner(db: Database, name: str, *, clinic_id: int | None = None) -> Practitioner:
    clean = name.strip()
    if not clean or len(clean) > 200:
        raise InputError.one("name", name, "must be 1 to 200 characters")
    if clinic_id is None:
        clinic_id = ensure_clinic(db).id
    with db.transaction() as uow:
        return uow.clinics.add_practitioner(clinic_id, clean)


def list_practitioners(db: Database) -> list[Practitioner]:
    with db.transaction() as uow:
        return uow.clinics.practitioners()


def sync_practitioners(db: Database, clinic: ClinicConfig) -> dict[str, int]:
    """Practitioner ids by name for everyone in the clinic config (missing ones are added)."""
    with db.transaction() as uow:
        existing = uow.clinics.first()
        clinic_row = existing or uow.clinics.add(clinic.name, clinic.timezone, utc_now())
        ids = {p.name: p.id for p in uow.clinics.practitioners()}
        for person in clinic.practitioners:
            if person.name not in ids:
                ids[person.name] = uow.clinics.add_practitioner(clinic_row.id, person.name).id
        return {p.name: ids[p.name] for p in clinic.practitioners}

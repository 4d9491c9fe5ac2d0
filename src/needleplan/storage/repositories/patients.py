"""Patients: demographics, record numbers, the staff list's search."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    Patient,
    PatientDraft,
    Sex,
)
from needleplan.exceptions import ConflictError
from needleplan.storage.repositories._common import MAX_ROW_ID, get_row, keep
from needleplan.storage.tables import (
    PatientRow,
)


def to_patient(row: PatientRow) -> Patient:
    return Patient.model_construct(
        id=row.id,
        mrn=row.mrn,
        given_name=row.given_name,
        family_name=row.family_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        email=row.email,
        phone=row.phone,
        consent_treatment=row.consent_treatment,
        consent_contact=row.consent_contact,
        consent_research=row.consent_research,
        notes=row.notes,
        created_at=row.created_at,
    )


class PatientRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, draft: PatientDraft, at: datetime) -> Patient:
        if draft.mrn is not None and self.by_mrn(draft.mrn) is not None:
            raise ConflictError(f"mrn {draft.mrn} is already used by another patient")
        row = PatientRow(
            mrn=draft.mrn or f"tmp-{uuid.uuid4().hex}",
            given_name=draft.given_name,
            family_name=draft.family_name,
            birth_date=draft.birth_date,
            sex=draft.sex.value,
            email=draft.email,
            phone=draft.phone,
            consent_treatment=draft.consent_treatment,
            consent_contact=draft.consent_contact,
            consent_research=draft.consent_research,
            notes=draft.notes,
            created_at=at,
        )
        self.session.add(keep(self.session, row))
        self.session.flush()
        if draft.mrn is None:
            row.mrn = f"P{row.id:06d}"
            self.session.flush()
        return to_patient(row)

    def get(self, patient_id: int, *, lock: bool = False) -> Patient:
        """The patient (``NotFoundError`` when none); ``lock`` holds her row to the commit, which
        serialises bookings for the same patient."""
        return to_patient(self._row(patient_id, lock=lock))

    def _row(self, patient_id: int, *, lock: bool = False) -> PatientRow:
        row: PatientRow = get_row(self.session, PatientRow, patient_id, "patient", lock=lock)
        return row

    def update(self, patient_id: int, draft: PatientDraft) -> Patient:
        """Replace her demographics, contact details, consents and notes with ``draft``'s.

        The record number changes only when ``draft.mrn`` is given; one used by another
        patient raises :class:`ConflictError` and nothing changes.
        """
        row = self._row(patient_id)
        if draft.mrn is not None and draft.mrn != row.mrn:
            other = self.by_mrn(draft.mrn)
            if other is not None and other.id != patient_id:
                raise ConflictError(f"mrn {draft.mrn} is already used by another patient")
            row.mrn = draft.mrn
        row.given_name = draft.given_name
        row.family_name = draft.family_name
        row.birth_date = draft.birth_date
        row.sex = draft.sex.value
        row.email = draft.email
        row.phone = draft.phone
        row.consent_treatment = draft.consent_treatment
        row.consent_contact = draft.consent_contact
        row.consent_research = draft.consent_research
        row.notes = draft.notes
        self.session.flush()
        return to_patient(row)

    def by_mrn(self, mrn: str) -> Patient | None:
        row = self.session.execute(select(PatientRow).where(PatientRow.mrn == mrn)).scalar()
        return to_patient(row) if row else None

    def ids_by_mrn(self, mrns: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(mrns))
        out: dict[str, int] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self.session.execute(
                select(PatientRow.mrn, PatientRow.id).where(PatientRow.mrn.in_(chunk))
            )
            out.update({m: pid for m, pid in rows})
        return out

    def mrns_by_id(self) -> dict[int, str]:
        return {pid: m for pid, m in self.session.execute(select(PatientRow.id, PatientRow.mrn))}

    def search(self, search: str | None = None, limit: int = 100, offset: int = 0) -> list[Patient]:
        stmt = select(PatientRow)
        if search:
            like = f"%{search.lower()}%"
            stmt = stmt.where(
                or_(
                    func.lower(PatientRow.family_name).like(like),
                    func.lower(PatientRow.given_name).like(like),
                    func.lower(PatientRow.mrn).like(like),
                )
            )
        stmt = stmt.order_by(PatientRow.family_name, PatientRow.given_name, PatientRow.id)
        rows = self.session.execute(stmt.limit(limit).offset(offset)).scalars()
        return [to_patient(r) for r in rows]

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(PatientRow)).scalar_one())


def parse_birth_date(text: str) -> date | None:
    """``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``DD/MM/YYYY`` as a date, else None."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class PatientFinder:
    """Patient search for the staff list: name words, date of birth, id or record number."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, query: str) -> list[Any]:
        text = query.strip()
        if not text:
            return []
        born = parse_birth_date(text)
        if born is not None:
            return [PatientRow.birth_date == born]
        if text.isascii() and text.isdigit():
            # Digits are compared as text (record number, phone); as an id only when they are
            # one (no leading zero, within the 32-bit column), so no term overflows the column.
            matches = [
                func.lower(PatientRow.mrn) == text.lower(),
                PatientRow.phone.like(f"%{text}%"),
            ]
            if text[0] != "0" and len(text) <= 10 and int(text) <= MAX_ROW_ID:
                matches.append(PatientRow.id == int(text))
            return [or_(*matches)]
        conditions: list[Any] = []
        for word in text.lower().split()[:5]:
            like = "%" + word.replace("\\", "").replace("%", "").replace("_", "") + "%"
            conditions.append(
                or_(
                    func.lower(PatientRow.family_name).like(like),
                    func.lower(PatientRow.given_name).like(like),
                    func.lower(PatientRow.mrn).like(like),
                )
            )
        return conditions

    def page(self, query: str, limit: int, offset: int) -> tuple[list[Patient], int]:
        where = self._where(query)
        total = self.session.execute(
            select(func.count()).select_from(PatientRow).where(*where)
        ).scalar_one()
        stmt = (
            select(PatientRow)
            .where(*where)
            .order_by(PatientRow.family_name, PatientRow.given_name, PatientRow.id)
            .limit(limit)
            .offset(offset)
        )
        return [to_patient(r) for r in self.session.execute(stmt).scalars()], int(total)

"""Patients: demographics, record numbers, the staff list's search."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, union, update
from sqlalchemy.orm import Session

from needleplan.domain.name_keys import name_key, search_keys
from needleplan.domain.records import (
    ConsentChange,
    Patient,
    PatientDraft,
    Sex,
)
from needleplan.exceptions import ConflictError
from needleplan.storage.repositories._common import MAX_ROW_ID, get_row, keep
from needleplan.storage.tables import (
    AppointmentRow,
    AssessmentRow,
    ConsentChangeRow,
    CourseRow,
    MeasurementRow,
    PatientLanguageRow,
    PatientNameTokenRow,
    PatientRow,
    PerformedSessionRow,
    RecallRow,
)
from needleplan.storage.tables.scale import phone_digits_sql

#: The tables whose rows belong to one patient (moved by :meth:`PatientRepository.move_records`).
_CHILD_TABLES: tuple[tuple[str, Any], ...] = (
    ("assessments", AssessmentRow),
    ("courses", CourseRow),
    ("appointments", AppointmentRow),
    ("sessions", PerformedSessionRow),
    ("measurements", MeasurementRow),
    ("recalls", RecallRow),
    ("consent_changes", ConsentChangeRow),
)


def _patient_tables() -> list[Any]:
    """Every table with a ``patient_id`` column referring to ``patients.id``."""
    from needleplan.storage.tables import metadata

    return [
        t
        for t in metadata.sorted_tables
        if "patient_id" in t.c
        and any(fk.column.table.name == "patients" for fk in t.c.patient_id.foreign_keys)
    ]


def phone_digits(phone: str | None) -> str:
    """The digits of a phone number (``+49 30 1234-567`` -> ``49301234567``)."""
    return "".join(ch for ch in phone or "" if ch.isdigit())


def _digits_sql(column: Any) -> Any:
    return phone_digits_sql(column)


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


def _to_consent(row: ConsentChangeRow) -> ConsentChange:
    return ConsentChange.model_construct(
        id=row.id,
        patient_id=row.patient_id,
        consent=row.consent,
        granted=row.granted,
        changed_at=row.changed_at,
        changed_by=row.changed_by,
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

    def many(self, patient_ids: Iterable[int]) -> dict[int, Patient]:
        """The patients with these ids (ids with no patient are left out), in queries of 500."""
        wanted = sorted(set(patient_ids))
        out: dict[int, Patient] = {}
        for i in range(0, len(wanted), 500):
            rows = self.session.execute(
                select(PatientRow).where(PatientRow.id.in_(wanted[i : i + 500]))
            ).scalars()
            out.update((r.id, to_patient(r)) for r in rows)
        return out

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

    def likely_duplicates(
        self, draft: PatientDraft, *, exclude_id: int | None = None
    ) -> list[tuple[Patient, str]]:
        """Patients who are likely the same person as ``draft``, each with what matched:
        the same given and family name (their search keys: case and accents aside,
        :mod:`needleplan.domain.name_keys`) and date of birth, the same phone number (its
        digits), or the same e-mail address (case-insensitive). Oldest first."""
        given, family = name_key(draft.given_name), name_key(draft.family_name)
        matches: list[Any] = [
            (PatientRow.given_key == given)
            & (PatientRow.family_key == family)
            & (PatientRow.birth_date == draft.birth_date)
        ]
        digits = phone_digits(draft.phone)
        if len(digits) >= 5:
            matches.append(_digits_sql(PatientRow.phone) == digits)
        if draft.email:
            matches.append(func.lower(PatientRow.email) == draft.email.lower())
        stmt = select(PatientRow).where(or_(*matches)).order_by(PatientRow.id).limit(20)
        if exclude_id is not None:
            stmt = stmt.where(PatientRow.id != exclude_id)
        out: list[tuple[Patient, str]] = []
        for row in self.session.execute(stmt).scalars():
            reasons = []
            if (
                row.given_key == given
                and row.family_key == family
                and row.birth_date == draft.birth_date
            ):
                reasons.append("name and date of birth")
            if len(digits) >= 5 and phone_digits(row.phone) == digits:
                reasons.append("phone")
            if draft.email and (row.email or "").lower() == draft.email.lower():
                reasons.append("e-mail")
            out.append((to_patient(row), ", ".join(reasons) or "contact details"))
        return out

    def add_consent_change(
        self, patient_id: int, consent: str, granted: bool, at: datetime, by: str
    ) -> ConsentChange:
        row = ConsentChangeRow(
            patient_id=patient_id, consent=consent, granted=granted, changed_at=at, changed_by=by
        )
        self.session.add(row)
        self.session.flush()
        return _to_consent(row)

    def consent_history(self, patient_id: int) -> list[ConsentChange]:
        """Her consent changes, newest first."""
        rows = self.session.execute(
            select(ConsentChangeRow)
            .where(ConsentChangeRow.patient_id == patient_id)
            .order_by(ConsentChangeRow.changed_at.desc(), ConsentChangeRow.id.desc())
        ).scalars()
        return [_to_consent(r) for r in rows]

    def language(self, patient_id: int) -> str | None:
        """The language she reads, when she chose one (else None: the clinic's default)."""
        row = self.session.get(PatientLanguageRow, patient_id)
        return row.language if row is not None else None

    def set_language(self, patient_id: int, language: str | None, at: datetime) -> None:
        """Record the language she reads; None goes back to the clinic's default."""
        row = self.session.get(PatientLanguageRow, patient_id)
        if language is None:
            if row is not None:
                self.session.delete(row)
        elif row is None:
            self.session.add(
                PatientLanguageRow(patient_id=patient_id, language=language, changed_at=at)
            )
        else:
            row.language, row.changed_at = language, at
        self.session.flush()

    def move_records(self, from_id: int, to_id: int) -> dict[str, int]:
        """Move every record of patient ``from_id`` to ``to_id`` and delete ``from_id``'s row.

        Returns how many rows moved per kind (assessments, courses, appointments, sessions,
        measurements, recalls, consent_changes, and every other table that refers to a patient:
        found from the schema, so a table added later moves too). A one-row-per-patient table
        (a message opt-out) keeps the kept patient's row when both have one. The audit log
        keeps its events as written.
        """
        self._row(to_id, lock=True)
        self._row(from_id, lock=True)
        # her name's search words go with her row (the kept patient keeps her own)
        self.session.execute(
            delete(PatientNameTokenRow).where(PatientNameTokenRow.patient_id == from_id)
        )
        moved: dict[str, int] = {}
        known = {table.__table__.name for _, table in _CHILD_TABLES}
        known.add(PatientNameTokenRow.__tablename__)  # her name's words went above
        tables = [(name, table.__table__) for name, table in _CHILD_TABLES]
        tables += [(t.name, t) for t in _patient_tables() if t.name not in known]
        for name, table in tables:
            column = table.c.patient_id
            if column.primary_key:  # one row per patient: the kept patient's row wins
                kept = select(column).where(column == to_id)
                if self.session.execute(kept).first() is not None:
                    self.session.execute(delete(table).where(column == from_id))
            result = self.session.execute(
                update(table).where(column == from_id).values(patient_id=to_id)
            )
            moved[name] = int(getattr(result, "rowcount", 0) or 0)
        self.session.execute(delete(PatientRow).where(PatientRow.id == from_id))
        self.session.flush()
        self.session.expire_all()
        return moved

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
        """Patients in name order; ``search`` matches as the staff list's search does."""
        stmt = select(PatientRow).where(*PatientFinder(self.session)._where(search or ""))
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


def _prefix(expr: Any, word: str) -> Any:
    """``expr`` starts with ``word``, as a range an index on ``expr`` answers (a LIKE with a
    pattern rechecks it, for databases whose collation orders text other than by code point)."""
    clean = word.replace("\\", "").replace("%", "").replace("_", "")
    if not clean or ord(clean[-1]) >= 0x10FFFF:
        return expr.like(clean + "%")
    upper = clean[:-1] + chr(ord(clean[-1]) + 1)
    return and_(expr >= clean, expr < upper, expr.like(clean + "%"))


#: Patients found by later words of their names that the search lists by id (beyond: a UNION).
TOKEN_IDS = 1000

#: Characters besides digits that make a search term a phone number (``+49 30 1234-567``).
_PHONE_CHARS = frozenset("0123456789 -()./+")


class PatientFinder:
    """Patient search for the staff list: name prefixes, date of birth, id, record number,
    e-mail address or phone number. Every term is answered from an index (migrations 0026 and
    0029, 0030, docs/scale.md): a name word matches the start of the given or family name's
    search key (case and accents aside, ``Ozdemir`` finds ``Özdemir``;
    :mod:`needleplan.domain.name_keys`) or of a later word of it (``lopez`` finds ``García
    López``), an e-mail the start of the address, a phone number the start of the stored
    number's digits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, query: str) -> list[Any]:
        text = query.strip()
        if not text:
            return []
        born = parse_birth_date(text)
        if born is not None:
            return [PatientRow.birth_date == born]
        digits = phone_digits(text)
        if text.isascii() and set(text) <= _PHONE_CHARS and digits:
            # Digits are compared as text (record number, phone digits); as an id only when
            # they are one (no leading zero, within the 32-bit column), so no term overflows
            # the column.
            matches = [PatientRow.mrn == text, _prefix(phone_digits_sql(PatientRow.phone), digits)]
            if text.isdigit() and text[0] != "0" and len(text) <= 10 and int(text) <= MAX_ROW_ID:
                matches.append(PatientRow.id == int(text))
            return [or_(*matches)]
        if "@" in text:
            return [_prefix(func.lower(PatientRow.email), text.lower())]
        conditions: list[Any] = []
        for word in text.split()[:5]:
            keys = [k for k in search_keys(word) if k]
            ranges = [
                _prefix(column, key)
                for key in keys
                for column in (PatientRow.family_key, PatientRow.given_key)
            ]
            ranges += [
                _prefix(PatientRow.mrn, m) for m in dict.fromkeys((word.upper(), word.lower()))
            ]
            conditions.append(self._with_later_words(ranges, keys))
        return conditions

    def _with_later_words(self, ranges: list[Any], keys: list[str]) -> Any:
        """``ranges`` (index ranges on ``patients``) or a later word of her name starting with
        one of ``keys``. The token table is read first: its few patients join the ranges as a
        list of ids, so PostgreSQL still ORs index scans (a subquery in the OR would make it
        scan every patient); a word that starts very many later words (``a``) becomes one UNION
        of the index ranges instead."""
        if not keys:
            return or_(*ranges)
        words = or_(*(_prefix(PatientNameTokenRow.token, key) for key in keys))
        found = self.session.scalars(
            select(PatientNameTokenRow.patient_id).where(words).limit(TOKEN_IDS + 1)
        ).all()
        if not found:
            return or_(*ranges)
        if len(found) <= TOKEN_IDS:
            return or_(*ranges, PatientRow.id.in_(sorted(set(found))))
        ids = [select(PatientRow.id).where(r) for r in ranges]
        return PatientRow.id.in_(union(*ids, select(PatientNameTokenRow.patient_id).where(words)))

    def _phone_fallback(self, query: str) -> list[Any]:
        """A phone number written without its country code (``7987654321`` for ``+44 7987
        654321``): digits anywhere in the number. No index answers it (a scan), so it runs only
        when the indexed search found nobody."""
        text = query.strip()
        digits = phone_digits(text)
        if text.isascii() and set(text) <= _PHONE_CHARS and len(digits) >= 6:
            return [phone_digits_sql(PatientRow.phone).like(f"%{digits}%")]
        return []

    def page(self, query: str, limit: int, offset: int) -> tuple[list[Patient], int]:
        where = self._where(query)
        total = self.session.execute(
            select(func.count()).select_from(PatientRow).where(*where)
        ).scalar_one()
        if not total and self._phone_fallback(query):
            where = self._phone_fallback(query)
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

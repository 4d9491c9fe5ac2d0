"""Patients: register, change, find, search, and the whole file of one patient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from needleplan.domain.language import check_language
from needleplan.domain.records import (
    CONSENTS,
    Appointment,
    AssessmentRecord,
    ConsentChange,
    Course,
    Measurement,
    Patient,
    PatientDraft,
    PerformedSession,
    RecallEntry,
    RecallStatus,
    parse_record,
)
from needleplan.exceptions import (
    ConflictError,
    DuplicatePatientError,
    InputError,
    NotFoundError,
    StateError,
)
from needleplan.services._clock import utc_now
from needleplan.services.audit import AuditNote
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")


def register_patient(
    db: Database,
    data: PatientDraft | Mapping[str, Any],
    *,
    confirm_duplicate: bool = False,
    note: AuditNote | None = None,
) -> Patient:
    """Register a patient; the record number (``mrn``) is assigned when not given.

    A patient whose name and date of birth, phone or e-mail match an existing record is
    refused with :class:`DuplicatePatientError` (naming the record) unless
    ``confirm_duplicate``; registered anyway, ``note`` (the caller's audit event) records
    which records she matched. Consents given at registration start her consent history,
    changed by ``note.actor`` (``"system"`` without a note).
    """
    draft = parse_record(PatientDraft, data)
    with db.transaction() as uow:
        if draft.mrn is not None and uow.patients.by_mrn(draft.mrn) is not None:
            raise ConflictError(f"mrn {draft.mrn} is already used by another patient")
        matches = uow.patients.likely_duplicates(draft)
        if matches and not confirm_duplicate:
            raise DuplicatePatientError([(p.id, p.mrn, why) for p, why in matches])
        at = utc_now()
        patient = uow.patients.add(draft, at)
        by = note.actor if note is not None else "system"
        for consent in CONSENTS:
            if getattr(patient, f"consent_{consent}"):
                uow.patients.add_consent_change(patient.id, consent, True, at, by)
        if note is not None and matches:
            ids = ",".join(str(p.id) for p, _ in matches)
            note.detail = f"{note.detail} duplicate_confirmed={ids}".strip()
        return patient


def likely_duplicates(
    db: Database, data: PatientDraft | Mapping[str, Any], *, exclude_id: int | None = None
) -> list[tuple[Patient, str]]:
    """Existing patients who are likely the same person as ``data``, with what matched."""
    draft = parse_record(PatientDraft, data)
    with db.transaction() as uow:
        return uow.patients.likely_duplicates(draft, exclude_id=exclude_id)


def update_patient(
    db: Database,
    patient_id: int,
    changes: Mapping[str, Any],
    *,
    note: AuditNote | None = None,
) -> Patient:
    """Change a patient's demographics, contact details or consent flags (validated as a whole).

    ``changes`` names only the fields that change; ``mrn`` changes too when given (must stay
    unique). Unknown fields are refused. ``language`` (a shipped language code, or None / ""
    for the clinic's default) is the language of her messages and handout. Each consent given
    or withdrawn is added to her consent history, changed by ``note.actor`` (``"system"``
    without a note); ``note.detail`` lists the changed fields' names (never their values).
    """
    changes = dict(changes)
    new_language = _language_change(changes)
    with db.transaction() as uow:
        before = uow.patients.get(patient_id, lock=True)
        current = before.model_dump(exclude={"id", "created_at"})
        draft = parse_record(PatientDraft, current | changes)
        after = uow.patients.update(patient_id, draft)
        _record_consents(uow, before, after, note.actor if note is not None else "system")
        changed = sorted(k for k in current if getattr(before, k) != getattr(after, k))
        if new_language is not None and uow.patients.language(patient_id) != new_language[0]:
            uow.patients.set_language(patient_id, new_language[0], utc_now())
            changed.append("language")
        if note is not None:
            note.detail = f"{note.detail} changed={','.join(changed) or 'nothing'}".strip()
        return after


def _language_change(changes: dict[str, Any]) -> tuple[str | None] | None:
    """``(code or None,)`` when ``changes`` sets her language (popped from it), else None."""
    if "language" not in changes:
        return None
    value = changes.pop("language")
    if value is None or (isinstance(value, str) and not value.strip()):
        return (None,)
    try:
        return (check_language(value),)
    except ValueError as exc:
        raise InputError.one("language", value, str(exc)) from None


def patient_language(db: Database, patient_id: int) -> str | None:
    """The language she reads (her messages and handout), or None for the clinic's default."""
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.patients.language(patient_id)


def _record_consents(uow: UnitOfWork, before: Patient, after: Patient, by: str) -> None:
    at = utc_now()
    for consent in CONSENTS:
        was, now = getattr(before, f"consent_{consent}"), getattr(after, f"consent_{consent}")
        if was != now:
            uow.patients.add_consent_change(after.id, consent, bool(now), at, by)


def consent_history(db: Database, patient_id: int) -> list[ConsentChange]:
    """Every consent she gave or withdrew (which, who, when), newest first."""
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.patients.consent_history(patient_id)


@dataclass(frozen=True)
class MergeResult:
    """The record kept, the id of the record merged into it (now gone) and what moved."""

    kept: Patient
    removed_id: int
    moved: dict[str, int]


def merge_patients(
    db: Database, keep_id: int, remove_id: int, *, note: AuditNote | None = None
) -> MergeResult:
    """Merge patient ``remove_id`` into ``keep_id``: every record of hers (assessments,
    courses, appointments, performed sessions, measurements, recall entries, consent history)
    moves to ``keep_id`` and the ``remove_id`` record is deleted.

    The kept record's demographics and consents stay; its empty e-mail or phone is filled from
    the removed one. Refused (``StateError``) when both have an open (planned or active)
    course: one person has one course at a time, so one must be closed first.
    ``note.detail`` records ``merged=<remove_id>`` and the counts moved.
    """
    if keep_id == remove_id:
        raise InputError.one("merge", remove_id, "a record cannot be merged into itself")
    with db.transaction() as uow:
        keep = uow.patients.get(keep_id, lock=True)
        gone = uow.patients.get(remove_id, lock=True)
        open_keep = [c for c in uow.courses.for_patient(keep_id) if not c.status.is_final]
        open_gone = [c for c in uow.courses.for_patient(remove_id) if not c.status.is_final]
        if open_keep and open_gone:
            raise StateError(
                f"both records have an open course (course {open_keep[0].id} of patient "
                f"{keep_id} and course {open_gone[0].id} of patient {remove_id}): "
                "complete or cancel one of them before merging"
            )
        fill: dict[str, Any] = {}
        if not keep.email and gone.email:
            fill["email"] = gone.email
        if not keep.phone and gone.phone:
            fill["phone"] = gone.phone
        moved = uow.patients.move_records(remove_id, keep_id)
        if fill:
            current = keep.model_dump(exclude={"id", "created_at"})
            keep = uow.patients.update(keep_id, parse_record(PatientDraft, current | fill))
        else:
            keep = uow.patients.get(keep_id)
        if note is not None:
            note.patient_id = keep_id
            counts = " ".join(f"{k}={v}" for k, v in moved.items() if v)
            note.detail = f"{note.detail} merged={remove_id} {counts}".strip()
        return MergeResult(kept=keep, removed_id=remove_id, moved=moved)


def get_patient(db: Database, patient_id: int) -> Patient:
    with db.transaction() as uow:
        return uow.patients.get(patient_id)


def patients_by_id(db: Database, patient_ids: Iterable[int]) -> dict[int, Patient]:
    """The patients with these ids, in a few queries (a page listing many patients)."""
    with db.transaction() as uow:
        return uow.patients.many(patient_ids)


def find_patient(db: Database, key: str) -> Patient:
    """A patient by record number, or by numeric id when ``key`` is all digits."""
    with db.transaction() as uow:
        found = uow.patients.by_mrn(key)
        if found is None and key.isdigit():
            return uow.patients.get(int(key))
        if found is None:
            raise NotFoundError(f"no patient with record number {key}")
        return found


def list_patients(
    db: Database, search: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[Patient]:
    if not 1 <= limit <= 10_000:
        raise InputError.one("limit", limit, "must be between 1 and 10000")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    with db.transaction() as uow:
        return uow.patients.search(search, limit=limit, offset=offset)


@dataclass(frozen=True)
class PatientFile:
    """Everything stored about one patient (what ``patient show`` prints)."""

    patient: Patient
    assessments: list[AssessmentRecord]
    courses: list[Course]
    appointments: list[Appointment]
    sessions: list[PerformedSession]
    measurements: list[Measurement]
    recalls: list[RecallEntry]
    consents: list[ConsentChange] = field(default_factory=list)


@dataclass(frozen=True)
class TreatmentRecord:
    """What the outcome model reads of one patient: her assessments (newest first), courses,
    appointments, performed sessions and measurements (oldest first), as in her
    :class:`PatientFile`."""

    patient_id: int
    assessments: list[AssessmentRecord]
    courses: list[Course]
    appointments: list[Appointment]
    sessions: list[PerformedSession]
    measurements: list[Measurement]

    @classmethod
    def of(cls, pf: PatientFile) -> TreatmentRecord:
        return cls(
            pf.patient.id, pf.assessments, pf.courses, pf.appointments, pf.sessions, pf.measurements
        )


#: Patients whose records :func:`treatment_records` reads with one query per kind.
RECORDS_BATCH = 500


def treatment_records(db: Database, patient_ids: Iterable[int]) -> list[TreatmentRecord]:
    """The :class:`TreatmentRecord` of each patient in ``patient_ids``, in that order, read in one
    transaction with one query per kind of record for each :data:`RECORDS_BATCH` patients (a
    clinic-wide report or fit reads thousands of patients; a query per patient and kind would
    be most of its time). An id without any record gets empty lists."""
    ids = list(patient_ids)
    out: list[TreatmentRecord] = []
    with db.transaction() as uow:
        for start in range(0, len(ids), RECORDS_BATCH):
            part = ids[start : start + RECORDS_BATCH]
            assessments = uow.assessments.histories(part)
            courses = uow.courses.for_patients(part)
            appointments = uow.appointments.for_patients(part)
            sessions = uow.sessions.for_patients(part)
            measurements = uow.measurements.for_patients(part)
            out.extend(
                TreatmentRecord(
                    i,
                    assessments.get(i, []),
                    courses.get(i, []),
                    appointments.get(i, []),
                    sessions.get(i, []),
                    measurements.get(i, []),
                )
                for i in part
            )
    return out


def patient_file(db: Database, patient_id: int) -> PatientFile:
    with db.transaction() as uow:
        return PatientFile(
            patient=uow.patients.get(patient_id),
            assessments=uow.assessments.history(patient_id),
            courses=uow.courses.for_patient(patient_id),
            appointments=uow.appointments.for_patient(patient_id),
            sessions=uow.sessions.for_patient(patient_id),
            measurements=uow.measurements.for_patient(patient_id),
            recalls=uow.recalls.query(
                patient_id=patient_id, statuses=tuple(RecallStatus), due_by=None
            ),
            consents=uow.patients.consent_history(patient_id),
        )


def search_patients(
    db: Database, query: str = "", *, limit: int = 25, offset: int = 0
) -> tuple[list[Patient], int]:
    """One page of patients matching ``query`` and the number of matches.

    ``query`` is a date of birth (``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``DD/MM/YYYY``), a patient id
    or record number, the start of a phone number (its digits) or of an e-mail address, or
    words each the start of the given name, family name or record number (answered from the
    indexes of migration 0026, docs/scale.md). Ordered by family name, given name.
    """
    if not 1 <= limit <= 500:
        raise InputError.one("limit", limit, "must be between 1 and 500")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    if len(query) > 200:
        raise InputError.one("q", query[:20] + "…", "at most 200 characters")
    with db.transaction() as uow:
        return uow.patient_finder.page(query, limit, offset)

"""Repositories: queries over the tables and the mapping between rows and domain values.

Every repository works inside the caller's :class:`~needleplan.storage.database.UnitOfWork`
session; none of them commits. Rows never leave this package: callers get domain values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from needleplan.domain.assessment import Area, Assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import (
    AdverseEvent,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AssessmentRecord,
    AuditEvent,
    Clinic,
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    Course,
    CourseStatus,
    Lead,
    LedgerEntry,
    Measurement,
    MeasurementDraft,
    MeasurementScale,
    Patient,
    PatientDraft,
    PerformedSession,
    PerformedSessionDraft,
    Practitioner,
    RecallEntry,
    RecallStatus,
    Role,
    Sex,
    SlotRequest,
    User,
)
from needleplan.exceptions import ConflictError, NotFoundError
from needleplan.storage.tables import (
    SLOT_MINUTES,
    ApiTokenRow,
    AppointmentRow,
    AssessmentRow,
    AuditRow,
    ClinicRow,
    ContactAttemptRow,
    CourseRow,
    LeadRow,
    LedgerRow,
    MeasurementRow,
    PatientRow,
    PerformedSessionRow,
    PractitionerRow,
    RecallRow,
    SlotClaimRow,
    UserRow,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLOT = timedelta(minutes=SLOT_MINUTES)


def slot_starts(start: datetime, end: datetime) -> list[datetime]:
    """Start of every ``SLOT_MINUTES`` slot (UTC, epoch-aligned) that ``[start, end)`` overlaps.

    Two intervals that overlap at any instant share at least one slot, so a unique claim per
    slot rules out every overlap. Intervals that merely touch inside one slot (10:00-10:07 and
    10:07-10:15) also share a slot: times finer than the slot are treated as conflicting.
    """
    s = start.astimezone(UTC)
    e = end.astimezone(UTC)
    offset = (s - _EPOCH) % _SLOT
    cur = s - offset
    out: list[datetime] = []
    while cur < e:
        out.append(cur)
        cur += _SLOT
    return out


def _get(
    session: Session, row_type: type[Any], row_id: int, what: str, *, lock: bool = False
) -> Any:
    row = session.get(row_type, row_id, with_for_update=True if lock else None)
    if row is None:
        raise NotFoundError(f"{what} {row_id} does not exist")
    return row


# --------------------------------------------------------------------------- mapping


def to_clinic(row: ClinicRow) -> Clinic:
    return Clinic(id=row.id, name=row.name, timezone=row.timezone)


def to_practitioner(row: PractitionerRow) -> Practitioner:
    return Practitioner(id=row.id, clinic_id=row.clinic_id, name=row.name, active=row.active)


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


def to_assessment(row: AssessmentRow) -> AssessmentRecord:
    return AssessmentRecord(
        id=row.id,
        patient_id=row.patient_id,
        assessed_at=row.assessed_at,
        assessed_by=row.assessed_by,
        assessment=Assessment.model_validate(row.data),
        notes=row.notes,
    )


def to_course(row: CourseRow) -> Course:
    return Course(
        id=row.id,
        patient_id=row.patient_id,
        assessment_id=row.assessment_id,
        status=CourseStatus(row.status),
        planned_sessions=row.planned_sessions,
        remaining_sessions=row.remaining_sessions,
        protocol=Protocol.model_validate(row.protocol),
        guideline_version=row.guideline_version,
        created_at=row.created_at,
        status_changed_at=row.status_changed_at,
        note=row.note,
    )


def to_ledger(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        course_id=row.course_id,
        at=row.at,
        delta=row.delta,
        reason=row.reason,
        remaining_after=row.remaining_after,
    )


def to_appointment(row: AppointmentRow) -> Appointment:
    return Appointment(
        id=row.id,
        patient_id=row.patient_id,
        course_id=row.course_id,
        practitioner_id=row.practitioner_id,
        kind=AppointmentKind(row.kind),
        session_number=row.session_number,
        start=row.start_at,
        end=row.end_at,
        status=AppointmentStatus(row.status),
        note=row.note,
        sequence=row.sequence,
    )


def to_session(row: PerformedSessionRow) -> PerformedSession:
    return PerformedSession(
        id=row.id,
        appointment_id=row.appointment_id,
        course_id=row.course_id,
        patient_id=row.patient_id,
        performed_at=row.performed_at,
        areas=[Area(a) for a in row.areas],
        device=row.device,
        needle_depth_mm={Area(k): float(v) for k, v in row.needle_depth_mm.items()},
        passes=row.passes,
        product=row.product,
        lot=row.lot,
        practitioner_id=row.practitioner_id,
        notes=row.notes,
        adverse_events=[AdverseEvent.model_validate(e) for e in row.adverse_events],
    )


def to_measurement(row: MeasurementRow) -> Measurement:
    return Measurement.model_construct(
        id=row.id,
        patient_id=row.patient_id,
        course_id=row.course_id,
        scale=MeasurementScale(row.scale),
        value=row.value,
        measured_at=row.measured_at,
        measured_by=row.measured_by,
        area=Area(row.area) if row.area else None,
        note=row.note,
    )


def to_attempt(row: ContactAttemptRow) -> ContactAttempt:
    return ContactAttempt(
        id=row.id,
        recall_id=row.recall_id,
        at=row.at,
        channel=ContactChannel(row.channel),
        outcome=ContactOutcome(row.outcome),
        note=row.note,
        by_user_id=row.by_user_id,
    )


def to_recall(row: RecallRow, attempts: Sequence[ContactAttemptRow] = ()) -> RecallEntry:
    return RecallEntry(
        id=row.id,
        patient_id=row.patient_id,
        course_id=row.course_id,
        due_date=row.due_date,
        reason=row.reason,
        status=RecallStatus(row.status),
        created_at=row.created_at,
        closed_at=row.closed_at,
        attempts=[to_attempt(a) for a in attempts],
    )


def to_user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        practitioner_id=row.practitioner_id,
        active=row.active,
        created_at=row.created_at,
    )


def to_audit(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        user_id=row.user_id,
        username=row.username,
        action=row.action,
        patient_id=row.patient_id,
        detail=row.detail,
    )


# --------------------------------------------------------------------------- repositories


class ClinicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def first(self) -> Clinic | None:
        row = self.session.execute(select(ClinicRow).order_by(ClinicRow.id).limit(1)).scalar()
        return to_clinic(row) if row else None

    def add(self, name: str, timezone: str, at: datetime) -> Clinic:
        row = ClinicRow(name=name, timezone=timezone, created_at=at)
        self.session.add(row)
        self.session.flush()
        return to_clinic(row)

    def get(self, clinic_id: int) -> Clinic:
        return to_clinic(_get(self.session, ClinicRow, clinic_id, "clinic"))

    def add_practitioner(self, clinic_id: int, name: str) -> Practitioner:
        self.get(clinic_id)
        row = PractitionerRow(clinic_id=clinic_id, name=name, active=True)
        self.session.add(row)
        self.session.flush()
        return to_practitioner(row)

    def practitioner(self, practitioner_id: int) -> Practitioner:
        return to_practitioner(_get(self.session, PractitionerRow, practitioner_id, "practitioner"))

    def practitioners(self) -> list[Practitioner]:
        rows = self.session.execute(select(PractitionerRow).order_by(PractitionerRow.id)).scalars()
        return [to_practitioner(r) for r in rows]


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
        self.session.add(row)
        self.session.flush()
        if draft.mrn is None:
            row.mrn = f"P{row.id:06d}"
            self.session.flush()
        return to_patient(row)

    def get(self, patient_id: int) -> Patient:
        return to_patient(self.row(patient_id))

    def row(self, patient_id: int, *, lock: bool = False) -> PatientRow:
        row: PatientRow = _get(self.session, PatientRow, patient_id, "patient", lock=lock)
        return row

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


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        assessment: Assessment,
        at: datetime,
        by: int | None,
        notes: str,
    ) -> AssessmentRecord:
        row = AssessmentRow(
            patient_id=patient_id,
            assessed_at=at,
            assessed_by=by,
            data=assessment.to_json_dict(),
            notes=notes,
        )
        self.session.add(row)
        self.session.flush()
        return to_assessment(row)

    def get(self, assessment_id: int) -> AssessmentRecord:
        return to_assessment(_get(self.session, AssessmentRow, assessment_id, "assessment"))

    def history(self, patient_id: int) -> list[AssessmentRecord]:
        rows = self.session.execute(
            select(AssessmentRow)
            .where(AssessmentRow.patient_id == patient_id)
            .order_by(AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc())
        ).scalars()
        return [to_assessment(r) for r in rows]

    def latest_data(self) -> list[dict[str, Any]]:
        """The stored data of every patient's newest assessment, by patient id (no identities).

        Newest as in :meth:`history`: latest ``assessed_at``, then highest id.
        """
        rank = (
            func.row_number()
            .over(
                partition_by=AssessmentRow.patient_id,
                order_by=(AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc()),
            )
            .label("rank")
        )
        ranked = select(AssessmentRow.patient_id, AssessmentRow.data, rank).subquery()
        rows = self.session.execute(
            select(ranked.c.data).where(ranked.c.rank == 1).order_by(ranked.c.patient_id)
        ).scalars()
        return [dict(r) for r in rows]


class CourseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        assessment_id: int | None,
        protocol: Protocol,
        at: datetime,
        note: str,
    ) -> CourseRow:
        row = CourseRow(
            patient_id=patient_id,
            assessment_id=assessment_id,
            status=CourseStatus.PLANNED.value,
            planned_sessions=protocol.initial_sessions,
            remaining_sessions=0,
            protocol=protocol.model_dump(mode="json"),
            guideline_version=protocol.guideline_version,
            created_at=at,
            status_changed_at=at,
            note=note,
        )
        self.session.add(row)
        self.session.flush()
        self.ledger_add(row, protocol.initial_sessions, "initial sessions planned", at)
        return row

    def row(self, course_id: int, *, lock: bool = False) -> CourseRow:
        row: CourseRow = _get(self.session, CourseRow, course_id, "course", lock=lock)
        return row

    def get(self, course_id: int) -> Course:
        return to_course(self.row(course_id))

    def set_status(self, row: CourseRow, target: CourseStatus, at: datetime) -> None:
        CourseStatus(row.status).require(target)
        row.status = target.value
        row.status_changed_at = at

    def ledger_add(self, row: CourseRow, delta: int, reason: str, at: datetime) -> LedgerEntry:
        row.remaining_sessions += delta
        entry = LedgerRow(
            course_id=row.id,
            at=at,
            delta=delta,
            reason=reason,
            remaining_after=row.remaining_sessions,
        )
        self.session.add(entry)
        self.session.flush()
        return to_ledger(entry)

    def ledger(self, course_id: int) -> list[LedgerEntry]:
        rows = self.session.execute(
            select(LedgerRow).where(LedgerRow.course_id == course_id).order_by(LedgerRow.id)
        ).scalars()
        return [to_ledger(r) for r in rows]

    def for_patient(self, patient_id: int) -> list[Course]:
        rows = self.session.execute(
            select(CourseRow).where(CourseRow.patient_id == patient_id).order_by(CourseRow.id)
        ).scalars()
        return [to_course(r) for r in rows]

    def all(self, status: CourseStatus | None = None) -> list[Course]:
        stmt = select(CourseRow).order_by(CourseRow.id)
        if status is not None:
            stmt = stmt.where(CourseRow.status == status.value)
        return [to_course(r) for r in self.session.execute(stmt).scalars()]


class AppointmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        course_id: int | None,
        slot: SlotRequest,
        kind: AppointmentKind,
        session_number: int | None,
        at: datetime,
        note: str = "",
    ) -> AppointmentRow:
        row = AppointmentRow(
            patient_id=patient_id,
            course_id=course_id,
            practitioner_id=slot.practitioner_id,
            kind=kind.value,
            session_number=session_number,
            start_at=slot.start,
            end_at=slot.end,
            status=AppointmentStatus.BOOKED.value,
            note=note,
            created_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def row(self, appointment_id: int, *, lock: bool = False) -> AppointmentRow:
        row: AppointmentRow = _get(
            self.session, AppointmentRow, appointment_id, "appointment", lock=lock
        )
        return row

    def get(self, appointment_id: int) -> Appointment:
        return to_appointment(self.row(appointment_id))

    def claim(self, rows: Sequence[AppointmentRow]) -> None:
        """Claim every slot the appointments cover, or raise :class:`ConflictError`.

        A first query names the clash in the common case; the primary key of ``slot_claims``
        is what guarantees it when two transactions race (the loser's insert fails).
        """
        claims: list[tuple[int, datetime, AppointmentRow]] = []
        for row in rows:
            for s in slot_starts(row.start_at, row.end_at):
                claims.append((row.practitioner_id, s, row))
        claims.sort(key=lambda c: (c[0], c[1]))
        for practitioner_id in sorted({c[0] for c in claims}):
            wanted = [c[1] for c in claims if c[0] == practitioner_id]
            taken = self.session.execute(
                select(AppointmentRow)
                .join(SlotClaimRow, SlotClaimRow.appointment_id == AppointmentRow.id)
                .where(
                    SlotClaimRow.practitioner_id == practitioner_id,
                    SlotClaimRow.slot_start >= wanted[0],
                    SlotClaimRow.slot_start <= wanted[-1],
                    SlotClaimRow.slot_start.in_(wanted),
                )
                .limit(1)
            ).scalar()
            if taken is not None:
                raise ConflictError(
                    f"practitioner {practitioner_id} is already booked from "
                    f"{taken.start_at.isoformat()} to {taken.end_at.isoformat()} "
                    f"(appointment {taken.id})"
                )
        self.session.add_all(
            [
                SlotClaimRow(practitioner_id=p, slot_start=s, appointment_id=r.id)
                for p, s, r in claims
            ]
        )
        try:
            self.session.flush()
        except IntegrityError as exc:
            if "slot_claims" in str(exc.orig):
                raise ConflictError(
                    "the practitioner was booked for that time by someone else a moment ago "
                    "(double booking refused)"
                ) from None
            raise

    def set_status(self, row: AppointmentRow, target: AppointmentStatus) -> None:
        """Change the appointment's status along a legal transition, else :class:`StateError`."""
        AppointmentStatus(row.status).require(target, appointment_id=row.id)
        row.status = target.value

    def release(self, row: AppointmentRow) -> None:
        self.session.execute(delete(SlotClaimRow).where(SlotClaimRow.appointment_id == row.id))

    def renumber(self, course_id: int) -> None:
        """Number a course's booked and performed appointments 1, 2, ... in time order."""
        live = (AppointmentStatus.BOOKED.value, AppointmentStatus.PERFORMED.value)
        rows = self.session.execute(
            select(AppointmentRow)
            .where(AppointmentRow.course_id == course_id)
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
        ).scalars()
        number = 0
        for row in rows:
            if row.status in live:
                number += 1
                row.session_number = number
            else:
                row.session_number = None

    def for_course(self, course_id: int) -> list[Appointment]:
        rows = self.session.execute(
            select(AppointmentRow)
            .where(AppointmentRow.course_id == course_id)
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
        ).scalars()
        return [to_appointment(r) for r in rows]

    def rows_for_course(self, course_id: int, status: AppointmentStatus) -> list[AppointmentRow]:
        return list(
            self.session.execute(
                select(AppointmentRow)
                .where(AppointmentRow.course_id == course_id, AppointmentRow.status == status.value)
                .order_by(AppointmentRow.start_at)
            ).scalars()
        )

    def for_patient(self, patient_id: int) -> list[Appointment]:
        rows = self.session.execute(
            select(AppointmentRow)
            .where(AppointmentRow.patient_id == patient_id)
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
        ).scalars()
        return [to_appointment(r) for r in rows]

    def between(
        self,
        start: datetime,
        end: datetime,
        practitioner_id: int | None = None,
        statuses: Sequence[AppointmentStatus] = (AppointmentStatus.BOOKED,),
    ) -> list[Appointment]:
        stmt = select(AppointmentRow).where(
            AppointmentRow.start_at < end,
            AppointmentRow.end_at > start,
            AppointmentRow.status.in_([s.value for s in statuses]),
        )
        if practitioner_id is not None:
            stmt = stmt.where(AppointmentRow.practitioner_id == practitioner_id)
        rows = self.session.execute(stmt.order_by(AppointmentRow.start_at, AppointmentRow.id))
        return [to_appointment(r) for r in rows.scalars()]

    def all(self) -> list[Appointment]:
        rows = self.session.execute(select(AppointmentRow).order_by(AppointmentRow.id)).scalars()
        return [to_appointment(r) for r in rows]


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        course_id: int | None,
        appointment_id: int | None,
        draft: PerformedSessionDraft,
    ) -> PerformedSession:
        row = PerformedSessionRow(
            patient_id=patient_id,
            course_id=course_id,
            appointment_id=appointment_id,
            performed_at=draft.performed_at,
            areas=[a.value for a in draft.areas],
            device=draft.device,
            needle_depth_mm={a.value: d for a, d in draft.needle_depth_mm.items()},
            passes=draft.passes,
            product=draft.product,
            lot=draft.lot,
            practitioner_id=draft.practitioner_id,
            notes=draft.notes,
            adverse_events=[e.model_dump(mode="json") for e in draft.adverse_events],
        )
        self.session.add(row)
        self.session.flush()
        return to_session(row)

    def for_patient(self, patient_id: int) -> list[PerformedSession]:
        rows = self.session.execute(
            select(PerformedSessionRow)
            .where(PerformedSessionRow.patient_id == patient_id)
            .order_by(PerformedSessionRow.performed_at, PerformedSessionRow.id)
        ).scalars()
        return [to_session(r) for r in rows]

    def for_course(self, course_id: int) -> list[PerformedSession]:
        rows = self.session.execute(
            select(PerformedSessionRow)
            .where(PerformedSessionRow.course_id == course_id)
            .order_by(PerformedSessionRow.performed_at, PerformedSessionRow.id)
        ).scalars()
        return [to_session(r) for r in rows]


class MeasurementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, patient_id: int, draft: MeasurementDraft) -> Measurement:
        row = MeasurementRow(
            patient_id=patient_id,
            course_id=draft.course_id,
            scale=draft.scale.value,
            value=float(draft.value),
            measured_at=draft.measured_at,
            measured_by=draft.measured_by,
            area=draft.area.value if draft.area else None,
            note=draft.note,
        )
        self.session.add(row)
        self.session.flush()
        return to_measurement(row)

    def for_patient(self, patient_id: int) -> list[Measurement]:
        rows = self.session.execute(
            select(MeasurementRow)
            .where(MeasurementRow.patient_id == patient_id)
            .order_by(MeasurementRow.measured_at, MeasurementRow.id)
        ).scalars()
        return [to_measurement(r) for r in rows]

    def all(self) -> list[Measurement]:
        rows = self.session.execute(select(MeasurementRow).order_by(MeasurementRow.id)).scalars()
        return [to_measurement(r) for r in rows]


class RecallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, patient_id: int, course_id: int | None, due: date, reason: str, at: datetime
    ) -> RecallEntry:
        row = RecallRow(
            patient_id=patient_id,
            course_id=course_id,
            due_date=due,
            reason=reason,
            status=RecallStatus.OPEN.value,
            created_at=at,
            closed_at=None,
        )
        self.session.add(row)
        self.session.flush()
        return to_recall(row)

    def row(self, recall_id: int, *, lock: bool = False) -> RecallRow:
        row: RecallRow = _get(self.session, RecallRow, recall_id, "recall entry", lock=lock)
        return row

    def get(self, recall_id: int) -> RecallEntry:
        row = self.row(recall_id)
        return to_recall(row, self._attempts([row.id]).get(row.id, []))

    def close(self, row: RecallRow, status: RecallStatus, at: datetime) -> None:
        row.status = status.value
        row.closed_at = at

    def open_rows_for_patient(self, patient_id: int) -> list[RecallRow]:
        return list(
            self.session.execute(
                select(RecallRow).where(
                    RecallRow.patient_id == patient_id, RecallRow.status == RecallStatus.OPEN.value
                )
            ).scalars()
        )

    def query(
        self,
        *,
        due_by: date | None = None,
        statuses: Sequence[RecallStatus] = (RecallStatus.OPEN,),
        patient_id: int | None = None,
    ) -> list[RecallEntry]:
        stmt = select(RecallRow).where(RecallRow.status.in_([s.value for s in statuses]))
        if due_by is not None:
            stmt = stmt.where(RecallRow.due_date <= due_by)
        if patient_id is not None:
            stmt = stmt.where(RecallRow.patient_id == patient_id)
        rows = list(self.session.execute(stmt.order_by(RecallRow.due_date, RecallRow.id)).scalars())
        attempts = self._attempts([r.id for r in rows])
        return [to_recall(r, attempts.get(r.id, [])) for r in rows]

    def _attempts(self, recall_ids: Sequence[int]) -> dict[int, list[ContactAttemptRow]]:
        out: dict[int, list[ContactAttemptRow]] = {}
        for i in range(0, len(recall_ids), 500):
            chunk = list(recall_ids[i : i + 500])
            rows = self.session.execute(
                select(ContactAttemptRow)
                .where(ContactAttemptRow.recall_id.in_(chunk))
                .order_by(ContactAttemptRow.at, ContactAttemptRow.id)
            ).scalars()
            for r in rows:
                out.setdefault(r.recall_id, []).append(r)
        return out

    def add_attempt(
        self,
        recall_id: int,
        at: datetime,
        channel: ContactChannel,
        outcome: ContactOutcome,
        note: str,
        by_user_id: int | None,
    ) -> ContactAttempt:
        row = ContactAttemptRow(
            recall_id=recall_id,
            at=at,
            channel=channel.value,
            outcome=outcome.value,
            note=note,
            by_user_id=by_user_id,
        )
        self.session.add(row)
        self.session.flush()
        return to_attempt(row)


#: Audit detail key of a view that shows several patients: ``... patients=3,17,42`` (ids only,
#: after every other part of the detail but an optional `` user=NAME``).
AUDIT_PATIENTS_KEY = "patients="


def audit_patients_detail(prefix: str, patient_ids: Iterable[int]) -> str:
    """The audit detail of a view listing patients: ``prefix`` then the sorted unique ids."""
    ids = ",".join(str(i) for i in sorted({int(i) for i in patient_ids}))
    return f"{prefix} {AUDIT_PATIENTS_KEY}{ids}".strip()


def audit_about(patient_id: int) -> ColumnElement[bool]:
    """Audit rows about one patient: her own (``patient_id``) and the list views that showed
    her (``patient_id`` empty, her id in the detail's ``patients=`` list)."""
    key = str(int(patient_id))
    mentions = [
        AuditRow.detail.like(f"%{AUDIT_PATIENTS_KEY}{head}{key}{tail}")
        for head in ("", "%,")
        for tail in ("", " %", ",%")
    ]
    return or_(
        AuditRow.patient_id == patient_id,
        and_(AuditRow.patient_id.is_(None), or_(*mentions)),
    )


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        username: str,
        password_hash: str,
        role: Role,
        practitioner_id: int | None,
        at: datetime,
    ) -> User:
        if self.row_by_username(username) is not None:
            raise ConflictError(f"username {username} is already taken")
        row = UserRow(
            username=username,
            password_hash=password_hash,
            role=role.value,
            practitioner_id=practitioner_id,
            active=True,
            created_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return to_user(row)

    def row_by_username(self, username: str) -> UserRow | None:
        return self.session.execute(select(UserRow).where(UserRow.username == username)).scalar()

    def row(self, user_id: int) -> UserRow:
        row: UserRow = _get(self.session, UserRow, user_id, "user")
        return row

    def all(self) -> list[User]:
        return [
            to_user(r) for r in self.session.execute(select(UserRow).order_by(UserRow.id)).scalars()
        ]

    def add_audit(
        self,
        at: datetime,
        user_id: int | None,
        username: str,
        action: str,
        patient_id: int | None,
        detail: str,
    ) -> AuditEvent:
        row = AuditRow(
            at=at,
            user_id=user_id,
            username=username,
            action=action,
            patient_id=patient_id,
            detail=detail,
        )
        self.session.add(row)
        self.session.flush()
        return to_audit(row)

    def audit(self, patient_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
        stmt = select(AuditRow)
        if patient_id is not None:
            stmt = stmt.where(audit_about(patient_id))
        rows = self.session.execute(stmt.order_by(AuditRow.id.desc()).limit(limit)).scalars()
        return [to_audit(r) for r in rows]


# --------------------------------------------------------------------------- web app: tokens, leads


@dataclass(frozen=True)
class ApiTokenInfo:
    """An integration token as listed to an admin (never the token itself)."""

    id: int
    user_id: int
    username: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _info(self, row: ApiTokenRow) -> ApiTokenInfo:
        user = _get(self.session, UserRow, row.user_id, "user")
        return ApiTokenInfo(
            id=row.id,
            user_id=row.user_id,
            username=user.username,
            label=row.label,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )

    def add(self, user_id: int, digest: str, label: str, at: datetime) -> ApiTokenInfo:
        row = ApiTokenRow(user_id=user_id, digest=digest, label=label, created_at=at)
        self.session.add(row)
        self.session.flush()
        return self._info(row)

    def user_for_digest(self, digest: str) -> UserRow | None:
        """The active user owning the unrevoked token with this digest."""
        stmt = (
            select(UserRow)
            .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
            .where(
                ApiTokenRow.digest == digest,
                ApiTokenRow.revoked_at.is_(None),
                UserRow.active.is_(True),
            )
        )
        return self.session.execute(stmt).scalar()

    def revoke(self, token_id: int, at: datetime) -> ApiTokenInfo:
        row: ApiTokenRow = _get(self.session, ApiTokenRow, token_id, "api token")
        if row.revoked_at is None:
            row.revoked_at = at
            self.session.flush()
        return self._info(row)

    def all(self, user_id: int | None = None) -> list[ApiTokenInfo]:
        stmt = select(ApiTokenRow).order_by(ApiTokenRow.id)
        if user_id is not None:
            stmt = stmt.where(ApiTokenRow.user_id == user_id)
        return [self._info(r) for r in self.session.execute(stmt).scalars()]


class LeadRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, lead: Lead) -> None:
        self.session.add(
            LeadRow(
                public_id=lead.public_id,
                name=lead.name,
                email=lead.email,
                phone=lead.phone,
                message=lead.message,
                estimate_summary=lead.estimate_summary,
                consent_text=lead.consent_text,
                consented_at=lead.consented_at,
            )
        )
        self.session.flush()

    def all(self) -> list[Lead]:
        rows = self.session.execute(select(LeadRow).order_by(LeadRow.id)).scalars()
        return [
            Lead(
                public_id=r.public_id,
                name=r.name,
                email=r.email,
                phone=r.phone,
                message=r.message,
                estimate_summary=r.estimate_summary,
                consent_text=r.consent_text,
                consented_at=r.consented_at,
            )
            for r in rows
        ]


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
        if text.isdigit():
            return [or_(PatientRow.id == int(text), func.lower(PatientRow.mrn) == text.lower())]
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


class AuditQuery:
    """The audit log filtered for the admin page (newest first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        *,
        username: str | None,
        action: str | None,
        patient_id: int | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEvent], int]:
        where: list[Any] = []
        if username:
            where.append(AuditRow.username == username)
        if action:
            where.append(AuditRow.action.startswith(action, autoescape=True))
        if patient_id is not None:
            where.append(audit_about(patient_id))
        if since is not None:
            where.append(AuditRow.at >= since)
        if until is not None:
            where.append(AuditRow.at < until)
        total = self.session.execute(
            select(func.count()).select_from(AuditRow).where(*where)
        ).scalar_one()
        stmt = select(AuditRow).where(*where).order_by(AuditRow.id.desc()).limit(limit)
        rows = self.session.execute(stmt.offset(offset)).scalars()
        return [to_audit(r) for r in rows], int(total)

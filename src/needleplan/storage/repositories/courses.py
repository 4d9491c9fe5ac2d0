"""The course aggregate: the course, its ledger, its appointments (with their slot claims) and
the sessions performed in it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from needleplan.domain.assessment import Area
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import (
    AdverseEvent,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    CourseStatus,
    LedgerEntry,
    PerformedSession,
    PerformedSessionDraft,
    SlotRequest,
)
from needleplan.exceptions import ConflictError
from needleplan.storage.repositories._common import by_patient, get_row, keep, slot_starts
from needleplan.storage.tables import (
    AppointmentRow,
    CourseRow,
    LedgerRow,
    PerformedSessionRow,
    SlotClaimRow,
)


def _protocol(row: CourseRow) -> Protocol:
    """The course's protocol snapshot, parsed once per row object (it never changes)."""
    cached: tuple[object, Protocol] | None = row.__dict__.get("_np_protocol")
    if cached is None or cached[0] is not row.protocol:
        cached = (row.protocol, Protocol.model_validate(row.protocol))
        row.__dict__["_np_protocol"] = cached
    return cached[1]


def to_course(row: CourseRow) -> Course:
    return Course(
        id=row.id,
        patient_id=row.patient_id,
        assessment_id=row.assessment_id,
        status=CourseStatus(row.status),
        planned_sessions=row.planned_sessions,
        remaining_sessions=row.remaining_sessions,
        protocol=_protocol(row),
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
        arrived_at=row.arrived_at,
        cancel_reason=row.cancel_reason or "",
        cancelled_late=row.cancelled_late,
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
    ) -> Course:
        """A new ``planned`` course with the protocol's initial sessions in its ledger."""
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
        self.session.add(keep(self.session, row))
        self.session.flush()
        self._ledger_add(row, protocol.initial_sessions, "initial sessions planned", at)
        return to_course(row)

    def _row(self, course_id: int, *, lock: bool = False) -> CourseRow:
        row: CourseRow = get_row(self.session, CourseRow, course_id, "course", lock=lock)
        return row

    def get(self, course_id: int, *, lock: bool = False) -> Course:
        """The course (``NotFoundError`` when none); ``lock`` holds its row to the commit."""
        return to_course(self._row(course_id, lock=lock))

    def planned_sessions(self, course_ids: Iterable[int]) -> dict[int, int]:
        """Each course's planned session count (a calendar's "session 2 of 5"), read as one
        column instead of whole courses with their protocols, in queries of 500 ids."""
        wanted = sorted(set(course_ids))
        out: dict[int, int] = {}
        for i in range(0, len(wanted), 500):
            rows = self.session.execute(
                select(CourseRow.id, CourseRow.planned_sessions).where(
                    CourseRow.id.in_(wanted[i : i + 500])
                )
            )
            out.update((cid, n) for cid, n in rows)
        return out

    def many(self, course_ids: Iterable[int]) -> dict[int, Course]:
        """The courses with these ids (ids with no course are left out), in queries of 500."""
        wanted = sorted(set(course_ids))
        out: dict[int, Course] = {}
        for i in range(0, len(wanted), 500):
            rows = self.session.execute(
                select(CourseRow).where(CourseRow.id.in_(wanted[i : i + 500]))
            ).scalars()
            out.update((r.id, to_course(r)) for r in rows)
        return out

    def set_status(
        self, course_id: int, target: CourseStatus, at: datetime, *, note: str = ""
    ) -> Course:
        """Move the course along a legal transition (else :class:`StateError`, nothing
        changed), stamping when; ``note`` adds a line to the course's note."""
        row = self._row(course_id)
        CourseStatus(row.status).require(target)
        row.status = target.value
        row.status_changed_at = at
        if note:
            row.note = (row.note + "\n" if row.note else "") + note
        return to_course(row)

    def ledger_add(self, course_id: int, delta: int, reason: str, at: datetime) -> LedgerEntry:
        """Add ``delta`` sessions owed (negative: fewer) with the reason; the course's remaining
        count follows."""
        return self._ledger_add(self._row(course_id), delta, reason, at)

    def _ledger_add(self, row: CourseRow, delta: int, reason: str, at: datetime) -> LedgerEntry:
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

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[Course]]:
        """:meth:`for_patient` of each patient in ``patient_ids`` (one query; none: no key)."""
        order = (CourseRow.id,)
        return by_patient(self.session, CourseRow, patient_ids, order, to_course)

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
        *,
        status: AppointmentStatus = AppointmentStatus.BOOKED,
        sequence: int = 0,
    ) -> Appointment:
        """A new appointment, ``booked`` unless an imported record states another status. Its
        slots are not claimed yet: :meth:`claim` does that for a whole booking at once."""
        row = AppointmentRow(
            patient_id=patient_id,
            course_id=course_id,
            practitioner_id=slot.practitioner_id,
            kind=kind.value,
            session_number=session_number,
            start_at=slot.start,
            end_at=slot.end,
            status=status.value,
            note=note,
            sequence=sequence,
            created_at=at,
        )
        self.session.add(keep(self.session, row))
        self.session.flush()
        return to_appointment(row)

    def add_series(
        self,
        patient_id: int,
        course_id: int,
        slots: Sequence[SlotRequest],
        at: datetime,
    ) -> list[Appointment]:
        """A course's booked treatment sessions, numbered 1, 2, ... in time order, stored in
        one round trip (unclaimed, like :meth:`add`)."""
        rows = [
            AppointmentRow(
                patient_id=patient_id,
                course_id=course_id,
                practitioner_id=slot.practitioner_id,
                kind=AppointmentKind.TREATMENT.value,
                session_number=number,
                start_at=slot.start,
                end_at=slot.end,
                status=AppointmentStatus.BOOKED.value,
                note="",
                sequence=0,
                created_at=at,
            )
            for number, slot in enumerate(sorted(slots, key=lambda s: s.start), start=1)
        ]
        self.session.add_all([keep(self.session, r) for r in rows])
        self.session.flush()
        return [to_appointment(r) for r in rows]

    def _row(self, appointment_id: int, *, lock: bool = False) -> AppointmentRow:
        row: AppointmentRow = get_row(
            self.session, AppointmentRow, appointment_id, "appointment", lock=lock
        )
        return row

    def get(self, appointment_id: int, *, lock: bool = False) -> Appointment:
        """The appointment (``NotFoundError`` when none); ``lock`` holds its row to the commit."""
        return to_appointment(self._row(appointment_id, lock=lock))

    def claim(self, appointments: Sequence[Appointment]) -> None:
        """Claim every slot the appointments cover, or raise :class:`ConflictError`.

        A first query names the clash in the common case; the primary key of ``slot_claims``
        is what guarantees it when two transactions race (the loser's insert fails).
        """
        claims: list[tuple[int, datetime, int]] = []
        for appt in appointments:
            for s in slot_starts(appt.start, appt.end):
                claims.append((appt.practitioner_id, s, appt.id))
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
            held = self.session.execute(
                select(SlotClaimRow.slot_start)
                .where(
                    SlotClaimRow.practitioner_id == practitioner_id,
                    SlotClaimRow.slot_start.in_(wanted),
                    SlotClaimRow.hold_id.is_not(None),
                )
                .limit(1)
            ).scalar()
            if held is not None:
                raise ConflictError(
                    f"practitioner {practitioner_id} has the time from {held.isoformat()} held "
                    "for an online booking waiting for the patient's e-mail confirmation"
                )
        if not claims:
            return
        try:
            # One multi-row INSERT (claims are never read back as objects in the same unit).
            self.session.execute(
                insert(SlotClaimRow),
                [
                    {"practitioner_id": p, "slot_start": s, "appointment_id": a}
                    for p, s, a in claims
                ],
            )
        except IntegrityError as exc:
            if "slot_claims" in str(exc.orig):
                raise ConflictError(
                    "the practitioner was booked for that time by someone else a moment ago "
                    "(double booking refused)"
                ) from None
            raise

    def set_status(
        self, appointment_id: int, target: AppointmentStatus, *, note: str = ""
    ) -> Appointment:
        """Change the appointment's status along a legal transition of the domain's state
        machine (:meth:`AppointmentStatus.require`), else :class:`StateError` and nothing
        changed; ``note`` adds a line to the appointment's note."""
        row = self._row(appointment_id)
        AppointmentStatus(row.status).require(target, appointment_id=row.id)
        row.status = target.value
        if note:
            self._append_note(row, note)
        return to_appointment(row)

    def add_note(self, appointment_id: int, line: str) -> Appointment:
        """Add a line to the appointment's note."""
        row = self._row(appointment_id)
        self._append_note(row, line)
        self.session.flush()
        return to_appointment(row)

    @staticmethod
    def _append_note(row: AppointmentRow, line: str) -> None:
        row.note = (row.note + "\n" if row.note else "") + line

    def move(
        self, appointment_id: int, slot: SlotRequest, *, raise_sequence: bool | None = None
    ) -> Appointment:
        """Give the appointment a new time and practitioner (release its old slots first and
        :meth:`claim` the new ones after).

        The iCalendar SEQUENCE goes up by one when the time or practitioner changes (calendars
        update the event on a higher SEQUENCE); ``raise_sequence=True`` raises it regardless.
        """
        row = self._row(appointment_id)
        changed = (row.start_at, row.end_at, row.practitioner_id) != (
            slot.start,
            slot.end,
            slot.practitioner_id,
        )
        if changed if raise_sequence is None else raise_sequence:
            row.sequence += 1
        row.start_at, row.end_at, row.practitioner_id = slot.start, slot.end, slot.practitioner_id
        self.session.flush()
        return to_appointment(row)

    def release(self, appointment_id: int) -> None:
        """Free the practitioner time the appointment holds (delete its slot claims)."""
        self.session.execute(
            delete(SlotClaimRow).where(SlotClaimRow.appointment_id == appointment_id)
        )

    def renumber(self, course_id: int) -> None:
        """Number a course's booked, arrived and performed appointments 1, 2, ... in time order."""
        live = (
            AppointmentStatus.BOOKED.value,
            AppointmentStatus.ARRIVED.value,
            AppointmentStatus.PERFORMED.value,
        )
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

    def for_course(
        self, course_id: int, status: AppointmentStatus | None = None
    ) -> list[Appointment]:
        """The course's appointments in time order (only those in ``status`` when given)."""
        stmt = select(AppointmentRow).where(AppointmentRow.course_id == course_id)
        if status is not None:
            stmt = stmt.where(AppointmentRow.status == status.value)
        rows = self.session.execute(
            stmt.order_by(AppointmentRow.start_at, AppointmentRow.id)
        ).scalars()
        return [to_appointment(r) for r in rows]

    def for_patient(self, patient_id: int) -> list[Appointment]:
        rows = self.session.execute(
            select(AppointmentRow)
            .where(AppointmentRow.patient_id == patient_id)
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
        ).scalars()
        return [to_appointment(r) for r in rows]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[Appointment]]:
        """:meth:`for_patient` of each patient in ``patient_ids`` (one query; none: no key)."""
        order = (AppointmentRow.start_at, AppointmentRow.id)
        return by_patient(self.session, AppointmentRow, patient_ids, order, to_appointment)

    def between(
        self,
        start: datetime,
        end: datetime,
        practitioner_id: int | None = None,
        statuses: Sequence[AppointmentStatus] = (AppointmentStatus.BOOKED,),
    ) -> list[Appointment]:
        stmt = select(AppointmentRow).where(
            AppointmentRow.start_at < end,
            # No appointment lasts over 12 hours (SlotRequest), so the index on start_at
            # answers the window from both ends (migration 0026, docs/scale.md).
            AppointmentRow.start_at > start - timedelta(hours=12),
            AppointmentRow.end_at > start,
            AppointmentRow.status.in_([s.value for s in statuses]),
        )
        if practitioner_id is not None:
            stmt = stmt.where(AppointmentRow.practitioner_id == practitioner_id)
        rows = self.session.execute(stmt.order_by(AppointmentRow.start_at, AppointmentRow.id))
        return [to_appointment(r) for r in rows.scalars()]

    def spans_between(
        self, start: datetime, end: datetime, statuses: Sequence[AppointmentStatus]
    ) -> list[tuple[int, datetime, datetime]]:
        """(practitioner id, start, end) of the appointments in ``statuses`` overlapping
        ``[start, end)``, in time order: a scheduler's busy times, read as three columns
        instead of whole appointments (weeks of a clinic group's calendar are thousands)."""
        rows = self.session.execute(
            select(AppointmentRow.practitioner_id, AppointmentRow.start_at, AppointmentRow.end_at)
            .where(
                AppointmentRow.start_at < end,
                AppointmentRow.start_at > start - timedelta(hours=12),
                AppointmentRow.end_at > start,
                AppointmentRow.status.in_([s.value for s in statuses]),
            )
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
        )
        return [(p, s, e) for p, s, e in rows]

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

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[PerformedSession]]:
        """:meth:`for_patient` of each patient in ``patient_ids`` (one query; none: no key)."""
        order = (PerformedSessionRow.performed_at, PerformedSessionRow.id)
        return by_patient(self.session, PerformedSessionRow, patient_ids, order, to_session)

    def for_course(self, course_id: int) -> list[PerformedSession]:
        rows = self.session.execute(
            select(PerformedSessionRow)
            .where(PerformedSessionRow.course_id == course_id)
            .order_by(PerformedSessionRow.performed_at, PerformedSessionRow.id)
        ).scalars()
        return [to_session(r) for r in rows]

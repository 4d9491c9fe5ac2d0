"""The calendar's read of a window: its appointments with what each card shows, in one query.

A clinic group's week is about a thousand appointments (docs/scale.md). Reading them as whole
rows, then their patients and courses by id lists of 500, then which were booked online,
cost five round trips and thousands of ORM objects; this read joins the patient's name and
contact, the course's planned session count and the online booking's existence into the
appointment's row and reads plain columns instead of ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, union_all
from sqlalchemy.orm import Session

from needleplan.domain.online_booking import OnlineBookingStatus
from needleplan.domain.records import Appointment, AppointmentKind, AppointmentStatus
from needleplan.storage.tables import AppointmentRow, CourseRow, OnlineBookingRow, PatientRow
from needleplan.storage.types import epoch_seconds


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """One appointment as a calendar card shows it."""

    appointment: Appointment
    given_name: str
    family_name: str
    phone: str
    email: str
    planned_sessions: int | None  # of its course (None: not part of a course)
    online: bool  # booked on the public booking page


class CalendarQuery:
    def __init__(self, session: Session) -> None:
        self.session = session

    def window(
        self,
        start: datetime,
        end: datetime,
        practitioner_id: int | None,
        statuses: Sequence[AppointmentStatus],
    ) -> list[CalendarItem]:
        """The appointments in ``statuses`` overlapping ``[start, end)`` (one practitioner's or
        everyone's), in time order, each with her name and contact, its course's planned
        session count and whether it was booked online."""
        a = AppointmentRow
        online = exists().where(OnlineBookingRow.appointment_id == a.id)
        stmt = (
            select(
                a.id,
                a.patient_id,
                a.course_id,
                a.practitioner_id,
                a.kind,
                a.session_number,
                a.start_at,
                a.end_at,
                a.status,
                a.note,
                a.sequence,
                a.arrived_at,
                a.cancel_reason,
                a.cancelled_late,
                PatientRow.given_name,
                PatientRow.family_name,
                PatientRow.phone,
                PatientRow.email,
                CourseRow.planned_sessions,
                online.label("online"),
            )
            .join(PatientRow, PatientRow.id == a.patient_id)
            .outerjoin(CourseRow, CourseRow.id == a.course_id)
            .where(
                a.start_at < end,
                # No appointment lasts over 12 hours (SlotRequest): the index on start_at
                # answers the window from both ends (migration 0026).
                a.start_at > start - timedelta(hours=12),
                a.end_at > start,
                a.status.in_([s.value for s in statuses]),
            )
            .order_by(a.start_at, a.id)
        )
        if practitioner_id is not None:
            stmt = stmt.where(a.practitioner_id == practitioner_id)
        kinds = {k.value: k for k in AppointmentKind}
        states = {s.value: s for s in AppointmentStatus}
        out: list[CalendarItem] = []
        for (
            id_,
            patient_id,
            course_id,
            who,
            kind,
            number,
            start_at,
            end_at,
            status,
            note,
            sequence,
            arrived_at,
            cancel_reason,
            cancelled_late,
            given_name,
            family_name,
            phone,
            email,
            planned,
            booked_online,
        ) in self.session.execute(stmt):
            appointment = Appointment(
                id=id_,
                patient_id=patient_id,
                course_id=course_id,
                practitioner_id=who,
                kind=kinds[kind],
                session_number=number,
                start=start_at,
                end=end_at,
                status=states[status],
                note=note,
                sequence=sequence,
                arrived_at=arrived_at,
                cancel_reason=cancel_reason or "",
                cancelled_late=cancelled_late,
            )
            out.append(
                CalendarItem(
                    appointment,
                    given_name,
                    family_name,
                    phone or "",
                    email or "",
                    planned if course_id is not None else None,
                    bool(booked_online),
                )
            )
        return out

    def busy_epochs(
        self, start: datetime, end: datetime, statuses: Sequence[AppointmentStatus]
    ) -> list[tuple[int, int, int]]:
        """(practitioner id, start, end) in whole epoch seconds of every time that is taken in
        ``[start, end)``: the appointments in ``statuses`` and the online bookings held for
        her confirmation, in one query (a scheduler's busy times: thousands of rows it only
        compares, worked out by the database instead of one aware datetime per value)."""
        a, h = AppointmentRow, OnlineBookingRow
        taken = select(a.practitioner_id, epoch_seconds(a.start_at), epoch_seconds(a.end_at)).where(
            a.start_at < end,
            # No appointment lasts over 12 hours (SlotRequest): the index on start_at answers
            # the window from both ends (migration 0026).
            a.start_at > start - timedelta(hours=12),
            a.end_at > start,
            a.status.in_([s.value for s in statuses]),
        )
        held = select(h.practitioner_id, epoch_seconds(h.start_at), epoch_seconds(h.end_at)).where(
            h.status == OnlineBookingStatus.HELD.value, h.start_at < end, h.end_at > start
        )
        return [(p, int(b), int(e)) for p, b, e in self.session.execute(union_all(taken, held))]

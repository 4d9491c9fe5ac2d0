"""Courses: their file, status changes, the session ledger and performed sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from needleplan.domain.assessment import Assessment
from needleplan.domain.records import (
    Appointment,
    AppointmentStatus,
    Course,
    CourseStatus,
    LedgerEntry,
    PerformedSession,
    PerformedSessionDraft,
    RecallStatus,
    parse_record,
)
from needleplan.exceptions import (
    InputError,
    StateError,
)
from needleplan.services._clock import add_months, utc_now
from needleplan.services.consent_forms import require_treatment_consent
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class CourseFile:
    course: Course
    appointments: list[Appointment]
    sessions: list[PerformedSession]
    ledger: list[LedgerEntry]


def courses_by_id(db: Database, course_ids: Iterable[int]) -> dict[int, Course]:
    """The courses with these ids, in a few queries (a calendar showing many sessions)."""
    with db.transaction() as uow:
        return uow.courses.many(course_ids)


def planned_sessions_by_course(db: Database, course_ids: Iterable[int]) -> dict[int, int]:
    """Each course's planned session count, in a few queries (a calendar showing many)."""
    with db.transaction() as uow:
        return uow.courses.planned_sessions(course_ids)


def course_file(db: Database, course_id: int) -> CourseFile:
    with db.transaction() as uow:
        return CourseFile(
            course=uow.courses.get(course_id),
            appointments=uow.appointments.for_course(course_id),
            sessions=uow.sessions.for_course(course_id),
            ledger=uow.courses.ledger(course_id),
        )


def change_course_status(
    db: Database, course_id: int, status: CourseStatus | str, *, note: str = ""
) -> Course:
    """Move a course along a legal transition; cancelling or lapsing frees its booked times."""
    try:
        target = CourseStatus(status)
    except ValueError:
        raise InputError.one(
            "status", status, "must be one of " + ", ".join(s.value for s in CourseStatus)
        ) from None
    at = utc_now()
    with db.transaction() as uow:
        uow.courses.get(course_id, lock=True)
        uow.courses.set_status(course_id, target, at, note=note.strip())
        if target in (CourseStatus.CANCELLED, CourseStatus.LAPSED):
            for live in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
                for appt in uow.appointments.for_course(course_id, live):
                    uow.appointments.set_status(appt.id, AppointmentStatus.CANCELLED)
                    uow.appointments.release(appt.id)
        uow.flush()
        return uow.courses.get(course_id)


def adjust_sessions(db: Database, course_id: int, delta: int, reason: str) -> LedgerEntry:
    """Add (or remove, negative ``delta``) sessions owed on a course, with the reason."""
    if delta == 0:
        raise InputError.one("delta", delta, "must not be zero")
    if not reason.strip():
        raise InputError.one("reason", reason, "must say why the course changes")
    with db.transaction() as uow:
        course = uow.courses.get(course_id, lock=True)
        if course.status.is_final:
            raise StateError(f"course {course_id} is {course.status.value}; its ledger is closed")
        if course.remaining_sessions + delta < 0:
            raise InputError.one(
                "delta",
                delta,
                f"would leave fewer than 0 sessions ({course.remaining_sessions} left)",
            )
        return uow.courses.ledger_add(course_id, delta, reason.strip(), utc_now())


DueFunction = Callable[[Course, Sequence[PerformedSession], Assessment | None], date]
"""A recall due-date rule: (completed course, its performed sessions, its assessment) -> date."""


def default_maintenance_due(
    course: Course, sessions: Sequence[PerformedSession], assessment: Assessment | None = None
) -> date:
    """Recall due date when no forecast is given: the protocol's shortest maintenance interval."""
    last = max(s.performed_at for s in sessions)
    return add_months(last.date(), course.protocol.maintenance_interval_months.min)


def record_session(
    db: Database,
    data: PerformedSessionDraft | Mapping[str, Any],
    *,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    course_id: int | None = None,
    maintenance_due: DueFunction | date | None = None,
) -> PerformedSession:
    """Record a performed session and update the course.

    With ``appointment_id`` the booked appointment becomes ``performed`` and gives the patient
    and course. The course becomes ``active`` at its first session, its ledger loses one session,
    and when no session is left it becomes ``completed`` and a recall entry is opened with the
    maintenance due date (``maintenance_due``: a date, a function of the course and last session,
    or the protocol's shortest maintenance interval).
    """
    draft = parse_record(PerformedSessionDraft, data)
    with db.transaction() as uow:
        return record_session_in(
            uow,
            draft,
            appointment_id=appointment_id,
            patient_id=patient_id,
            course_id=course_id,
            maintenance_due=maintenance_due,
        )


def record_session_in(
    uow: UnitOfWork,
    draft: PerformedSessionDraft,
    *,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    course_id: int | None = None,
    maintenance_due: DueFunction | date | None = None,
) -> PerformedSession:
    if appointment_id is not None:
        appt = uow.appointments.get(appointment_id, lock=True)
        # Refused before anything changes: only a booked appointment becomes performed.
        appt.status.require(AppointmentStatus.PERFORMED, appointment_id=appointment_id)
        if patient_id is not None and patient_id != appt.patient_id:
            raise InputError.one("patient_id", patient_id, "differs from the appointment's patient")
        if course_id is not None and course_id != appt.course_id:
            raise InputError.one("course_id", course_id, "differs from the appointment's course")
        patient_id, course_id = appt.patient_id, appt.course_id
        uow.appointments.set_status(appointment_id, AppointmentStatus.PERFORMED)
    if patient_id is None:
        raise InputError.one("patient_id", None, "is required without an appointment")
    uow.patients.get(patient_id)
    require_treatment_consent(uow, patient_id)
    uow.clinics.practitioner(draft.practitioner_id)
    if course_id is not None:
        course = uow.courses.get(course_id, lock=True)
        if course.patient_id != patient_id:
            raise InputError.one("course_id", course_id, "belongs to another patient")
        if course.status is CourseStatus.PLANNED:
            uow.courses.set_status(course_id, CourseStatus.ACTIVE, draft.performed_at)
        elif course.status is not CourseStatus.ACTIVE:
            raise StateError(
                f"course {course_id} is {course.status.value}; cannot record a session"
            )
    session = uow.sessions.add(patient_id, course_id, appointment_id, draft)
    if course_id is not None:
        at = draft.performed_at
        entry = uow.courses.ledger_add(course_id, -1, f"session {session.id} performed", at)
        if entry.remaining_after <= 0:
            course = uow.courses.set_status(course_id, CourseStatus.COMPLETED, at)
            done = uow.sessions.for_course(course.id)
            assessment = (
                uow.assessments.get(course.assessment_id).assessment
                if course.assessment_id is not None
                else None
            )
            if isinstance(maintenance_due, date):
                due = maintenance_due
            elif maintenance_due is not None:
                due = maintenance_due(course, done, assessment)
            else:
                due = default_maintenance_due(course, done, assessment)
            uow.recalls.close_open_for_patient(patient_id, RecallStatus.CLOSED, at)
            uow.recalls.add(patient_id, course_id, due, "maintenance after course", at)
    return session


def renumber_courses(uow: UnitOfWork, course_ids: set[int]) -> None:
    for course_id in sorted(course_ids):
        uow.appointments.renumber(course_id)
    uow.flush()

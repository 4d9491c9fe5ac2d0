"""Moving appointments and re-planning a course around a change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from needleplan.domain.accounts import User
from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    RecallStatus,
    SlotRequest,
)
from needleplan.exceptions import (
    InputError,
    StateError,
)
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    CourseSchedule,
    MaintenanceDue,
    Replan,
    ScheduledSession,
    course_uuid,
    replan,
)
from needleplan.services._clock import aware
from needleplan.services._slots import check_practitioners, parse_slots
from needleplan.services.audit import audited
from needleplan.services.courses import course_file, renumber_courses
from needleplan.services.messaging import enqueue as messages
from needleplan.services.practitioners import list_practitioners, sync_practitioners
from needleplan.services.recall import recall_list
from needleplan.storage import Database

T = TypeVar("T")


def reschedule(
    db: Database,
    moves: Sequence[tuple[int, SlotRequest | Mapping[str, Any] | tuple[Any, ...]]],
) -> list[Appointment]:
    """Move several booked appointments at once (re-planning the rest of a course): all or none.

    Old slots are released before the new ones are claimed, so appointments may swap times.
    """
    if not moves:
        raise InputError.one("moves", 0, "must name at least one appointment")
    ids = [appointment_id for appointment_id, _ in moves]
    if len(set(ids)) != len(ids):
        raise InputError.one("moves", ids, "names an appointment more than once")
    slots = parse_slots([slot for _, slot in moves])
    with db.transaction() as uow:
        for appointment_id in sorted(ids):
            appt = uow.appointments.get(appointment_id, lock=True)
            if appt.status is not AppointmentStatus.BOOKED:
                raise StateError(
                    f"appointment {appointment_id} is {appt.status.value}; "
                    "only booked ones can move"
                )
        check_practitioners(uow, slots)
        for appointment_id in sorted(ids):
            uow.appointments.release(appointment_id)
        uow.flush()
        # A changed time or practitioner raises the iCalendar SEQUENCE (see ``move``).
        moved = [
            uow.appointments.move(appointment_id, slot)
            for appointment_id, slot in zip(ids, slots, strict=True)
        ]
        uow.appointments.claim(moved)
        renumber_courses(uow, {a.course_id for a in moved if a.course_id is not None})
        messages.notify_dates_changed(uow, moved)
        return [uow.appointments.get(i) for i in ids]


def move_appointment(
    db: Database, appointment_id: int, slot: SlotRequest | Mapping[str, Any] | tuple[Any, ...]
) -> Appointment:
    """Move one booked appointment to a new time or practitioner (conflict-checked)."""
    return reschedule(db, [(appointment_id, slot)])[0]


def course_schedule_with_appointments(
    db: Database, course_id: int, clinic: ClinicConfig
) -> tuple[CourseSchedule, list[Appointment]]:
    """A course's booked and performed treatment sessions as a schedule numbered 1..n in time
    order, in the clinic's time zone, with the appointment behind each session (same order).

    Performed sessions count, so a re-plan keeps later sessions in their windows after the ones
    already done. The schedule's identity derives from the course record, so exporting the same
    course twice (or after a move) gives the same iCalendar UIDs; its open recall entry, if any,
    is the maintenance date.
    """
    cf = course_file(db, course_id)
    names = {p.id: p.name for p in list_practitioners(db)}
    active = sorted(
        (
            a
            for a in cf.appointments
            if a.kind is AppointmentKind.TREATMENT
            and a.status in (AppointmentStatus.BOOKED, AppointmentStatus.PERFORMED)
        ),
        key=lambda a: a.start,
    )
    if not active:
        raise StateError(f"course {course_id} has no booked or performed sessions")
    return schedule_of(db, cf.course, active, names, clinic), active


def schedule_of(
    db: Database,
    course: Course,
    appointments: Sequence[Appointment],
    names: Mapping[int, str],
    clinic: ClinicConfig,
) -> CourseSchedule:
    """``appointments`` (in course order) as the course's schedule, numbered 1..n."""
    tz = clinic.tz
    sessions = tuple(
        ScheduledSession(
            number=i,
            start=a.start.astimezone(tz),
            end=a.end.astimezone(tz),
            practitioner=names.get(a.practitioner_id, str(a.practitioner_id)),
            sequence=a.sequence,
        )
        for i, a in enumerate(appointments, start=1)
    )
    maintenance = None
    for entry in recall_list(db, statuses=(RecallStatus.OPEN,)):
        if entry.course_id == course.id:
            maintenance = MaintenanceDue(entry.due_date, None, entry.reason)
            break
    first = appointments[0]
    minutes = int((first.end - first.start).total_seconds() // 60)
    return CourseSchedule(
        course_id=course_uuid(f"needleplan/course/{course.id}/{course.created_at.isoformat()}"),
        timezone=clinic.timezone,
        interval_days=(course.protocol.interval_days.min, course.protocol.interval_days.max),
        duration_minutes=minutes,
        sessions=sessions,
        maintenance=maintenance,
        location=clinic.location,
        clinic_name=clinic.name,
    )


def course_schedule(
    db: Database, course_id: int, clinic: ClinicConfig, *, actor: User | None = None
) -> CourseSchedule:
    """The booked course as a :class:`CourseSchedule` (see :func:`course_schedule_with_appointments`).

    With ``actor`` (an export for someone: the ``.ics`` download) the read is audited as
    ``course.export`` on the patient's record, in the same transaction.
    """
    if actor is None:
        return course_schedule_with_appointments(db, course_id, clinic)[0]
    with audited(db, actor, "course.export", detail=f"course {course_id} ics") as note:
        note.patient_id = course_file(db, course_id).course.patient_id
        return course_schedule_with_appointments(db, course_id, clinic)[0]


@dataclass(frozen=True)
class CourseReplan:
    """A re-planned course: the scheduler's answer and, once saved, the moved appointments."""

    course_id: int
    replan: Replan
    moves: tuple[tuple[int, ScheduledSession], ...]
    saved: bool
    appointments: tuple[Appointment, ...] = ()


def replan_course(
    db: Database,
    appointment_id: int,
    new_start: datetime,
    clinic: ClinicConfig,
    *,
    practitioner: str | None = None,
    save: bool = True,
) -> CourseReplan:
    """Move one session of a course and re-anchor the following ones inside their windows.

    With ``save=False`` nothing changes: the answer is the preview a practitioner sees before
    confirming (including the forecast cost of a gap beyond its window and whether an extra
    session is advised). With ``save=True`` every changed appointment moves in one transaction,
    conflict-checked by the database (all or nothing).
    """
    when = aware(new_start, "new_start")
    with db.transaction() as uow:
        appt = uow.appointments.get(appointment_id)
        if appt.status is not AppointmentStatus.BOOKED:
            raise StateError(
                f"appointment {appointment_id} is {appt.status.value}; only booked ones can move"
            )
        if appt.course_id is None:
            raise StateError(f"appointment {appointment_id} belongs to no course; move it alone")
        course_id = appt.course_id
        course = uow.courses.get(course_id)
        record = (
            uow.assessments.get(course.assessment_id) if course.assessment_id is not None else None
        )
    schedule, active = course_schedule_with_appointments(db, course_id, clinic)
    active_ids = [a.id for a in active]
    number = active_ids.index(appointment_id) + 1
    first, last = schedule.sessions[0].start, schedule.sessions[-1].end
    span_start = min(first, when) - timedelta(days=1)
    span_end = max(last, when) + timedelta(days=4 * (course.protocol.interval_days.max + 14))
    names = {v: k for k, v in sync_practitioners(db, clinic).items()}
    with db.transaction() as uow:
        taken = uow.appointments.between(span_start, span_end)
    busy = [
        Busy(names[a.practitioner_id], a.start, a.end)
        for a in taken
        if a.practitioner_id in names and a.course_id != course_id
    ]
    result = replan(
        schedule,
        number,
        clinic,
        course.protocol,
        new_start=when,
        practitioner=practitioner,
        busy=busy,
        assessment=record.assessment if record is not None else None,
    )
    by_number = {s.number: s for s in result.schedule.sessions}
    moves = tuple((active_ids[n - 1], by_number[n]) for n in result.changed)
    if not save or not moves:
        return CourseReplan(course_id, result, moves, saved=False)
    ids = {v: k for k, v in names.items()}
    moved = reschedule(
        db,
        [
            (aid, SlotRequest(start=s.start, end=s.end, practitioner_id=ids[s.practitioner]))
            for aid, s in moves
        ],
    )
    return CourseReplan(course_id, result, moves, saved=True, appointments=tuple(moved))

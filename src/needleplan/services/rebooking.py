"""Rebooking a missed or cancelled course session: re-plan from a day, all or nothing under slot
claims."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    SlotRequest,
)
from needleplan.exceptions import (
    ConflictError,
    InputError,
    StateError,
)
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    Replan,
    ScheduledSession,
    replan,
)
from needleplan.services._clock import aware
from needleplan.services._slots import check_practitioners, close_recalls_by_booking
from needleplan.services.appointments import HOLDING
from needleplan.services.courses import renumber_courses
from needleplan.services.messaging import enqueue as messages
from needleplan.services.practitioners import sync_practitioners
from needleplan.services.rescheduling import schedule_of
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")


_REBOOKED = re.compile(r"rebooked as appointment (\d+)")


@dataclass(frozen=True)
class RebookPlan:
    """A missed session rebooked: the re-planned course and, once saved, what was stored.

    Attributes
    ----------
    course_id, session_number :
        The course and the number the missed session has in it (counting the sessions
        performed or still booked before it).
    missed : Appointment
        The missed appointment; it stays stored with status ``missed``.
    ordered : tuple[Appointment, ...]
        The appointments behind the re-planned course's sessions 1..n (the missed one at
        ``session_number``), as they were before the rebooking.
    not_before : date
        The first day the new session may take (clinic zone).
    replan : Replan
        The scheduler's answer: the whole course, its warnings and gap reports.
    session, practitioner_id :
        The new slot of the missed session and who treats (database id).
    moves :
        Later booked sessions whose time or practitioner changes:
        ``(appointment id, new session, practitioner id)``.
    saved, appointment, moved :
        Once saved: the new booked appointment and the moved ones.
    """

    course_id: int
    session_number: int
    missed: Appointment
    ordered: tuple[Appointment, ...]
    not_before: date
    replan: Replan
    session: ScheduledSession
    practitioner_id: int
    moves: tuple[tuple[int, ScheduledSession, int], ...]
    saved: bool = False
    appointment: Appointment | None = None
    moved: tuple[Appointment, ...] = ()

    @property
    def proposal(self) -> str:
        """A fingerprint of every slot proposed: a page saves exactly what it showed with it."""
        rows = [(0, self.session, self.practitioner_id), *self.moves]
        return ";".join(
            f"{aid}|{s.start.isoformat()}|{s.end.isoformat()}|{pid}" for aid, s, pid in rows
        )


def rebooked_as(appointment: Appointment) -> int | None:
    """The id of the appointment a missed one was rebooked as, or ``None`` (not rebooked)."""
    found = _REBOOKED.search(appointment.note or "")
    return int(found.group(1)) if found else None


#: Outcomes that leave a course session owed: she did not come, or the visit was cancelled.
OWED = (AppointmentStatus.MISSED, AppointmentStatus.CANCELLED)


def can_rebook(appointment: Appointment) -> bool:
    """Whether to offer "Rebook": a missed or cancelled course session not rebooked yet (the
    service checks the rest, such as the course still owing the session)."""
    return (
        appointment.status in OWED
        and appointment.course_id is not None
        and appointment.kind is AppointmentKind.TREATMENT
        and rebooked_as(appointment) is None
    )


def _rebookable(
    uow: UnitOfWork, appointment_id: int, *, lock: bool = False
) -> tuple[Appointment, Course]:
    """The missed (or cancelled) appointment and its course, or the StateError saying why not."""
    appt = uow.appointments.get(appointment_id, lock=lock)
    if appt.status not in OWED:
        raise StateError(
            f"appointment {appointment_id} is {appt.status.value}; only a missed or cancelled "
            "appointment is rebooked"
        )
    if appt.course_id is None or appt.kind is not AppointmentKind.TREATMENT:
        raise StateError(
            f"appointment {appointment_id} is a {appt.kind.value} visit outside a course's "
            "sessions; book a new appointment for it instead"
        )
    earlier = _REBOOKED.search(appt.note or "")
    if earlier is not None:
        raise StateError(
            f"appointment {appointment_id} was already rebooked as appointment {earlier.group(1)}"
        )
    course = uow.courses.get(appt.course_id, lock=lock)
    if course.status.is_final:
        raise StateError(
            f"course {course.id} is {course.status.value}; its missed sessions are not rebooked"
        )
    booked = [
        a
        for status in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)
        for a in uow.appointments.for_course(course.id, status)
        if a.kind is AppointmentKind.TREATMENT
    ]
    if len(booked) >= course.remaining_sessions:
        raise StateError(
            f"course {course.id} has {course.remaining_sessions} session(s) left and "
            f"{len(booked)} booked already, so the missed one needs no new booking "
            "(add a session to the course first if she needs one more)"
        )
    return appt, course


def rebook_missed(
    db: Database,
    appointment_id: int,
    clinic: ClinicConfig,
    *,
    not_before: date | None = None,
    practitioner: str | None = None,
    preview: bool = False,
    expect: str | None = None,
    now: datetime | None = None,
) -> RebookPlan:
    """Book a missed or cancelled course session again and re-anchor the course's later sessions.

    A cancelled session of an open course is owed just like a missed one and is rebooked the
    same way (except that its new day may be any day from today). The missed appointment stays
    stored as ``missed`` (a record of the no-show; a cancelled one stays ``cancelled``). A NEW booked
    appointment takes its session number at the first feasible slot from ``not_before`` (default:
    today in the clinic's zone; never earlier, never a time of today that has passed, and never
    before the day after the missed appointment), chosen
    by :func:`needleplan.scheduling.replan` with ``missed=True``: inside the session's window
    after the previous session when possible, else the nearest feasible day after it (with a
    warning and, with the patient's assessment, the forecast cost of the gap). Later booked
    sessions are placed again inside their windows after it, keeping session 1's weekday, time
    and practitioner where possible. ``practitioner`` (a name in the clinic config) treats the
    rebooked and the moved sessions; default: anyone, preferring the course's own.

    The ledger is not touched: a missed session was never performed, so the course still owes
    it, and the new appointment books that owed session. iCalendar: the new appointment takes
    the session's number (so its UID) with SEQUENCE one higher; moved sessions get SEQUENCE + 1.

    With ``preview=True`` nothing is stored. Otherwise everything is saved in one transaction
    (new appointment, moves, the missed row's note "rebooked as appointment N"), guarded by the
    slot claims: a clash with a booking made meanwhile raises :class:`ConflictError` and stores
    nothing. ``expect`` is the :attr:`RebookPlan.proposal` a page showed: when the calendar
    changed since, the new proposal differs, :class:`ConflictError` is raised and nothing is
    stored.

    Raises
    ------
    InputError
        ``not_before`` in the past; unknown practitioner.
    StateError
        Not a missed or cancelled course session; already rebooked; the course is closed or owes no session.
    SessionSchedulingError
        No feasible slot even beyond the windows (names the session, why, and the nearest
        feasible alternative).
    """
    at = aware(now, "now")
    tz = clinic.tz
    today = at.astimezone(tz).date()
    floor = today if not_before is None else not_before
    if floor < today:
        raise InputError.one(
            "not_before",
            floor.isoformat(),
            f"must not be in the past (today is {today.isoformat()} in {clinic.timezone})",
        )
    if practitioner is not None:
        clinic.practitioner(practitioner)  # InputError naming the clinic's practitioners
    with db.transaction() as uow:
        missed, course = _rebookable(uow, appointment_id)
        record = (
            uow.assessments.get(course.assessment_id) if course.assessment_id is not None else None
        )
        appointments = uow.appointments.for_course(course.id)
        names = {p.id: p.name for p in uow.clinics.practitioners()}
    # She did not come then: the new session goes on a later day than the missed one (a
    # cancelled visit may be rebooked on any day from today).
    if missed.status is AppointmentStatus.MISSED:
        floor = max(floor, missed.start.astimezone(tz).date() + timedelta(days=1))
    treatment = [
        a for a in appointments if a.kind is AppointmentKind.TREATMENT and a.id != missed.id
    ]
    # Sessions already performed come before the rebooked one even when they were later than
    # the miss (she came to the next one): the course still owes one session after them.
    before = sorted(
        (
            a
            for a in treatment
            if a.status is AppointmentStatus.PERFORMED
            or (a.status.is_live and a.start < missed.start)
        ),
        key=lambda a: a.start,
    )
    after = sorted(
        (a for a in treatment if a.status is AppointmentStatus.BOOKED and a.start >= missed.start),
        key=lambda a: a.start,
    )
    ordered = [*before, missed, *after]
    number = len(before) + 1
    schedule = schedule_of(db, course, ordered, names, clinic)
    ids = sync_practitioners(db, clinic)
    known = {v: k for k, v in ids.items()}
    first_day = min(floor, schedule.sessions[0].start.astimezone(tz).date())
    last_day = max(floor, schedule.sessions[-1].start.astimezone(tz).date())
    span_start = datetime.combine(first_day, time(0), tzinfo=tz) - timedelta(days=1)
    horizon = (len(after) + 2) * (course.protocol.interval_days.max + 14) + 400
    span_end = datetime.combine(last_day, time(0), tzinfo=tz) + timedelta(days=horizon)
    mine = {a.id for a in ordered}
    with db.transaction() as uow:
        taken = uow.appointments.between(span_start, span_end, None, HOLDING)
    busy = [
        Busy(known[a.practitioner_id], a.start, a.end)
        for a in taken
        if a.practitioner_id in known and a.id not in mine
    ]
    midnight = datetime.combine(today, time(0), tzinfo=tz)
    if floor == today and at > midnight:
        busy += [Busy(p.name, midnight, at) for p in clinic.practitioners]  # the past of today
    result = replan(
        schedule,
        number,
        clinic,
        course.protocol,
        missed=True,
        not_before=floor,
        practitioner=practitioner,
        busy=busy,
        assessment=record.assessment if record is not None else None,
    )
    new = result.schedule.session(number)
    moves = tuple(
        (
            after[n - number - 1].id,
            result.schedule.session(n),
            ids[result.schedule.session(n).practitioner],
        )
        for n in result.changed
        if n > number
    )
    plan = RebookPlan(
        course.id,
        number,
        missed,
        tuple(ordered),
        floor,
        result,
        new,
        ids[new.practitioner],
        moves,
    )
    if preview:
        return plan
    if expect is not None and expect != plan.proposal:
        raise ConflictError(
            "the calendar changed since the proposal was made, so the re-plan differs now"
        )
    old = {a.id: a for a in after}
    with db.transaction() as uow:
        current = {
            i: uow.appointments.get(i, lock=True)
            for i in sorted({missed.id, *(aid for aid, _, _ in moves)})
        }
        _rebookable(uow, missed.id, lock=True)
        for aid, _, _ in moves:
            now_, was = current[aid], old[aid]
            if now_.status is not AppointmentStatus.BOOKED or (
                now_.start,
                now_.end,
                now_.practitioner_id,
            ) != (was.start, was.end, was.practitioner_id):
                raise ConflictError(
                    f"appointment {aid} changed while the missed session was being rebooked; "
                    "try again"
                )
        slot = SlotRequest(start=new.start, end=new.end, practitioner_id=plan.practitioner_id)
        check_practitioners(
            uow,
            [
                slot,
                *(SlotRequest(start=s.start, end=s.end, practitioner_id=p) for _, s, p in moves),
            ],
        )
        for aid in current:
            uow.appointments.release(aid)  # the missed time is history now; moved ones re-claim
        uow.flush()
        moved = [
            # calendars update the event on a higher SEQUENCE
            uow.appointments.move(
                aid, SlotRequest(start=s.start, end=s.end, practitioner_id=pid), raise_sequence=True
            )
            for aid, s, pid in moves
        ]
        fresh = uow.appointments.add(
            missed.patient_id,
            course.id,
            slot,
            AppointmentKind.TREATMENT,
            number,
            at,
            f"rebooked after missed appointment {missed.id}",
            sequence=new.sequence,
        )
        try:
            uow.appointments.claim([fresh, *moved])
        except ConflictError:
            raise ConflictError(
                "another booking took one of the proposed times a moment ago (double booking "
                "refused); nothing was rebooked"
            ) from None
        uow.appointments.add_note(missed.id, f"rebooked as appointment {fresh.id}")
        renumber_courses(uow, {course.id})
        close_recalls_by_booking(uow, missed.patient_id, at)
        messages.notify_dates_changed(uow, [fresh, *moved], at)
        return dataclasses.replace(
            plan,
            saved=True,
            appointment=uow.appointments.get(fresh.id),
            moved=tuple(uow.appointments.get(aid) for aid, _, _ in moves),
        )

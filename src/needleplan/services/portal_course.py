"""She books her course start through her portal link (docs/online-booking.md, "Course start").

Offered only when the clinic's ``[online_booking] course_start`` is on, and only to a patient
with a confirmed plan: an assessment whose protocol is not blocked, consent to treatment on
record, and no open (planned or active) course. The whole course is dated by the staff booking
service (:func:`needleplan.services.booking.date_course`, the scheduler with every booking and
held time as busy) with session 1 at the time she picked; nothing is saved until she saves the
dates she saw, which books them through :func:`~needleplan.services.booking.book_course_in`
(the same slot claims, rules and booking confirmation with the course's ``.ics``).

=====================  ==================================================  ===============
use-case               does                                                audit action
=====================  ==================================================  ===============
course_start_offered   whether her page shows "Book your course"           (none)
course_start_options   free first-session times in the next ``days_ahead``  ``portal.read``
course_start_preview   the whole course dated from the picked time          ``portal.read``
course_start_save      books exactly the dates she saw (all or nothing)     ``course.book``
=====================  ==================================================  ===============
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from needleplan.domain.portal import LinkActor
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import AssessmentRecord, CourseStatus, SlotRequest
from needleplan.exceptions import InputError, SchedulingError, StateError
from needleplan.guideline import make_protocol
from needleplan.scheduling import ClinicConfig, CourseSchedule
from needleplan.services._clock import aware, utc_now
from needleplan.services.booking import CourseBooking, book_course_in, date_course
from needleplan.services.clinic_calendar_slots import FreeSlot, find_free_slots, parse_slot_key
from needleplan.services.portal_links import portal_audited
from needleplan.storage import Database

#: How many free start times her page offers.
OFFERED = 12
#: A day offers its first morning time and its first time from this hour on.
AFTERNOON = 14
ONLINE_NOTE = "booked by the patient online"


class CourseStartRefusedError(StateError):
    """She cannot book a course start online; ``reason`` is ``no-plan`` (no assessment, or its
    plan is blocked), ``consent`` (no consent to treatment on record) or ``booked`` (she has an
    open course)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CoursePlan:
    """Her confirmed plan: the newest assessment and the protocol it gives."""

    assessment: AssessmentRecord
    protocol: Protocol
    minutes: int  # one session [minutes]


@dataclass(frozen=True)
class CourseStartPreview:
    """The whole course dated from the picked time (nothing saved)."""

    plan: CoursePlan
    slot: FreeSlot
    schedule: CourseSchedule
    slots: tuple[SlotRequest, ...]  # what the booking books

    @property
    def key(self) -> str:
        """What the page sends back on save: every session's practitioner and start."""
        return "|".join(f"{s.practitioner}@{s.start.isoformat()}" for s in self.schedule.sessions)


class CourseStartChangedError(StateError):
    """The calendar changed since she saw her dates: nothing booked, here are the new ones."""

    def __init__(self, preview: CourseStartPreview) -> None:
        super().__init__("nothing was booked: the calendar changed since your dates were shown")
        self.preview = preview


def _now(now: datetime | None) -> datetime:
    return aware(now, "now") if now is not None else utc_now()


def her_plan(db: Database, actor: LinkActor, clinic: ClinicConfig) -> CoursePlan:
    """Her confirmed plan, or :class:`CourseStartRefusedError` saying why there is none."""
    with db.transaction() as uow:
        patient = uow.patients.get(actor.patient_id)
        history = uow.assessments.history(actor.patient_id)
        courses = uow.courses.for_patient(actor.patient_id)
    if any(c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE) for c in courses):
        raise CourseStartRefusedError("booked", "your course is already booked")
    if not history:
        raise CourseStartRefusedError("no-plan", "you have no confirmed plan yet")
    protocol = make_protocol(history[0].assessment)
    if protocol.blocked:
        raise CourseStartRefusedError("no-plan", "your plan needs the clinic's advice first")
    if not patient.consent_treatment:
        raise CourseStartRefusedError("consent", "the clinic has no consent to treatment from you")
    minutes = clinic.session_duration_minutes(list(protocol.areas))
    return CoursePlan(history[0], protocol, minutes)


def course_start_offered(db: Database, actor: LinkActor, clinic: ClinicConfig) -> bool:
    """Whether her page offers "Book your course" (the setting is on and she may)."""
    if not clinic.online_booking.course_start:
        return False
    try:
        her_plan(db, actor, clinic)
    except CourseStartRefusedError:
        return False
    return True


def _spread(db: Database, clinic: ClinicConfig, minutes: int, at: datetime) -> list[FreeSlot]:
    """Free first-session times from tomorrow over ``days_ahead`` days: on each day the first
    morning time and the first afternoon time (from 14:00), then at most :data:`OFFERED`
    spread evenly over the days."""
    tz = clinic.tz
    day = at.astimezone(tz).date() + timedelta(days=1)
    out: list[FreeSlot] = []
    for _ in range(clinic.online_booking.days_ahead):
        found = find_free_slots(
            db,
            clinic,
            "session",
            not_before=day,
            days=1,
            minutes=minutes,
            limit=100,
            per_day=100,
            now=at,
        )
        found = [f for f in found if f.start.astimezone(tz).date() == day]
        afternoon = [f for f in found if f.start.astimezone(tz).hour >= AFTERNOON]
        morning = [f for f in found if f.start.astimezone(tz).hour < AFTERNOON]
        out.extend(f[0] for f in (morning, afternoon) if f)
        day += timedelta(days=1)
    if len(out) <= OFFERED:
        return out
    step = len(out) / OFFERED
    return [out[int(i * step)] for i in range(OFFERED)]


def course_start_options(
    db: Database, actor: LinkActor, clinic: ClinicConfig, *, now: datetime | None = None
) -> tuple[CoursePlan, list[FreeSlot]]:
    """Her plan and the free first-session times she may pick (:func:`_spread`; audited
    ``portal.read``)."""
    at = _now(now)
    with portal_audited(db, actor, "portal.read", "course start times"):
        plan = her_plan(db, actor, clinic)
        slots = _spread(db, clinic, plan.minutes, at)
    return plan, slots


def _picked(slot_key: str, offered: Sequence[FreeSlot], clinic: ClinicConfig) -> FreeSlot:
    practitioner_id, start = parse_slot_key(slot_key, clinic)
    for s in offered:
        if s.practitioner_id == practitioner_id and s.start == start:
            return s
    raise InputError.one(
        "slot", slot_key[:60], "is not one of the free times offered; pick one from the list"
    )


def _date_from(
    db: Database, clinic: ClinicConfig, plan: CoursePlan, slot: FreeSlot
) -> CourseStartPreview:
    local = slot.start.astimezone(clinic.tz)
    schedule, slots = date_course(
        db,
        clinic,
        plan.protocol,
        local.date(),
        practitioner=slot.practitioner,
        preferred=local.time().replace(tzinfo=None),
    )
    if schedule.sessions[0].start != slot.start:
        raise SchedulingError(
            "your course cannot start at that time (the sessions after it do not fit); "
            "pick another time"
        )
    return CourseStartPreview(plan, slot, schedule, tuple(slots))


def course_start_preview(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    slot_key: str,
    *,
    now: datetime | None = None,
) -> CourseStartPreview:
    """Her whole course dated with session 1 at the picked time (nothing saved)."""
    at = _now(now)
    plan, offered = course_start_options(db, actor, clinic, now=at)
    return _date_from(db, clinic, plan, _picked(slot_key, offered, clinic))


def course_start_save(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    slot_key: str,
    shown: str,
    *,
    now: datetime | None = None,
) -> CourseBooking:
    """Book exactly the dates she saw (``shown``: :attr:`CourseStartPreview.key`), all or
    nothing under the slot claims; :class:`CourseStartChangedError` when the calendar changed
    since, ``ConflictError`` when a time was taken at the last moment. The booking
    confirmation with the course's ``.ics`` is queued with it (audited ``course.book``)."""
    at = _now(now)
    preview = course_start_preview(db, actor, clinic, slot_key, now=at)
    if preview.key != shown:
        raise CourseStartChangedError(preview)
    with portal_audited(db, actor, "course.book") as note, db.transaction() as uow:
        booking = book_course_in(
            uow,
            actor.patient_id,
            preview.plan.protocol,
            preview.slots,
            assessment_id=preview.plan.assessment.id,
            note=ONLINE_NOTE,
            at=at,
        )
        note.detail = (
            f"course {booking.course.id} ({len(booking.appointments)} sessions, online start)"
        )
        return booking


__all__ = [
    "CoursePlan",
    "CourseStartChangedError",
    "CourseStartPreview",
    "CourseStartRefusedError",
    "course_start_offered",
    "course_start_options",
    "course_start_preview",
    "course_start_save",
    "her_plan",
]

"""Use-cases shared by the CLI and the web app: the one place that opens a transaction and commits.

Every public function takes a :class:`~needleplan.storage.Database` first and runs as one
transaction: it stores everything or nothing. Input arrives as domain values or plain mappings
(validated here, :class:`~needleplan.exceptions.InputError` names the field, value and rule);
results are domain values from :mod:`needleplan.domain.records`.

Error contract: ``NotFoundError`` for a missing record, ``ConflictError`` for a double booking or a
duplicate key, ``StateError`` for an illegal status change, ``BlockedError`` for a blocked
protocol, ``PermissionDeniedError`` for a role that may not act.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from needleplan.domain.assessment import Assessment, parse_assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import (
    USERNAME_PATTERN,
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
    Patient,
    PatientDraft,
    PerformedSession,
    PerformedSessionDraft,
    Practitioner,
    RecallEntry,
    RecallStatus,
    Role,
    SlotRequest,
    User,
    parse_record,
)
from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    FieldProblem,
    InputError,
    NeedleplanError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from needleplan.guideline import Guideline, make_protocol
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    CourseSchedule,
    MaintenanceDue,
    Replan,
    ScheduledSession,
    course_uuid,
    maintenance_due,
    replan,
    schedule_course,
)
from needleplan.storage import Database, UnitOfWork, demo
from needleplan.storage.demo import DemoSummary
from needleplan.storage.repositories import (
    ApiTokenInfo,
    ApiTokenRepository,
    AuditQuery,
    LeadRepository,
    PatientFinder,
    audit_patients_detail,
    to_user,
)
from needleplan.storage.tables import AppointmentRow, CourseRow

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None, field_name: str) -> datetime:
    if value is None:
        return utc_now()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError.one(field_name, value.isoformat(), "must be timezone-aware")
    return value


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: Any, field_name: str) -> E:
    """``value`` as a member of ``kind`` or an InputError listing the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError.one(field_name, value, f"must be one of {allowed}") from None


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --------------------------------------------------------------------------- clinic


def ensure_clinic(db: Database, name: str = "needleplan clinic", timezone: str = "UTC") -> Clinic:
    """The clinic of this database, created on first use."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError.one("timezone", timezone, "must be an IANA time zone name") from None
    with db.transaction() as uow:
        existing = uow.clinics.first()
        if existing is not None:
            return existing
        return uow.clinics.add(name, timezone, utc_now())


def add_practitioner(db: Database, name: str, *, clinic_id: int | None = None) -> Practitioner:
    clean = name.strip()
    if not clean or len(clean) > 200:
        raise InputError.one("name", name, "must be 1 to 200 characters")
    if clinic_id is None:
        clinic_id = ensure_clinic(db).id
    with db.transaction() as uow:
        return uow.clinics.add_practitioner(clinic_id, clean)


def list_practitioners(db: Database) -> list[Practitioner]:
    with db.transaction() as uow:
        return uow.clinics.practitioners()


# --------------------------------------------------------------------------- patients


def register_patient(db: Database, data: PatientDraft | Mapping[str, Any]) -> Patient:
    """Register a patient; the record number (``mrn``) is assigned when not given."""
    draft = parse_record(PatientDraft, data)
    with db.transaction() as uow:
        return uow.patients.add(draft, utc_now())


def update_patient(db: Database, patient_id: int, changes: Mapping[str, Any]) -> Patient:
    """Change a patient's demographics, contact details or consent flags (validated as a whole).

    ``changes`` names only the fields that change; ``mrn`` changes too when given (must stay
    unique). Unknown fields are refused.
    """
    with db.transaction() as uow:
        row = uow.patients.row(patient_id)
        current = uow.patients.get(patient_id).model_dump(exclude={"id", "created_at"})
        draft = parse_record(PatientDraft, current | dict(changes))
        if draft.mrn != row.mrn and draft.mrn is not None and uow.patients.by_mrn(draft.mrn):
            raise ConflictError(f"mrn {draft.mrn} is already used by another patient")
        for name, value in draft.model_dump().items():
            if name == "sex":
                value = draft.sex.value
            if name == "mrn" and value is None:
                continue
            setattr(row, name, value)
        uow.flush()
        return uow.patients.get(patient_id)


def get_patient(db: Database, patient_id: int) -> Patient:
    with db.transaction() as uow:
        return uow.patients.get(patient_id)


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
        )


# --------------------------------------------------------------------------- assessments


def record_assessment(
    db: Database,
    patient_id: int,
    assessment: Assessment | Mapping[str, Any],
    *,
    assessed_at: datetime | None = None,
    assessed_by: int | None = None,
    notes: str = "",
) -> AssessmentRecord:
    """Add an assessment to the patient's history (earlier ones are kept unchanged)."""
    parsed = parse_assessment(assessment)
    at = _aware(assessed_at, "assessed_at")
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        if assessed_by is not None:
            uow.clinics.practitioner(assessed_by)
        return uow.assessments.add(patient_id, parsed, at, assessed_by, notes.strip())


def assessment_history(db: Database, patient_id: int) -> list[AssessmentRecord]:
    """Every assessment of the patient, newest first."""
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.assessments.history(patient_id)


def latest_assessments(db: Database) -> tuple[list[Assessment], int]:
    """Every patient's newest assessment, for population studies (read only).

    Returns the assessments alone, in patient-id order, with no name, record number or id,
    and how many stored assessments no longer pass validation (left out).
    """
    with db.transaction() as uow:
        rows = uow.assessments.latest_data()
    out: list[Assessment] = []
    for data in rows:
        try:
            out.append(Assessment.model_validate(data))
        except ValueError:
            continue
    return out, len(rows) - len(out)


# --------------------------------------------------------------------------- booking


@dataclass(frozen=True)
class CourseBooking:
    course: Course
    appointments: list[Appointment]


def parse_slots(
    slots: Sequence[SlotRequest | Mapping[str, Any] | tuple[Any, ...]],
) -> list[SlotRequest]:
    """Validate proposed slots: ``SlotRequest``, mappings, or ``(start, end, practitioner_id)``."""
    out: list[SlotRequest] = []
    problems: list[FieldProblem] = []
    for i, raw in enumerate(slots):
        data: Any = raw
        if isinstance(raw, tuple):
            if len(raw) != 3:
                problems.append(
                    FieldProblem(f"slots[{i}]", raw, "must be (start, end, practitioner)")
                )
                continue
            start, end, who = raw
            data = {"start": start, "end": end, "practitioner_id": _practitioner_id(who)}
        try:
            out.append(parse_record(SlotRequest, data))
        except InputError as exc:
            problems.extend(
                FieldProblem(f"slots[{i}].{p.field}", p.value, p.rule) for p in exc.problems
            )
    if problems:
        raise InputError(problems)
    ordered = sorted(range(len(out)), key=lambda k: out[k].start)
    for a, b in itertools.pairwise(ordered):
        if out[b].start < out[a].end:
            raise InputError.one(
                f"slots[{b}].start", out[b].start.isoformat(), f"overlaps slots[{a}]"
            )
    return out


def _practitioner_id(who: Any) -> Any:
    return getattr(who, "id", who)


def _close_recalls_by_booking(uow: UnitOfWork, patient_id: int, at: datetime) -> None:
    for row in uow.recalls.open_rows_for_patient(patient_id):
        uow.recalls.close(row, RecallStatus.BOOKED, at)


def _check_practitioners(uow: UnitOfWork, slots: Sequence[SlotRequest]) -> None:
    for pid in sorted({s.practitioner_id for s in slots}):
        practitioner = uow.clinics.practitioner(pid)
        if not practitioner.active:
            raise StateError(f"practitioner {pid} is inactive and cannot be booked")


def book_course_in(
    uow: UnitOfWork,
    patient_id: int,
    protocol: Protocol,
    slots: Sequence[SlotRequest],
    *,
    assessment_id: int | None = None,
    note: str = "",
    at: datetime | None = None,
) -> CourseBooking:
    """:func:`book_course` inside a caller's unit of work (used by imports and the demo)."""
    when = at or utc_now()
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons or ["the protocol is blocked"])
    if len(slots) > protocol.initial_sessions:
        raise InputError.one(
            "slots",
            len(slots),
            f"more sessions than the protocol's {protocol.initial_sessions}",
        )
    uow.patients.row(patient_id, lock=True)  # serialises bookings for the same patient
    open_courses = [
        c
        for c in uow.courses.for_patient(patient_id)
        if c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    ]
    if open_courses:
        c = open_courses[0]
        raise StateError(
            f"patient {patient_id} already has course {c.id} ({c.status.value}); "
            "complete, lapse or cancel it before booking another"
        )
    if assessment_id is not None:
        record = uow.assessments.get(assessment_id)
        if record.patient_id != patient_id:
            raise InputError.one("assessment_id", assessment_id, "belongs to another patient")
    _check_practitioners(uow, slots)
    course = uow.courses.add(patient_id, assessment_id, protocol, when, note)
    rows = [
        uow.appointments.add(patient_id, course.id, slot, AppointmentKind.TREATMENT, number, when)
        for number, slot in enumerate(sorted(slots, key=lambda s: s.start), start=1)
    ]
    uow.appointments.claim(rows)
    if rows:
        _close_recalls_by_booking(uow, patient_id, when)
    uow.flush()
    return CourseBooking(
        course=uow.courses.get(course.id), appointments=uow.appointments.for_course(course.id)
    )


def book_course(
    db: Database,
    patient_id: int,
    protocol: Protocol | Mapping[str, Any],
    slots: Sequence[SlotRequest | Mapping[str, Any] | tuple[Any, ...]] = (),
    *,
    assessment_id: int | None = None,
    note: str = "",
) -> CourseBooking:
    """Plan a course from ``protocol`` (stored as a snapshot) and book all ``slots`` or none.

    The course starts ``planned`` with a ledger entry of ``protocol.initial_sessions``; each slot
    becomes a treatment appointment numbered in time order. Any clash with an existing booking of
    the practitioner raises :class:`ConflictError` and nothing is stored. Booking closes the
    patient's open recall entries (she booked).
    """
    parsed_protocol = (
        protocol if isinstance(protocol, Protocol) else parse_record(Protocol, protocol)
    )
    parsed = parse_slots(slots)
    with db.transaction() as uow:
        return book_course_in(
            uow, patient_id, parsed_protocol, parsed, assessment_id=assessment_id, note=note
        )


def book_appointment(
    db: Database,
    patient_id: int,
    slot: SlotRequest | Mapping[str, Any] | tuple[Any, ...],
    *,
    course_id: int | None = None,
    kind: AppointmentKind | str = AppointmentKind.TREATMENT,
    note: str = "",
) -> Appointment:
    """Book one appointment (a session added to a course, a review or a maintenance visit)."""
    (parsed,) = parse_slots([slot])
    parsed_kind = parse_enum(AppointmentKind, kind, "kind")
    with db.transaction() as uow:
        return book_appointment_in(
            uow, patient_id, parsed, course_id=course_id, kind=parsed_kind, note=note
        )


def book_appointment_in(
    uow: UnitOfWork,
    patient_id: int,
    slot: SlotRequest,
    *,
    course_id: int | None = None,
    kind: AppointmentKind = AppointmentKind.TREATMENT,
    note: str = "",
    at: datetime | None = None,
) -> Appointment:
    when = at or utc_now()
    uow.patients.row(patient_id)
    number: int | None = None
    if course_id is not None:
        course = uow.courses.row(course_id, lock=True)
        if course.patient_id != patient_id:
            raise InputError.one("course_id", course_id, "belongs to another patient")
        if CourseStatus(course.status).is_final:
            raise StateError(f"course {course_id} is {course.status}; book a new course instead")
        number = len(uow.appointments.for_course(course_id)) + 1
    _check_practitioners(uow, [slot])
    row = uow.appointments.add(patient_id, course_id, slot, kind, number, when, note)
    uow.appointments.claim([row])
    _close_recalls_by_booking(uow, patient_id, when)
    return uow.appointments.get(row.id)


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
        rows = []
        for appointment_id in sorted(ids):
            row = uow.appointments.row(appointment_id, lock=True)
            if row.status != AppointmentStatus.BOOKED.value:
                raise StateError(
                    f"appointment {appointment_id} is {row.status}; only booked ones can move"
                )
            rows.append(row)
        by_id = {r.id: r for r in rows}
        _check_practitioners(uow, slots)
        for row in rows:
            uow.appointments.release(row)
        uow.flush()
        moved = []
        for appointment_id, slot in zip(ids, slots, strict=True):
            row = by_id[appointment_id]
            if (row.start_at, row.end_at, row.practitioner_id) != (
                slot.start,
                slot.end,
                slot.practitioner_id,
            ):
                row.sequence += 1  # calendars update the event on a higher SEQUENCE
            row.start_at, row.end_at, row.practitioner_id = (
                slot.start,
                slot.end,
                slot.practitioner_id,
            )
            moved.append(row)
        uow.flush()
        uow.appointments.claim(moved)
        _renumber_courses(uow, {r.course_id for r in moved if r.course_id is not None})
        return [uow.appointments.get(i) for i in ids]


def _renumber_courses(uow: UnitOfWork, course_ids: set[int]) -> None:
    for course_id in sorted(course_ids):
        uow.appointments.renumber(course_id)
    uow.flush()


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
    return _schedule_of(db, cf.course, active, names, clinic), active


def _schedule_of(
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


def course_schedule(db: Database, course_id: int, clinic: ClinicConfig) -> CourseSchedule:
    """The booked course as a :class:`CourseSchedule` (see :func:`course_schedule_with_appointments`)."""
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
    when = _aware(new_start, "new_start")
    with db.transaction() as uow:
        row = uow.appointments.row(appointment_id)
        if row.status != AppointmentStatus.BOOKED.value:
            raise StateError(
                f"appointment {appointment_id} is {row.status}; only booked ones can move"
            )
        if row.course_id is None:
            raise StateError(f"appointment {appointment_id} belongs to no course; move it alone")
        course_id = row.course_id
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


def cancel_appointment(db: Database, appointment_id: int, *, reason: str = "") -> Appointment:
    """Cancel a booked appointment and free the practitioner's time."""
    with db.transaction() as uow:
        row = uow.appointments.row(appointment_id, lock=True)
        if row.status != AppointmentStatus.BOOKED.value:
            raise StateError(f"appointment {appointment_id} is {row.status}; cannot cancel")
        row.status = AppointmentStatus.CANCELLED.value
        if reason:
            row.note = (row.note + "\n" if row.note else "") + f"cancelled: {reason.strip()}"
        uow.appointments.release(row)
        uow.flush()
        if row.course_id is not None:
            _renumber_courses(uow, {row.course_id})
        return uow.appointments.get(appointment_id)


def mark_missed(db: Database, appointment_id: int) -> Appointment:
    """Record that the patient did not come (the time stays taken; the session stays owed)."""
    with db.transaction() as uow:
        row = uow.appointments.row(appointment_id, lock=True)
        if row.status != AppointmentStatus.BOOKED.value:
            raise StateError(f"appointment {appointment_id} is {row.status}; cannot mark missed")
        row.status = AppointmentStatus.MISSED.value
        uow.flush()
        return uow.appointments.get(appointment_id)


# --------------------------------------------------------------------------- rebooking a missed session

_REBOOKED = re.compile(r"rebooked as appointment (\d+)")

#: Appointments that hold their practitioner's time (their slot claims are kept).
HOLDING = (AppointmentStatus.BOOKED, AppointmentStatus.MISSED, AppointmentStatus.PERFORMED)


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


def can_rebook(appointment: Appointment) -> bool:
    """Whether to offer "Rebook": a missed course session not rebooked yet (the service checks
    the rest, such as the course still owing the session)."""
    return (
        appointment.status is AppointmentStatus.MISSED
        and appointment.course_id is not None
        and appointment.kind is AppointmentKind.TREATMENT
        and rebooked_as(appointment) is None
    )


def _rebookable(
    uow: UnitOfWork, appointment_id: int, *, lock: bool = False
) -> tuple[AppointmentRow, CourseRow]:
    """The missed appointment's row and its course's row, or the StateError saying why not."""
    row = uow.appointments.row(appointment_id, lock=lock)
    if row.status != AppointmentStatus.MISSED.value:
        raise StateError(
            f"appointment {appointment_id} is {row.status}; only a missed appointment is rebooked"
        )
    if row.course_id is None or row.kind != AppointmentKind.TREATMENT.value:
        raise StateError(
            f"appointment {appointment_id} is a {row.kind} visit outside a course's sessions; "
            "book a new appointment for it instead"
        )
    earlier = _REBOOKED.search(row.note or "")
    if earlier is not None:
        raise StateError(
            f"appointment {appointment_id} was already rebooked as appointment {earlier.group(1)}"
        )
    course = uow.courses.row(row.course_id, lock=lock)
    status = CourseStatus(course.status)
    if status.is_final:
        raise StateError(
            f"course {course.id} is {status.value}; its missed sessions are not rebooked"
        )
    booked = [
        a
        for a in uow.appointments.rows_for_course(course.id, AppointmentStatus.BOOKED)
        if a.kind == AppointmentKind.TREATMENT.value
    ]
    if len(booked) >= course.remaining_sessions:
        raise StateError(
            f"course {course.id} has {course.remaining_sessions} session(s) left and "
            f"{len(booked)} booked already, so the missed one needs no new booking "
            "(add a session to the course first if she needs one more)"
        )
    return row, course


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
    """Book a missed course session again and re-anchor the course's later sessions.

    The missed appointment stays stored as ``missed`` (a record of the no-show). A NEW booked
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
        Not a missed course session; already rebooked; the course is closed or owes no session.
    SessionSchedulingError
        No feasible slot even beyond the windows (names the session, why, and the nearest
        feasible alternative).
    """
    at = _aware(now, "now")
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
        row, course_row = _rebookable(uow, appointment_id)
        missed = uow.appointments.get(row.id)
        course = uow.courses.get(course_row.id)
        record = (
            uow.assessments.get(course.assessment_id) if course.assessment_id is not None else None
        )
        appointments = uow.appointments.for_course(course.id)
        names = {p.id: p.name for p in uow.clinics.practitioners()}
    # She did not come then: the new session goes on a later day than the missed one.
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
            or (a.status is AppointmentStatus.BOOKED and a.start < missed.start)
        ),
        key=lambda a: a.start,
    )
    after = sorted(
        (a for a in treatment if a.status is AppointmentStatus.BOOKED and a.start >= missed.start),
        key=lambda a: a.start,
    )
    ordered = [*before, missed, *after]
    number = len(before) + 1
    schedule = _schedule_of(db, course, ordered, names, clinic)
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
        rows = {
            i: uow.appointments.row(i, lock=True)
            for i in sorted({missed.id, *(aid for aid, _, _ in moves)})
        }
        missed_row, _course = _rebookable(uow, missed.id, lock=True)
        for aid, _, _ in moves:
            r, was = rows[aid], old[aid]
            if r.status != AppointmentStatus.BOOKED.value or (
                r.start_at,
                r.end_at,
                r.practitioner_id,
            ) != (was.start, was.end, was.practitioner_id):
                raise ConflictError(
                    f"appointment {aid} changed while the missed session was being rebooked; "
                    "try again"
                )
        slot = SlotRequest(start=new.start, end=new.end, practitioner_id=plan.practitioner_id)
        _check_practitioners(
            uow,
            [
                slot,
                *(SlotRequest(start=s.start, end=s.end, practitioner_id=p) for _, s, p in moves),
            ],
        )
        for r in rows.values():
            uow.appointments.release(r)  # the missed time is history now; moved ones re-claim
        uow.flush()
        moved_rows = []
        for aid, s, pid in moves:
            r = rows[aid]
            r.start_at, r.end_at, r.practitioner_id = s.start, s.end, pid
            r.sequence += 1  # calendars update the event on a higher SEQUENCE
            moved_rows.append(r)
        fresh = uow.appointments.add(
            missed.patient_id,
            course.id,
            slot,
            AppointmentKind.TREATMENT,
            number,
            at,
            f"rebooked after missed appointment {missed.id}",
        )
        fresh.sequence = new.sequence
        uow.flush()
        try:
            uow.appointments.claim([fresh, *moved_rows])
        except ConflictError:
            raise ConflictError(
                "another booking took one of the proposed times a moment ago (double booking "
                "refused); nothing was rebooked"
            ) from None
        note = missed_row.note or ""
        missed_row.note = (note + "\n" if note else "") + f"rebooked as appointment {fresh.id}"
        _renumber_courses(uow, {course.id})
        _close_recalls_by_booking(uow, missed.patient_id, at)
        return dataclasses.replace(
            plan,
            saved=True,
            appointment=uow.appointments.get(fresh.id),
            moved=tuple(uow.appointments.get(aid) for aid, _, _ in moves),
        )


def appointments_between(
    db: Database,
    start: datetime,
    end: datetime,
    *,
    practitioner_id: int | None = None,
    statuses: Sequence[AppointmentStatus] = (AppointmentStatus.BOOKED,),
) -> list[Appointment]:
    """Appointments overlapping ``[start, end)`` (default: booked ones, i.e. busy times)."""
    with db.transaction() as uow:
        return uow.appointments.between(
            _aware(start, "start"), _aware(end, "end"), practitioner_id, statuses
        )


# --------------------------------------------------------------------------- plan and book


@dataclass(frozen=True)
class PlannedCourse:
    """A course planned from the patient's assessment, dated in the clinic calendar and booked."""

    booking: CourseBooking
    schedule: CourseSchedule
    assessment: AssessmentRecord


def sync_practitioners(db: Database, clinic: ClinicConfig) -> dict[str, int]:
    """Practitioner ids by name for everyone in the clinic config (missing ones are added)."""
    with db.transaction() as uow:
        existing = uow.clinics.first()
        clinic_row = existing or uow.clinics.add(clinic.name, clinic.timezone, utc_now())
        ids = {p.name: p.id for p in uow.clinics.practitioners()}
        for person in clinic.practitioners:
            if person.name not in ids:
                ids[person.name] = uow.clinics.add_practitioner(clinic_row.id, person.name).id
        return {p.name: ids[p.name] for p in clinic.practitioners}


def plan_and_book_course(
    db: Database,
    patient_id: int,
    start: date,
    clinic: ClinicConfig,
    *,
    practitioner: str | None = None,
    assessment_id: int | None = None,
    guideline: Guideline | None = None,
    attempts: int = 3,
) -> PlannedCourse:
    """Protocol from the patient's assessment, dates from the clinic calendar, then book it all.

    Uses the given assessment or the patient's newest. Existing bookings of the clinic's
    practitioners are passed to the scheduler as busy times; the dated sessions are then booked
    all-or-nothing. If someone books a clashing time between scheduling and booking (the database
    refuses the double booking), the course is re-dated around it, up to ``attempts`` times.
    """
    if attempts < 1:
        raise InputError.one("attempts", attempts, "must be 1 or more")
    with db.transaction() as uow:
        uow.patients.row(patient_id)
        if assessment_id is None:
            history = uow.assessments.history(patient_id)
            if not history:
                raise StateError(
                    f"patient {patient_id} has no assessment yet; record one before booking"
                )
            record = history[0]
        else:
            record = uow.assessments.get(assessment_id)
            if record.patient_id != patient_id:
                raise InputError.one("assessment_id", assessment_id, "belongs to another patient")
    protocol = make_protocol(record.assessment, guideline)
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons or ["the protocol is blocked"])
    ids = sync_practitioners(db, clinic)
    horizon_days = 60 + (protocol.initial_sessions + 1) * (protocol.interval_days.max + 14)
    window_start = datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    window_end = window_start + timedelta(days=horizon_days)
    last_conflict: ConflictError | None = None
    for _ in range(attempts):
        busy = busy_times(db, clinic, window_start, window_end)
        schedule = schedule_course(protocol, start, clinic, practitioner=practitioner, busy=busy)
        slots = [
            SlotRequest(start=s.start, end=s.end, practitioner_id=ids[s.practitioner])
            for s in schedule.sessions
        ]
        try:
            with db.transaction() as uow:
                booking = book_course_in(uow, patient_id, protocol, slots, assessment_id=record.id)
        except ConflictError as exc:
            last_conflict = exc
            continue
        return PlannedCourse(booking=booking, schedule=schedule, assessment=record)
    assert last_conflict is not None
    raise last_conflict


def busy_times(db: Database, clinic: ClinicConfig, start: datetime, end: datetime) -> list[Busy]:
    """Appointments of the clinic's practitioners overlapping ``[start, end)`` as busy times.

    Booked, missed and performed appointments all count: each keeps its slot claims (a missed
    appointment's time stays taken), so the scheduler never proposes a time the database would
    refuse.
    """
    names = {p.id: p.name for p in list_practitioners(db)}
    known = {p.name for p in clinic.practitioners}
    return [
        Busy(names[a.practitioner_id], a.start, a.end)
        for a in appointments_between(db, start, end, statuses=HOLDING)
        if names.get(a.practitioner_id) in known
    ]


@dataclass(frozen=True)
class ConsultationBooking:
    """What :func:`book_consultation` stored: the patient, the assessment and the booked course."""

    patient: Patient
    assessment: AssessmentRecord
    booking: CourseBooking
    schedule: CourseSchedule
    registered: bool
    assessed: bool


class _SlotTakenError(Exception):
    """The booking lost a race for a slot (rolls the whole unit of work back, then retried)."""

    def __init__(self, error: ConflictError) -> None:
        super().__init__(str(error))
        self.error = error


def book_consultation(
    db: Database,
    clinic: ClinicConfig,
    start: date,
    *,
    patient_id: int | None = None,
    new_patient: PatientDraft | Mapping[str, Any] | None = None,
    assessment: Assessment | Mapping[str, Any] | None = None,
    practitioner: str | None = None,
    allow_overrun: bool = False,
    guideline: Guideline | None = None,
    attempts: int = 3,
) -> ConsultationBooking:
    """Book a course from the consultation: register the patient (if new), record the
    assessment (if given) and book the whole series, all in ONE transaction.

    Give exactly one of ``patient_id`` and ``new_patient``; without ``assessment`` the
    patient's newest stored assessment is used. The series is dated first against every
    existing booking (:func:`busy_times`); a session that cannot be placed raises
    :class:`~needleplan.scheduling.SessionSchedulingError` before anything is stored
    (``allow_overrun`` books the nearest alternative beyond the window instead). Then one unit
    of work stores patient, assessment, course, ledger and appointments, guarded by the slot
    claims. When another booking takes one of the times in between, that unit of work rolls back
    completely (no patient, no assessment, no course) and the course is re-dated around it, up
    to ``attempts`` times; after that :class:`ConflictError` says nothing was stored.
    """
    if attempts < 1:
        raise InputError.one("attempts", attempts, "must be 1 or more")
    if (patient_id is None) == (new_patient is None):
        raise InputError.one(
            "patient_id", patient_id, "give exactly one of patient_id and new_patient"
        )
    draft = parse_record(PatientDraft, new_patient) if new_patient is not None else None
    parsed = parse_assessment(assessment) if assessment is not None else None
    stored: AssessmentRecord | None = None
    if patient_id is not None:
        with db.transaction() as uow:
            uow.patients.row(patient_id)
            for c in uow.courses.for_patient(patient_id):
                if c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE):
                    raise StateError(
                        f"patient {patient_id} already has course {c.id} ({c.status.value}); "
                        "complete, lapse or cancel it before booking another"
                    )
            if parsed is None:
                history = uow.assessments.history(patient_id)
                if not history:
                    raise StateError(
                        f"patient {patient_id} has no assessment yet; record one before booking"
                    )
                stored = history[0]
    elif parsed is None:
        raise InputError.one("assessment", None, "a new patient needs an assessment")
    chosen = parsed if parsed is not None else stored.assessment if stored is not None else None
    assert chosen is not None
    protocol = make_protocol(chosen, guideline)
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons or ["the protocol is blocked"])
    ids = sync_practitioners(db, clinic)
    horizon_days = 260 + (protocol.initial_sessions + 1) * (protocol.interval_days.max + 14)
    window_start = datetime.combine(start, time(0), tzinfo=clinic.tz) - timedelta(days=1)
    window_end = window_start + timedelta(days=horizon_days)
    last: ConflictError | None = None
    for _ in range(attempts):
        busy = busy_times(db, clinic, window_start, window_end)
        schedule = schedule_course(
            protocol,
            start,
            clinic,
            practitioner=practitioner,
            busy=busy,
            allow_overrun=allow_overrun,
        )
        slots = [
            SlotRequest(start=s.start, end=s.end, practitioner_id=ids[s.practitioner])
            for s in schedule.sessions
        ]
        now = utc_now()
        try:
            with db.transaction() as uow:
                patient = (
                    uow.patients.add(draft, now)
                    if draft is not None
                    else uow.patients.get(patient_id or 0)
                )
                record = (
                    uow.assessments.add(patient.id, parsed, now, None, "")
                    if parsed is not None
                    else stored
                )
                assert record is not None
                try:
                    booking = book_course_in(
                        uow, patient.id, protocol, slots, assessment_id=record.id, at=now
                    )
                except ConflictError as exc:
                    raise _SlotTakenError(exc) from None
        except _SlotTakenError as taken:
            last = taken.error
            continue
        return ConsultationBooking(
            patient, record, booking, schedule, draft is not None, parsed is not None
        )
    assert last is not None
    unstored = ["no course"]
    if draft is not None:
        unstored.insert(0, "no patient")
    if parsed is not None:
        unstored.insert(-1, "no assessment")
    raise ConflictError(
        f"nothing was booked ({', '.join(unstored)} stored): other bookings took one of the "
        f"proposed times {attempts} time{'s' if attempts != 1 else ''} in a row; "
        "book again to date the course around them, or choose another start date or practitioner"
    )


def forecast_maintenance_due(clinic: ClinicConfig) -> DueFunction:
    """A recall due-date rule from the patient's own forecast (:func:`maintenance_due`).

    For use as ``record_session(..., maintenance_due=forecast_maintenance_due(clinic))``: when
    the last session of a course is recorded, the recall date is the day her forecast
    improvement falls to the clinic's threshold, within the protocol's maintenance bounds.
    A course planned without an assessment falls back to the protocol's shortest interval.
    """

    def due(
        course: Course, sessions: Sequence[PerformedSession], assessment: Assessment | None
    ) -> date:
        if assessment is None:
            return default_maintenance_due(course, sessions, None)
        days = sorted({s.performed_at.date() for s in sessions})
        return maintenance_due(assessment, days, clinic, course.protocol).due

    return due


# --------------------------------------------------------------------------- courses


@dataclass(frozen=True)
class CourseFile:
    course: Course
    appointments: list[Appointment]
    sessions: list[PerformedSession]
    ledger: list[LedgerEntry]


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
        row = uow.courses.row(course_id, lock=True)
        uow.courses.set_status(row, target, at)
        if note:
            row.note = (row.note + "\n" if row.note else "") + note.strip()
        if target in (CourseStatus.CANCELLED, CourseStatus.LAPSED):
            for appt in uow.appointments.rows_for_course(course_id, AppointmentStatus.BOOKED):
                appt.status = AppointmentStatus.CANCELLED.value
                uow.appointments.release(appt)
        uow.flush()
        return uow.courses.get(course_id)


def adjust_sessions(db: Database, course_id: int, delta: int, reason: str) -> LedgerEntry:
    """Add (or remove, negative ``delta``) sessions owed on a course, with the reason."""
    if delta == 0:
        raise InputError.one("delta", delta, "must not be zero")
    if not reason.strip():
        raise InputError.one("reason", reason, "must say why the course changes")
    with db.transaction() as uow:
        row = uow.courses.row(course_id, lock=True)
        if CourseStatus(row.status).is_final:
            raise StateError(f"course {course_id} is {row.status}; its ledger is closed")
        if row.remaining_sessions + delta < 0:
            raise InputError.one(
                "delta", delta, f"would leave fewer than 0 sessions ({row.remaining_sessions} left)"
            )
        return uow.courses.ledger_add(row, delta, reason.strip(), utc_now())


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
        appt = uow.appointments.row(appointment_id, lock=True)
        if appt.status != AppointmentStatus.BOOKED.value:
            raise StateError(f"appointment {appointment_id} is {appt.status}; cannot record")
        if patient_id is not None and patient_id != appt.patient_id:
            raise InputError.one("patient_id", patient_id, "differs from the appointment's patient")
        if course_id is not None and course_id != appt.course_id:
            raise InputError.one("course_id", course_id, "differs from the appointment's course")
        patient_id, course_id = appt.patient_id, appt.course_id
        appt.status = AppointmentStatus.PERFORMED.value
    if patient_id is None:
        raise InputError.one("patient_id", None, "is required without an appointment")
    uow.patients.row(patient_id)
    uow.clinics.practitioner(draft.practitioner_id)
    course_row = None
    if course_id is not None:
        course_row = uow.courses.row(course_id, lock=True)
        if course_row.patient_id != patient_id:
            raise InputError.one("course_id", course_id, "belongs to another patient")
        status = CourseStatus(course_row.status)
        if status is CourseStatus.PLANNED:
            uow.courses.set_status(course_row, CourseStatus.ACTIVE, draft.performed_at)
        elif status is not CourseStatus.ACTIVE:
            raise StateError(f"course {course_id} is {status.value}; cannot record a session")
    session = uow.sessions.add(patient_id, course_id, appointment_id, draft)
    if course_row is not None:
        at = draft.performed_at
        uow.courses.ledger_add(course_row, -1, f"session {session.id} performed", at)
        if course_row.remaining_sessions <= 0:
            uow.courses.set_status(course_row, CourseStatus.COMPLETED, at)
            course = uow.courses.get(course_row.id)
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
            for row in uow.recalls.open_rows_for_patient(patient_id):
                uow.recalls.close(row, RecallStatus.CLOSED, at)
            uow.recalls.add(patient_id, course_row.id, due, "maintenance after course", at)
    return session


# --------------------------------------------------------------------------- measurements


def record_measurement(
    db: Database, patient_id: int, data: MeasurementDraft | Mapping[str, Any]
) -> Measurement:
    """Store one outcome measurement on a defined scale (GAIS, grades, Cutometer, satisfaction)."""
    draft = parse_record(MeasurementDraft, data)
    with db.transaction() as uow:
        return record_measurement_in(uow, patient_id, draft)


def record_measurement_in(uow: UnitOfWork, patient_id: int, draft: MeasurementDraft) -> Measurement:
    uow.patients.row(patient_id)
    if draft.measured_by is not None:
        uow.clinics.practitioner(draft.measured_by)
    if draft.course_id is not None:
        course = uow.courses.row(draft.course_id)
        if course.patient_id != patient_id:
            raise InputError.one("course_id", draft.course_id, "belongs to another patient")
    return uow.measurements.add(patient_id, draft)


def measurements_for(db: Database, patient_id: int) -> list[Measurement]:
    with db.transaction() as uow:
        uow.patients.row(patient_id)
        return uow.measurements.for_patient(patient_id)


# --------------------------------------------------------------------------- recall


def add_recall(
    db: Database,
    patient_id: int,
    due_date: date,
    *,
    reason: str = "maintenance",
    course_id: int | None = None,
) -> RecallEntry:
    """Put a patient on the recall worklist (e.g. with a forecast-driven maintenance due date)."""
    with db.transaction() as uow:
        uow.patients.row(patient_id)
        if course_id is not None:
            uow.courses.row(course_id)
        return uow.recalls.add(
            patient_id, course_id, due_date, reason.strip() or "recall", utc_now()
        )


def recall_list(
    db: Database,
    *,
    due_by: date | None = None,
    statuses: Sequence[RecallStatus] = (RecallStatus.OPEN,),
) -> list[RecallEntry]:
    """The recall worklist: entries due by ``due_by`` (all when None), earliest first."""
    with db.transaction() as uow:
        return uow.recalls.query(due_by=due_by, statuses=statuses)


def record_contact(
    db: Database,
    recall_id: int,
    *,
    channel: ContactChannel | str,
    outcome: ContactOutcome | str,
    note: str = "",
    by_user_id: int | None = None,
    at: datetime | None = None,
) -> ContactAttempt:
    """Log one attempt to reach a patient on the recall list."""
    try:
        ch = ContactChannel(channel)
    except ValueError:
        raise InputError.one(
            "channel", channel, "must be one of " + ", ".join(c.value for c in ContactChannel)
        ) from None
    try:
        oc = ContactOutcome(outcome)
    except ValueError:
        raise InputError.one(
            "outcome", outcome, "must be one of " + ", ".join(o.value for o in ContactOutcome)
        ) from None
    when = _aware(at, "at")
    with db.transaction() as uow:
        row = uow.recalls.row(recall_id, lock=True)
        if row.status != RecallStatus.OPEN.value:
            raise StateError(f"recall entry {recall_id} is {row.status}; it takes no more attempts")
        return uow.recalls.add_attempt(recall_id, when, ch, oc, note.strip(), by_user_id)


def opt_out_recall(db: Database, recall_id: int) -> RecallEntry:
    """The patient asked not to be contacted about maintenance: close the entry as opted out."""
    return _close_recall(db, recall_id, RecallStatus.OPTED_OUT)


def close_recall(db: Database, recall_id: int) -> RecallEntry:
    return _close_recall(db, recall_id, RecallStatus.CLOSED)


def _close_recall(db: Database, recall_id: int, status: RecallStatus) -> RecallEntry:
    with db.transaction() as uow:
        row = uow.recalls.row(recall_id, lock=True)
        if row.status != RecallStatus.OPEN.value:
            raise StateError(f"recall entry {recall_id} is already {row.status}")
        uow.recalls.close(row, status, utc_now())
        uow.flush()
        return uow.recalls.get(recall_id)


# --------------------------------------------------------------------------- users and audit


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError.one(
            "password", "<hidden>", f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > 1024:
        raise InputError.one("password", "<hidden>", "must be at most 1024 characters")


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role | str,
    *,
    practitioner_id: int | None = None,
) -> User:
    """Create a web-app account; the password is stored only as an argon2id hash."""
    name = username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise InputError.one(
            "username", username, "must be 3-40 of a-z, 0-9, '.', '_', '-' starting alphanumeric"
        )
    try:
        parsed_role = Role(role)
    except ValueError:
        raise InputError.one(
            "role", role, "must be one of " + ", ".join(r.value for r in Role)
        ) from None
    _check_password(password)
    digest = _hasher.hash(password)
    with db.transaction() as uow:
        if practitioner_id is not None:
            uow.clinics.practitioner(practitioner_id)
        return uow.users.add(name, digest, parsed_role, practitioner_id, utc_now())


def authenticate(db: Database, username: str, password: str) -> User | None:
    """The active user whose password matches, else ``None`` (same answer for every failure)."""
    name = username.strip().lower()
    with db.transaction() as uow:
        row = uow.users.row_by_username(name)
        if row is None or not row.active:
            # Spend the same effort so response time does not reveal which usernames exist.
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher.verify(_dummy_hash(), password)
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        return to_user(row)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("needleplan-dummy-password")


def set_password(db: Database, user_id: int, password: str) -> None:
    _check_password(password)
    digest = _hasher.hash(password)
    with db.transaction() as uow:
        uow.users.row(user_id).password_hash = digest


def deactivate_user(db: Database, user_id: int) -> None:
    with db.transaction() as uow:
        uow.users.row(user_id).active = False


def list_users(db: Database) -> list[User]:
    with db.transaction() as uow:
        return uow.users.all()


def require_role(user: User, *roles: Role) -> None:
    """Raise :class:`PermissionDeniedError` unless ``user`` has one of ``roles``."""
    if user.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(
            f"user {user.username} ({user.role.value}) needs role {allowed}"
        )


def record_audit(
    db: Database,
    user: User | None,
    action: str,
    patient_id: int | None = None,
    *,
    detail: str = "",
) -> AuditEvent:
    """Append who did what to which patient record (``user=None`` for the system itself).

    ``action`` is a short verb phrase such as ``"patient.read"`` or ``"course.book"``; ``detail``
    must not carry patient data (names, notes): ids are enough to reconstruct what happened.
    A view showing several patients (calendar, recall worklist) writes one event without
    ``patient_id`` whose detail ends in :func:`audit_patients_detail` (``patients=3,17,42``);
    :func:`audit_log` and :func:`search_audit` for a patient find those events too.
    """
    clean = action.strip()
    if not clean or len(clean) > 100:
        raise InputError.one("action", action, "must be 1 to 100 characters")
    with db.transaction() as uow:
        return uow.users.add_audit(
            utc_now(),
            user.id if user else None,
            user.username if user else "system",
            clean,
            patient_id,
            detail.strip(),
        )


def audit_log(db: Database, *, patient_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
    """The newest audit events first, optionally about one patient (her own events and the
    list views that showed her)."""
    with db.transaction() as uow:
        return uow.users.audit(patient_id, limit)


# --------------------------------------------------------------------------- demo clinic


def fill_demo_clinic(
    db: Database, *, patients: int = 300, seed: int = 7, today: date | None = None
) -> DemoSummary:
    """Fill an empty database with a realistic made-up clinic for trying needleplan.

    Three practitioners; ``patients`` patients with assessments and courses planned by the
    guideline engine, in every course state (planned, active, completed, lapsed, cancelled),
    their appointments, performed sessions, outcome measurements and the recall worklist with
    contact attempts; three users (``admin``, ``practitioner``, ``frontdesk``; password
    ``demo-password``). Deterministic for a given ``seed`` and ``today``. One transaction.
    """
    digest = _hasher.hash(demo.DEMO_PASSWORD)
    with db.transaction() as uow:
        return demo.fill(
            uow,
            patients=patients,
            seed=seed,
            today=today or utc_now().date(),
            password_hash=digest,
            now=utc_now(),
        )


# --------------------------------------------------------------------------- imports


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be imported: its line in the file and what is wrong."""

    line: int
    problems: list[FieldProblem]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(p) for p in self.problems)


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[RowProblem] = field(default_factory=list)


def import_rows(
    db: Database,
    rows: Sequence[tuple[int, T]],
    apply: Callable[[UnitOfWork, T], object],
    *,
    bad: Sequence[RowProblem] = (),
    skip_bad: bool = False,
) -> ImportReport:
    """Apply validated rows in one transaction, each inside a savepoint.

    ``rows`` are ``(line, value)``; ``bad`` are rows that already failed validation. A row whose
    ``apply`` raises a needleplan error (unknown patient, duplicate record number, double booking)
    joins the bad rows. Without ``skip_bad`` any bad row means nothing is imported and an
    :class:`InputError` lists every bad row with its line and field; with ``skip_bad`` the good
    rows are committed and the report lists the rest.
    """
    problems = list(bad)
    report = ImportReport()
    with db.transaction() as uow:
        for line, value in rows:
            try:
                with uow.savepoint():
                    apply(uow, value)
            except InputError as exc:
                problems.append(RowProblem(line, exc.problems))
            except NeedleplanError as exc:
                problems.append(RowProblem(line, [FieldProblem("row", f"line {line}", str(exc))]))
            else:
                report.imported += 1
        problems.sort(key=lambda p: p.line)
        if problems and not skip_bad:
            raise InputError(
                [
                    FieldProblem(f"line {p.line}: {fp.field}", fp.value, fp.rule)
                    for p in problems
                    for fp in p.problems
                ],
                source="import refused, nothing imported",
            )
        report.skipped = problems
        return report


__all__ = [
    "ConsultationBooking",
    "CourseBooking",
    "CourseFile",
    "DemoSummary",
    "ImportReport",
    "PatientFile",
    "PlannedCourse",
    "RebookPlan",
    "RowProblem",
    "add_months",
    "add_practitioner",
    "add_recall",
    "adjust_sessions",
    "appointments_between",
    "assessment_history",
    "audit_log",
    "audit_patients_detail",
    "authenticate",
    "book_appointment",
    "book_consultation",
    "book_course",
    "busy_times",
    "can_rebook",
    "cancel_appointment",
    "change_course_status",
    "close_recall",
    "course_file",
    "create_user",
    "deactivate_user",
    "ensure_clinic",
    "fill_demo_clinic",
    "find_patient",
    "forecast_maintenance_due",
    "get_patient",
    "import_rows",
    "latest_assessments",
    "list_patients",
    "list_practitioners",
    "list_users",
    "mark_missed",
    "measurements_for",
    "move_appointment",
    "opt_out_recall",
    "patient_file",
    "plan_and_book_course",
    "rebook_missed",
    "rebooked_as",
    "recall_list",
    "record_assessment",
    "record_audit",
    "record_contact",
    "record_measurement",
    "record_session",
    "register_patient",
    "require_role",
    "reschedule",
    "set_password",
    "sync_practitioners",
    "update_patient",
]


# --------------------------------------------------------------------------- web app: tokens, leads


def _token_digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


API_TOKEN_PREFIX = "np_"


def issue_api_token(db: Database, user_id: int, label: str) -> tuple[str, ApiTokenInfo]:
    """A new random bearer token for ``user_id``; only its SHA-256 digest is stored.

    Returns the token (shown once, never again) and its stored description.
    """
    import secrets

    clean = label.strip()
    if not clean or len(clean) > 80 or not clean.isprintable():
        raise InputError.one("label", label, "1-80 printable characters naming the integration")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.transaction() as uow:
        if not uow.users.row(user_id).active:
            raise StateError(f"user {user_id} is deactivated")
        info = ApiTokenRepository(uow.session).add(user_id, _token_digest(token), clean, utc_now())
    return token, info


def user_for_api_token(db: Database, token: str) -> User | None:
    """The active user owning an unrevoked token, or ``None``."""
    if not token or len(token) > 200:
        return None
    with db.transaction() as uow:
        row = ApiTokenRepository(uow.session).user_for_digest(_token_digest(token))
        return to_user(row) if row is not None else None


def revoke_api_token(db: Database, token_id: int) -> ApiTokenInfo:
    """Revoke a token (it stops working at once; the row stays for the record)."""
    with db.transaction() as uow:
        return ApiTokenRepository(uow.session).revoke(token_id, utc_now())


def list_api_tokens(db: Database, user_id: int | None = None) -> list[ApiTokenInfo]:
    with db.transaction() as uow:
        return ApiTokenRepository(uow.session).all(user_id)


def add_lead(db: Database, lead: Lead) -> None:
    """Store a consented contact request from the public estimator."""
    if not lead.consent_text.strip():
        raise InputError.one("consent", False, "a lead is stored only with the consent text")
    with db.transaction() as uow:
        LeadRepository(uow.session).add(lead)


def list_leads(db: Database) -> list[Lead]:
    """Every stored contact request, oldest first."""
    with db.transaction() as uow:
        return LeadRepository(uow.session).all()


def search_patients(
    db: Database, query: str = "", *, limit: int = 25, offset: int = 0
) -> tuple[list[Patient], int]:
    """One page of patients matching ``query`` and the number of matches.

    ``query`` is a date of birth (``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``DD/MM/YYYY``), a patient id
    or record number (digits), or words each found in the given name, family name or record
    number. Ordered by family name, given name.
    """
    if not 1 <= limit <= 500:
        raise InputError.one("limit", limit, "must be between 1 and 500")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    if len(query) > 200:
        raise InputError.one("q", query[:20] + "…", "at most 200 characters")
    with db.transaction() as uow:
        return PatientFinder(uow.session).page(query, limit, offset)


def search_audit(
    db: Database,
    *,
    username: str | None = None,
    action: str | None = None,
    patient_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Audit events matching every given filter, newest first, and how many match in all.

    ``action`` matches as a prefix (``"patient."`` finds every patient action); ``since`` is
    inclusive and ``until`` exclusive. ``patient_id`` finds her own events and the views that
    listed her among others (``calendar.read``, ``recall.read``: ``patients=...`` in the detail).
    """
    if not 1 <= limit <= 1000:
        raise InputError.one("limit", limit, "must be between 1 and 1000")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    with db.transaction() as uow:
        return AuditQuery(uow.session).page(
            username=username.strip().lower() if username else None,
            action=action.strip() if action else None,
            patient_id=patient_id,
            since=_aware(since, "since") if since else None,
            until=_aware(until, "until") if until else None,
            limit=limit,
            offset=offset,
        )


def is_empty_clinic(db: Database) -> bool:
    """Whether the database holds no patients and no users (a fresh install)."""
    with db.transaction() as uow:
        return uow.patients.count() == 0 and not uow.users.all()


def reset_demo_logins(db: Database, passwords: Mapping[str, str]) -> list[User]:
    """Give the demo accounts (``admin``, ``practitioner``, ``frontdesk``) these passwords.

    Creates an account when it is missing (its role from its name); for ``needleplan serve
    --demo``, which prints fresh passwords at every start.
    """
    roles = {"admin": Role.ADMIN, "practitioner": Role.PRACTITIONER, "frontdesk": Role.FRONT_DESK}
    users: list[User] = []
    for username, password in passwords.items():
        if username not in roles:
            raise InputError.one("username", username, "not a demo account: " + ", ".join(roles))
        _check_password(password)
        digest = _hasher.hash(password)
        with db.transaction() as uow:
            row = uow.users.row_by_username(username)
            if row is None:
                users.append(uow.users.add(username, digest, roles[username], None, utc_now()))
                continue
            row.password_hash = digest
            row.active = True
            uow.flush()
            users.append(to_user(row))
    return users


def find_user(db: Database, user_id: int) -> User | None:
    """The account with this id (active or not), or ``None``."""
    with db.transaction() as uow:
        try:
            return to_user(uow.users.row(user_id))
        except NotFoundError:
            return None

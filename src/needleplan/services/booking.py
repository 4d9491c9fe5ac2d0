"""Booking courses, single appointments and consultations under the database's slot claims."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from needleplan.domain.assessment import Assessment, parse_assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AssessmentRecord,
    Course,
    CourseStatus,
    Patient,
    PatientDraft,
    PerformedSession,
    SlotRequest,
    parse_record,
)
from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    InputError,
    StateError,
)
from needleplan.guideline import Guideline, make_protocol
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    CourseSchedule,
    maintenance_due,
    schedule_course,
)
from needleplan.scheduling.calendar import BusyIndex, BusyLoader, LazyBusyIndex
from needleplan.services._clock import aware, utc_now
from needleplan.services._input import parse_enum
from needleplan.services._integrity import (
    refuse_age_mismatch,
    refuse_past_day,
    refuse_past_slots,
    refuse_without_treatment_consent,
)
from needleplan.services._slots import check_practitioners, close_recalls_by_booking, parse_slots
from needleplan.services.appointments import HOLDING
from needleplan.services.courses import DueFunction, default_maintenance_due
from needleplan.services.messaging import enqueue as messages
from needleplan.services.practitioners import list_practitioners, sync_practitioners
from needleplan.storage import Database, UnitOfWork

if TYPE_CHECKING:
    from needleplan.forecasting.chain import ForecastResult
    from needleplan.forecasting.params import ModelParams

T = TypeVar("T")


@dataclass(frozen=True)
class CourseBooking:
    course: Course
    appointments: list[Appointment]


def _label(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name} (patient {patient.mrn})"


def refuse_second_open_course(uow: UnitOfWork, patient: Patient) -> None:
    """One open (planned or active) course per patient: a StateError naming her and the course
    she has, said the same way by every front end."""
    for c in uow.courses.for_patient(patient.id):
        if c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE):
            raise StateError(
                f"{_label(patient)} already has course {c.id} ({c.status.value}); "
                "complete, lapse or cancel it before booking another"
            )


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
    patient = uow.patients.get(patient_id, lock=True)  # serialises her bookings
    refuse_without_treatment_consent(patient)
    refuse_second_open_course(uow, patient)
    if assessment_id is not None:
        record = uow.assessments.get(assessment_id)
        if record.patient_id != patient_id:
            raise InputError.one("assessment_id", assessment_id, "belongs to another patient")
    check_practitioners(uow, slots)
    course = uow.courses.add(patient_id, assessment_id, protocol, when, note)
    booked = uow.appointments.add_series(patient_id, course.id, slots, when)
    uow.appointments.claim(booked)
    if booked:
        close_recalls_by_booking(uow, patient_id, when)
    uow.flush()
    messages.notify_course_booked(uow, course.id, when)
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
    now: datetime | None = None,
) -> CourseBooking:
    """Plan a course from ``protocol`` (stored as a snapshot) and book all ``slots`` or none.

    Refused (:class:`InputError`) when a slot starts before ``now`` (default: the clock) or the
    patient has no consent to treatment on record.

    The course starts ``planned`` with a ledger entry of ``protocol.initial_sessions``; each slot
    becomes a treatment appointment numbered in time order. Any clash with an existing booking of
    the practitioner raises :class:`ConflictError` and nothing is stored. Booking closes the
    patient's open recall entries (she booked).
    """
    parsed_protocol = (
        protocol if isinstance(protocol, Protocol) else parse_record(Protocol, protocol)
    )
    parsed = parse_slots(slots)
    at = aware(now, "now")
    refuse_past_slots(parsed, at)
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
    now: datetime | None = None,
) -> Appointment:
    """Book one appointment (a session added to a course, a review or a maintenance visit).

    Refused (:class:`InputError`) when it starts before ``now`` (default: the clock).
    """
    (parsed,) = parse_slots([slot])
    refuse_past_slots([parsed], aware(now, "now"), field="start")
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
    uow.patients.get(patient_id)
    number: int | None = None
    if course_id is not None:
        course = uow.courses.get(course_id, lock=True)
        if course.patient_id != patient_id:
            raise InputError.one("course_id", course_id, "belongs to another patient")
        if course.status.is_final:
            raise StateError(
                f"course {course_id} is {course.status.value}; book a new course instead"
            )
        number = len(uow.appointments.for_course(course_id)) + 1
    check_practitioners(uow, [slot])
    appt = uow.appointments.add(patient_id, course_id, slot, kind, number, when, note)
    uow.appointments.claim([appt])
    close_recalls_by_booking(uow, patient_id, when)
    messages.notify_visit_booked(uow, appt.id, when)
    return uow.appointments.get(appt.id)


@dataclass(frozen=True)
class PlannedCourse:
    """A course planned from the patient's assessment, dated in the clinic calendar and booked."""

    booking: CourseBooking
    schedule: CourseSchedule
    assessment: AssessmentRecord


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
    now: datetime | None = None,
) -> PlannedCourse:
    """Protocol from the patient's assessment, dates from the clinic calendar, then book it all.

    Uses the given assessment or the patient's newest. Existing bookings of the clinic's
    practitioners are passed to the scheduler as busy times; the dated sessions are then booked
    all-or-nothing. If someone books a clashing time between scheduling and booking (the database
    refuses the double booking), the course is re-dated around it, up to ``attempts`` times.
    """
    if attempts < 1:
        raise InputError.one("attempts", attempts, "must be 1 or more")
    at = aware(now, "now")
    refuse_past_day("start", start, at.astimezone(clinic.tz).date())
    with db.transaction() as uow:
        refuse_without_treatment_consent(uow.patients.get(patient_id))
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
    last_conflict: ConflictError | None = None
    for _ in range(attempts):
        schedule, slots = date_course(db, clinic, protocol, start, practitioner=practitioner)
        refuse_past_slots(slots, at, clinic.tz)
        try:
            with db.transaction() as uow:
                booking = book_course_in(uow, patient_id, protocol, slots, assessment_id=record.id)
        except ConflictError as exc:
            last_conflict = exc
            continue
        return PlannedCourse(booking=booking, schedule=schedule, assessment=record)
    assert last_conflict is not None
    raise last_conflict


def date_course(
    db: Database,
    clinic: ClinicConfig,
    protocol: Protocol,
    start: date,
    *,
    practitioner: str | None = None,
    preferred: time | None = None,
) -> tuple[CourseSchedule, list[SlotRequest]]:
    """Date the protocol's sessions in the clinic calendar around every booking and held time
    (nothing saved): the schedule and the slots :func:`book_course_in` would book.
    ``preferred``: the time of day session 1 aims at (default: the clinic's)."""
    ids = sync_practitioners(db, clinic)
    calendar = (
        clinic if preferred is None else clinic.model_copy(update={"preferred_start": preferred})
    )
    with db.transaction() as uow:  # the search's reads share one transaction
        schedule = schedule_course(
            protocol,
            start,
            calendar,
            practitioner=practitioner,
            busy=busy_index(db, clinic, uow=uow),
        )
    slots = [
        SlotRequest(start=s.start, end=s.end, practitioner_id=ids[s.practitioner])
        for s in schedule.sessions
    ]
    return schedule, slots


def busy_times(db: Database, clinic: ClinicConfig, start: datetime, end: datetime) -> list[Busy]:
    """Appointments of the clinic's practitioners overlapping ``[start, end)`` as busy times.

    Booked, missed and performed appointments all count: each keeps its slot claims (a missed
    appointment's time stays taken), and so do online bookings held for the patient's e-mail
    confirmation, so the scheduler never proposes a time the database would refuse.
    """
    names = {p.id: p.name for p in list_practitioners(db)}
    known = {p.name for p in clinic.practitioners}
    with db.transaction() as uow:  # online bookings waiting for her confirmation hold theirs
        spans = uow.appointments.spans_between(aware(start, "start"), aware(end, "end"), HOLDING)
        held = [
            (h.practitioner_id, h.start, h.end)
            for h in uow.online_bookings.held_between(start, end)
        ]
    return [
        Busy(names[who], begin, finish)
        for who, begin, finish in [*spans, *held]
        if names.get(who) in known
    ]


def busy_loader(db: Database, clinic: ClinicConfig, uow: UnitOfWork | None = None) -> BusyLoader:
    """What :class:`~needleplan.scheduling.calendar.LazyBusyIndex` calls to read busy times:
    ``load(first, last)`` reads what :func:`busy_times` gives for the clinic days ``first``
    to ``last`` (appointments that hold their time and online bookings held for
    confirmation) in ONE query, straight into an index of epoch seconds (no :class:`Busy`
    per appointment). ``uow``: read inside that open transaction (a search's reads then
    share one connection and one snapshot); None: each read is its own transaction."""
    staff = uow.clinics.practitioners() if uow is not None else list_practitioners(db)
    names = {p.id: p.name for p in staff}
    known = {p.name for p in clinic.practitioners}

    def read(into: UnitOfWork, first: date, last: date) -> list[tuple[int, int, int]]:
        start = datetime.combine(first, time(0), tzinfo=clinic.tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=clinic.tz)
        return into.calendar.busy_epochs(start, end, HOLDING)

    def load(first: date, last: date) -> BusyIndex:
        if uow is not None:
            rows = read(uow, first, last)
        else:
            with db.transaction() as own:
                rows = read(own, first, last)
        periods: dict[str, list[tuple[int, int]]] = {}
        for who, begin, finish in rows:
            name = names.get(who)
            if name in known:
                periods.setdefault(name, []).append((begin, finish))
        return BusyIndex.from_periods(periods)

    return load


def busy_index(
    db: Database, clinic: ClinicConfig, chunk_days: int = 7, uow: UnitOfWork | None = None
) -> LazyBusyIndex:
    """The clinic's busy times as a scheduler reads them: a window of days at a time, as its
    search reaches them (:class:`~needleplan.scheduling.calendar.LazyBusyIndex`), instead of
    every appointment of the months a course could span (docs/scale.md). ``uow``: read
    inside that open transaction (see :func:`busy_loader`)."""
    return LazyBusyIndex(busy_loader(db, clinic, uow), clinic.tz, chunk_days)


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
    now: datetime | None = None,
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
    clock = aware(now, "now")
    today = clock.astimezone(clinic.tz).date()
    refuse_past_day("start", start, today)
    stored: AssessmentRecord | None = None
    if patient_id is not None:
        with db.transaction() as uow:
            patient = uow.patients.get(patient_id)
            refuse_without_treatment_consent(patient)
            if parsed is not None:
                refuse_age_mismatch(parsed.age, patient.birth_date, today)
            refuse_second_open_course(uow, patient)
            if parsed is None:
                history = uow.assessments.history(patient_id)
                if not history:
                    raise StateError(
                        f"{_label(patient)} has no assessment yet; "
                        "a practitioner records one before booking"
                    )
                stored = history[0]
    elif parsed is None:
        raise InputError.one("assessment", None, "a new patient needs an assessment")
    if draft is not None:
        refuse_without_treatment_consent(draft)
    if draft is not None and parsed is not None:
        refuse_age_mismatch(parsed.age, draft.birth_date, today)
    chosen = parsed if parsed is not None else stored.assessment if stored is not None else None
    assert chosen is not None
    protocol = make_protocol(chosen, guideline)
    if protocol.blocked:
        raise BlockedError(protocol.block_reasons or ["the protocol is blocked"])
    ids = sync_practitioners(db, clinic)
    last: ConflictError | None = None
    for _ in range(attempts):
        with db.transaction() as reads:  # the search's reads share one transaction
            schedule = schedule_course(
                protocol,
                start,
                clinic,
                practitioner=practitioner,
                busy=busy_index(db, clinic, uow=reads),
                allow_overrun=allow_overrun,
            )
        slots = [
            SlotRequest(start=s.start, end=s.end, practitioner_id=ids[s.practitioner])
            for s in schedule.sessions
        ]
        refuse_past_slots(slots, clock, clinic.tz)
        stamp = utc_now() if now is None else clock
        try:
            with db.transaction() as uow:
                patient = (
                    uow.patients.add(draft, stamp)
                    if draft is not None
                    else uow.patients.get(patient_id or 0)
                )
                record = (
                    uow.assessments.add(patient.id, parsed, stamp, None, "")
                    if parsed is not None
                    else stored
                )
                assert record is not None
                try:
                    booking = book_course_in(
                        uow, patient.id, protocol, slots, assessment_id=record.id, at=stamp
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


@dataclass(frozen=True)
class SavedConsultation:
    """What :func:`save_consultation` stored: the assessment, and the plan it gives."""

    assessment: AssessmentRecord
    protocol: Protocol


def save_consultation(
    db: Database,
    patient_id: int,
    assessment: Assessment | Mapping[str, Any],
    clinic: ClinicConfig,
    *,
    guideline: Guideline | None = None,
    now: datetime | None = None,
) -> SavedConsultation:
    """Keep a consultation on the patient's record without booking: the assessment joins her
    history (its age must agree with her date of birth on the clinic's today) and the plan it
    gives is named in its note (sessions, spacing, upkeep, or what blocks it). Nothing is
    booked; a course can be booked from it later (:func:`plan_and_book_course`)."""
    parsed = parse_assessment(assessment)
    clock = aware(now, "now")
    today = clock.astimezone(clinic.tz).date()
    protocol = make_protocol(parsed, guideline)
    if protocol.blocked:
        plan = "plan blocked: " + "; ".join(protocol.block_reasons)
    else:
        plan = (
            f"plan: {protocol.initial_sessions} sessions {protocol.interval_days.min}-"
            f"{protocol.interval_days.max} days apart, upkeep every "
            f"{protocol.maintenance_interval_months.min}-{protocol.maintenance_interval_months.max}"
            " months"
        )
    with db.transaction() as uow:
        patient = uow.patients.get(patient_id)
        refuse_age_mismatch(parsed.age, patient.birth_date, today)
        record = uow.assessments.add(
            patient_id, parsed, clock, None, f"consultation without booking; {plan}"[:2000]
        )
    return SavedConsultation(record, protocol)


def forecast_maintenance_due(
    clinic: ClinicConfig, params: ModelParams | None = None
) -> DueFunction:
    """A recall due-date rule from the patient's own forecast (:func:`maintenance_due`).

    For use as ``record_session(..., maintenance_due=forecast_maintenance_due(clinic))``: when
    the last session of a course is recorded, the recall date is the day her forecast
    improvement falls to the clinic's threshold, within the protocol's maintenance bounds.
    A course planned without an assessment falls back to the protocol's shortest interval.
    ``params``: the model parameters (the clinic calibration in force; default: shipped).
    """

    def forecaster(assessment: Assessment, days: list[float], **kw: Any) -> ForecastResult:
        from needleplan.forecasting.chain import forecast  # imported on use: numpy-heavy

        return forecast(assessment, days, params=params, **kw)

    def due(
        course: Course, sessions: Sequence[PerformedSession], assessment: Assessment | None
    ) -> date:
        if assessment is None:
            return default_maintenance_due(course, sessions, None)
        days = sorted({s.performed_at.date() for s in sessions})
        return maintenance_due(assessment, days, clinic, course.protocol, forecaster=forecaster).due

    return due

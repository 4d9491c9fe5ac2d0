"""What the calendar pages share: the appointment lookup, labels, links and day notes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from needleplan import services
from needleplan.domain.accounts import Permission, User
from needleplan.domain.records import Appointment, AppointmentStatus, Course, Patient
from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig, Weekday
from needleplan.scheduling.models import GapReport
from needleplan.services.courses import planned_sessions_by_course
from needleplan.services.patients import patients_by_id
from needleplan.storage.database import Database

SHOWN = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.PERFORMED,
    AppointmentStatus.MISSED,
)


def get_appointment(db: Database, appointment_id: int) -> Appointment:
    return services.get_appointment(db, appointment_id)


def parse_day(value: str | None, clinic: ClinicConfig) -> date:
    if not value:
        return datetime.now(clinic.tz).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.one("date", value, "must be a date YYYY-MM-DD") from None


def local_midnight(day: date, clinic: ClinicConfig) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clinic.tz)


@dataclass
class Entry:
    """One appointment as the calendar shows it."""

    appointment: Appointment
    start: datetime
    end: datetime
    patient: str
    practitioner: str
    session_text: str
    note: str
    rebook: bool = False
    rebooked_as: int | None = None
    phone: str = ""
    email: str = ""
    online: bool = False  # she booked it on the public booking page (docs/online-booking.md)

    @property
    def patient_id(self) -> int:
        return self.appointment.patient_id

    @property
    def kind(self) -> str:
        """The visit kind as the desk says it (a treatment is a "session")."""
        kind = self.appointment.kind.value
        return "session" if kind == "treatment" else kind


class Lookup:
    """Per-request caches so a week of appointments costs one query per patient and course."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.patients: dict[int, Patient] = {}
        self.courses: dict[int, Course] = {}
        self.totals: dict[int, int] = {}

    def prefetch(self, appointments: Iterable[Appointment]) -> None:
        """Load the patients of these appointments and their courses' session counts in a few
        queries at once (instead of one query per appointment)."""
        shown = list(appointments)
        wanted = {a.patient_id for a in shown} - self.patients.keys()
        self.patients.update(patients_by_id(self.db, wanted))
        courses = {a.course_id for a in shown if a.course_id is not None} - self.totals.keys()
        self.totals.update(planned_sessions_by_course(self.db, courses))

    def patient(self, patient_id: int) -> Patient:
        if patient_id not in self.patients:
            self.patients[patient_id] = services.get_patient(self.db, patient_id)
        return self.patients[patient_id]

    def course(self, course_id: int) -> Course:
        if course_id not in self.courses:
            self.courses[course_id] = services.course_file(self.db, course_id).course
        return self.courses[course_id]

    def planned_sessions(self, course_id: int) -> int:
        """The course's planned session count (prefetched, else read with its course)."""
        if course_id not in self.totals:
            self.totals[course_id] = self.course(course_id).planned_sessions
        return self.totals[course_id]


def session_text(appt: Appointment, lookup: Lookup) -> str:
    total = (
        lookup.planned_sessions(appt.course_id)
        if appt.course_id is not None and appt.session_number is not None
        else None
    )
    return planned_text(appt, total)


def planned_text(appt: Appointment, planned_sessions: int | None) -> str:
    """``session 2 of 5`` for a course session (``planned_sessions``: its course's), else
    the visit kind."""
    if appt.course_id is None or appt.session_number is None or planned_sessions is None:
        return appt.kind.value
    return f"session {appt.session_number} of {planned_sessions}"


def calendar_url(view: str, day: date, practitioner: int | None, **extra: Any) -> str:
    query: dict[str, Any] = {"view": view, "date": day.isoformat()}
    if practitioner is not None:
        query["practitioner"] = practitioner
    query.update(extra)
    return "/app/calendar?" + urlencode(query)


def day_notes(clinic: ClinicConfig, day: date, practitioners: set[str]) -> list[str]:
    """Why nobody can be booked on ``day`` (or by whom): clinic closure, public holiday, no
    opening hours that weekday, and the shown practitioners' days off."""
    notes: list[str] = []
    closure = clinic.closure(day)
    if closure is not None:
        notes.append(f"Clinic closed: {closure.reason}")
    holiday = clinic.holiday(day)
    if holiday is not None:
        notes.append(f"Public holiday: {holiday}")
    if not clinic.opening_hours.get(Weekday.of(day)):
        notes.append("Clinic closed (no opening hours on this weekday)")
    for p in clinic.practitioners:
        off = p.day_off(day)
        if off is not None and p.name in practitioners:
            notes.append(f"{p.name}: {off.reason}")
    return notes


def freed_query(appt: Appointment, clinic: ClinicConfig) -> str:
    """``freed=...&freed_kind=...`` for the slot ``appt`` held (the calendar offers it to the
    waitlist, :mod:`.calendar_waitlist`)."""
    key = f"{appt.practitioner_id}@{appt.start.astimezone(clinic.tz).isoformat()}"
    kind = "session" if appt.kind.value == "treatment" else appt.kind.value
    return urlencode({"freed": key, "freed_kind": kind})


def gaps_for(user: User, gaps: Sequence[GapReport]) -> list[GapReport]:
    """The gap reports ``user`` may see: with clinical access, what each gap costs in her
    forecast; without it (the front desk), the scheduling facts only (which session, how many
    days past the window), since the forecast comes from her clinical assessment (issue 17, L2).
    """
    if user.can(Permission.CLINICAL):
        return list(gaps)
    return [
        replace(
            g,
            noticeable_days_planned=None,
            noticeable_days_replanned=None,
            noticeable_days_with_extra=None,
            peak_difference=None,
            extra_session_advised=False,
            explanation=(
                f"session {g.session_number} comes {g.overrun_days} days after the window "
                "closes; a practitioner can say what this means for her results"
            ),
        )
        for g in gaps
    ]

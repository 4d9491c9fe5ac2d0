"""Find a slot, and book a single visit in it: the front desk's free-slot search.

- :func:`find_free_slots`: for a visit kind (consultation, session, maintenance, review), one
  practitioner or anyone, and a "not before" day, the next free start times in the calendar in
  force, around every existing booking (booked, arrived and missed appointments hold their time,
  as the database's slot claims do). Soonest first, at most ``per_day`` per practitioner and day
  so that a list of ten is not one morning.
- :func:`book_visit`: one visit for a patient at a start the calendar allows, acting as a named
  account, audited as ``appointment.book`` in the same transaction, guarded by the slot claims
  (a start taken meanwhile raises :class:`~needleplan.exceptions.ConflictError`), refused in
  the past. A "session" for a patient with an open course is added to that course.

Visit lengths come from the calendar's ``visit_minutes`` (consultation, session, maintenance,
review; set on the admin's settings forms), each rounded up to the clinic's slot grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    CourseStatus,
    Role,
    SlotRequest,
    User,
)
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.calendar import BusyIndex, SlotGrid, day_options, slot_problem
from needleplan.scheduling.clinic import DEFAULT_SHORT_VISIT_MINUTES
from needleplan.services._clock import aware, utc_now
from needleplan.services._integrity import refuse_past_start
from needleplan.services.accounts import require_role
from needleplan.services.audit import audited
from needleplan.services.booking import book_appointment_in, busy_index
from needleplan.services.practitioners import sync_practitioners
from needleplan.storage import Database

#: The visit kinds the desk books, as the forms name them.
VISIT_KINDS: dict[str, AppointmentKind] = {
    "consultation": AppointmentKind.CONSULTATION,
    "session": AppointmentKind.TREATMENT,
    "maintenance": AppointmentKind.MAINTENANCE,
    "review": AppointmentKind.REVIEW,
}
#: Length of a consultation or a review a calendar does not size [minutes].
SHORT_VISIT_MINUTES = DEFAULT_SHORT_VISIT_MINUTES
#: How far ahead the search looks [days].
SEARCH_DAYS = 92
#: The free-slot search reads the busy times this many days at a time.
BUSY_CHUNK_DAYS = 7
#: Who may book a visit.
BOOKING_ROLES = (Role.ADMIN, Role.PRACTITIONER, Role.FRONT_DESK)
BOOK_ACTION = "appointment.book"


@dataclass(frozen=True)
class FreeSlot:
    """A free start time of one practitioner, for one visit kind."""

    start: datetime
    end: datetime
    practitioner: str
    practitioner_id: int
    kind: str

    @property
    def key(self) -> str:
        """What a form sends back: ``<practitioner id>@<start ISO>``."""
        return f"{self.practitioner_id}@{self.start.isoformat()}"


def parse_visit_kind(value: str) -> AppointmentKind:
    """``consultation``, ``session``, ``maintenance`` or ``review`` (InputError naming ``kind``)."""
    kind = VISIT_KINDS.get(str(value).strip().lower())
    if kind is None:
        raise InputError.one("kind", value, "must be one of " + ", ".join(VISIT_KINDS))
    return kind


def kind_label(kind: AppointmentKind) -> str:
    """The form's word for a kind (``treatment`` is a "session")."""
    return next(label for label, k in VISIT_KINDS.items() if k is kind)


def visit_minutes(clinic: ClinicConfig, kind: AppointmentKind) -> int:
    """How long a visit of ``kind`` lasts in ``clinic`` [minutes], on the slot grid."""
    minutes = int(getattr(clinic.visit_minutes, kind_label(kind)))
    step = clinic.slot_minutes
    return -(-minutes // step) * step


def find_free_slots(
    db: Database,
    clinic: ClinicConfig,
    kind: AppointmentKind | str,
    *,
    practitioner: str | None = None,
    not_before: date | None = None,
    limit: int = 10,
    per_day: int = 3,
    days: int = SEARCH_DAYS,
    minutes: int | None = None,
    now: datetime | None = None,
) -> list[FreeSlot]:
    """The next free start times for a visit of ``kind`` (soonest first, at most ``limit``).

    ``practitioner`` (a name of ``clinic``; None: anyone), ``not_before`` (a day; None or a day
    that has passed: today, from the clock's next start). Each start is one the booking would
    accept: inside clinic and practitioner hours, not on a closure, public holiday or day off,
    clear of every appointment that holds its time. ``minutes`` overrides the kind's length
    (moving a visit keeps its own length).
    """
    parsed = kind if isinstance(kind, AppointmentKind) else parse_visit_kind(kind)
    if not 1 <= limit <= 100:
        raise InputError.one("limit", limit, "must be 1-100")
    if not 1 <= per_day <= 100:
        raise InputError.one("per_day", per_day, "must be 1-100")
    clock = aware(now, "now")
    today = clock.astimezone(clinic.tz).date()
    first = max(not_before or today, today)
    people = [clinic.practitioner(practitioner)] if practitioner else list(clinic.practitioners)
    ids = sync_practitioners(db, clinic)
    if minutes is not None and not 5 <= minutes <= 8 * 60:
        raise InputError.one("minutes", minutes, "must be 5-480")
    length = minutes if minutes is not None else visit_minutes(clinic, parsed)
    grid = SlotGrid(clinic)
    out: list[FreeSlot] = []
    # The busy times of the next days only, a week per read as the search goes: it usually
    # ends within days, and a clinic group's three months are tens of thousands of appointments.
    with db.transaction() as reads:  # the search's reads share one transaction
        busy = busy_index(db, clinic, BUSY_CHUNK_DAYS, uow=reads)
        for offset in range(days):
            day = first + timedelta(days=offset)
            found: list[FreeSlot] = []
            for person in people:
                options = day_options(clinic, person, day, length, busy, grid)
                starts = [s for s in options.starts if s >= clock][:per_day]
                found.extend(
                    FreeSlot(
                        s,
                        s + timedelta(minutes=length),
                        person.name,
                        ids[person.name],
                        kind_label(parsed),
                    )
                    for s in starts
                )
            out.extend(sorted(found, key=lambda f: (f.start, f.practitioner)))
            if len(out) >= limit:
                break
    return out[:limit]


def parse_slot_key(value: str, clinic: ClinicConfig) -> tuple[int, datetime]:
    """``<practitioner id>@<start ISO>`` (a :attr:`FreeSlot.key`) -> (id, aware start)."""
    who, sep, at = str(value).partition("@")
    try:
        if not sep:
            raise ValueError
        start = datetime.fromisoformat(at)
        practitioner_id = int(who)
    except ValueError:
        raise InputError.one(
            "slot", value[:60], "must be a free slot offered by the search"
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=clinic.tz)
    return practitioner_id, start


def checked_slot(
    db: Database,
    clinic: ClinicConfig,
    kind: AppointmentKind,
    start: datetime,
    practitioner_id: int,
    *,
    now: datetime | None = None,
) -> SlotRequest:
    """The slot a visit of ``kind`` at ``start`` with the practitioner takes, when the calendar
    in force allows it (staff's :func:`book_visit` and the patient portal's booking).

    Raises
    ------
    InputError
        a start in the past or one the calendar does not allow (field ``start``), or a
        practitioner the calendar does not list (field ``practitioner``).
    """
    begin = aware(start, "start")
    refuse_past_start("start", begin, aware(now, "now"), clinic.tz)
    ids = sync_practitioners(db, clinic)
    names = {pid: name for name, pid in ids.items()}
    if practitioner_id not in names:
        raise InputError.one(
            "practitioner", practitioner_id, "is not a practitioner of the calendar in force"
        )
    person = clinic.practitioner(names[practitioner_id])
    minutes = visit_minutes(clinic, kind)
    problem = slot_problem(clinic, person, begin, minutes, BusyIndex.build([]))
    if problem is not None:
        local = begin.astimezone(clinic.tz)
        raise InputError.one("start", f"{local:%Y-%m-%d %H:%M}", f"is not bookable: {problem}")
    return SlotRequest(
        start=begin, end=begin + timedelta(minutes=minutes), practitioner_id=practitioner_id
    )


def book_visit(
    db: Database,
    actor: User,
    clinic: ClinicConfig,
    patient_id: int,
    kind: AppointmentKind | str,
    start: datetime,
    practitioner_id: int,
    *,
    note: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book one visit of ``kind`` for the patient at ``start`` with the practitioner.

    Raises
    ------
    InputError
        for a start in the past (field ``start``), a start the calendar does not allow (field
        ``start``, the calendar's reason), or a practitioner the calendar does not list.
    ConflictError
        when the time was taken meanwhile (nothing is stored).
    PermissionDeniedError
        for a deactivated account or a role that does not book.
    """
    if not actor.active:
        raise PermissionDeniedError(f"user {actor.username} is deactivated")
    require_role(actor, *BOOKING_ROLES)
    parsed = kind if isinstance(kind, AppointmentKind) else parse_visit_kind(kind)
    slot = checked_slot(db, clinic, parsed, start, practitioner_id, now=now)
    stored = actor if actor.id > 0 else None
    with (
        audited(db, stored, BOOK_ACTION, patient_id, username=actor.username) as note_,
        db.transaction() as uow,
    ):
        course_id = None
        if parsed is AppointmentKind.TREATMENT:
            open_courses = [
                c
                for c in uow.courses.for_patient(patient_id)
                if c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
            ]
            course_id = open_courses[0].id if open_courses else None
        appt = book_appointment_in(
            uow, patient_id, slot, course_id=course_id, kind=parsed, note=note
        )
        closed = uow.waitlist.close_for_patient(patient_id, kind_label(parsed), utc_now(), "booked")
        note_.detail = f"appointment {appt.id} ({kind_label(parsed)})" + (
            f"; waitlist closed {closed}" if closed else ""
        )
        return appt

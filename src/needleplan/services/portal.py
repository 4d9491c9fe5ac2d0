"""What the patient does through her portal link (docs/messages.md, "The patient portal").

Every use-case here takes the :class:`~needleplan.domain.portal.LinkActor` a resolved link gives
(:func:`needleplan.services.portal_links.resolve_link`), touches only her own records (another
patient's visit is "not found") and writes its audit event as ``patient-link`` with the link's
id in the same transaction as the change (:func:`~needleplan.services.portal_links.portal_audited`).
The changes go through the services staff use, so the rules, the slot claims and the messages are
the same:

=====================  =====================================  ===============================
use-case               goes through                            audit action
=====================  =====================================  ===============================
overview               her course, visits, recall entry        ``portal.read``
confirm_visit          (a confirmation for the visit's start)  ``appointment.confirm``
cancel_visit           :func:`.visits.cancel_in`               ``appointment.cancel``
reschedule_options     :func:`.clinic_calendar_slots.           ``portal.read``
                       find_free_slots` inside her window
reschedule_preview     :func:`.moves.preview_move`             (nothing saved, not audited)
reschedule_save        :func:`.moves.confirm_move`             ``appointment.move``
request_callback       a call-back request for the desk        ``portal.callback``
maintenance_options    free maintenance times near her due     ``portal.read``
                       date (the ``book`` link's recall)
book_maintenance       :func:`.booking.book_appointment_in`    ``appointment.book``
=====================  =====================================  ===============================

Inside the clinic's notice period (``cancellation_notice_hours``) she may neither cancel nor move
a visit online: :class:`CallTheClinicError` carries the clinic's phone number for the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from needleplan.domain.accounts import User
from needleplan.domain.portal import CallbackRequest, LinkActor
from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    Patient,
    RecallEntry,
    RecallStatus,
)
from needleplan.exceptions import InputError, NotFoundError, StateError
from needleplan.scheduling import ClinicConfig
from needleplan.services._clock import aware, utc_now
from needleplan.services.audit import audited
from needleplan.services.booking import book_appointment_in
from needleplan.services.clinic_calendar_slots import (
    FreeSlot,
    checked_slot,
    find_free_slots,
    parse_slot_key,
)
from needleplan.services.moves import MovePreview, confirm_move, preview_move
from needleplan.services.portal_links import portal_audited
from needleplan.services.rescheduling import course_schedule_with_appointments
from needleplan.services.visits import cancel_in, visit_rules
from needleplan.storage import Database

#: How much later than its booked day the first session of a course (or a visit outside a
#: course) may move online [days]; later sessions keep to the protocol's interval window.
FIRST_VISIT_SLACK_DAYS = 14
#: How many free times a page offers.
OFFERED = 12
#: Maintenance times are offered from this long before her due date [days] ...
MAINTENANCE_EARLY_DAYS = 14
#: ... over this many days.
MAINTENANCE_SEARCH_DAYS = 60
NOTE_MAX = 500
PORTAL_CANCEL_REASON = "cancelled by the patient online"


class CallTheClinicError(StateError):
    """Too late to change the visit online: she is asked to call (``phone`` may be empty)."""

    def __init__(self, what: str, hours: int, phone: str) -> None:
        words = f"call the clinic on {phone}" if phone else "call the clinic"
        super().__init__(
            f"This visit is less than {hours} hours away, so it can no longer be {what} online: "
            f"please {words}."
        )
        self.phone = phone
        self.hours = hours


@dataclass(frozen=True)
class PortalVisit:
    """One of her visits as the portal shows it."""

    appointment: Appointment
    practitioner: str
    confirmed: bool
    inside_notice: bool

    @property
    def can_change(self) -> bool:
        return self.appointment.status is AppointmentStatus.BOOKED and not self.inside_notice


@dataclass(frozen=True)
class PortalOverview:
    patient: Patient
    course: Course | None
    sessions_done: int
    upcoming: list[PortalVisit]
    maintenance_due: date | None
    notice_hours: int
    phone: str
    open_callback: CallbackRequest | None


def _names(db: Database) -> dict[int, str]:
    with db.transaction() as uow:
        return {p.id: p.name for p in uow.clinics.practitioners()}


def her_visit(db: Database, actor: LinkActor, appointment_id: int) -> Appointment:
    """Her visit ``appointment_id`` (NotFoundError for a visit of anyone else: the same words
    as for one that does not exist)."""
    with db.transaction() as uow:
        try:
            appt = uow.appointments.get(appointment_id)
        except NotFoundError:
            appt = None
    if appt is None or appt.patient_id != actor.patient_id:
        raise NotFoundError(f"visit {appointment_id} is not one of yours")
    return appt


def _now(now: datetime | None) -> datetime:
    return aware(now, "now") if now is not None else utc_now()


def overview(
    db: Database, actor: LinkActor, clinic: ClinicConfig, *, now: datetime | None = None
) -> PortalOverview:
    """Her course, the visits still to come (confirmed or not, changeable online or not), the
    next maintenance date and an open call-back request (audited ``portal.read``)."""
    at = _now(now)
    rules = visit_rules(clinic)
    names = _names(db)
    with portal_audited(db, actor, "portal.read", "overview"), db.transaction() as uow:
        patient = uow.patients.get(actor.patient_id)
        courses = uow.courses.for_patient(actor.patient_id)
        course = next((c for c in reversed(courses) if not c.status.is_final), None) or (
            courses[-1] if courses else None
        )
        visits = uow.appointments.for_patient(actor.patient_id)
        upcoming = sorted(
            (a for a in visits if a.status is AppointmentStatus.BOOKED and a.end > at),
            key=lambda a: a.start,
        )
        confirmed = uow.portal_links.confirmed_starts([a.id for a in upcoming])
        done = sum(
            1
            for a in visits
            if a.status is AppointmentStatus.PERFORMED
            and (course is None or a.course_id == course.id)
        )
        recalls = uow.recalls.query(patient_id=actor.patient_id, statuses=(RecallStatus.OPEN,))
        callbacks = uow.portal_links.open_callbacks(actor.patient_id)
    return PortalOverview(
        patient=patient,
        course=course,
        sessions_done=done,
        upcoming=[
            PortalVisit(
                a,
                names.get(a.practitioner_id, ""),
                confirmed.get(a.id) == a.start,
                rules.is_late(a, at),
            )
            for a in upcoming
        ],
        maintenance_due=min((r.due_date for r in recalls), default=None),
        notice_hours=clinic.cancellation_notice_hours,
        phone=clinic.phone,
        open_callback=callbacks[-1] if callbacks else None,
    )


def confirm_visit(
    db: Database, actor: LinkActor, appointment_id: int, *, now: datetime | None = None
) -> Appointment:
    """She confirms she comes to this visit at its present time (audited ``appointment.confirm``;
    a later move of the visit needs a new confirmation)."""
    at = _now(now)
    appt = her_visit(db, actor, appointment_id)
    if appt.status is not AppointmentStatus.BOOKED or appt.start <= at:
        raise StateError("only a booked visit still to come can be confirmed")
    with (
        portal_audited(db, actor, "appointment.confirm", f"appointment {appt.id}"),
        db.transaction() as uow,
    ):
        uow.portal_links.confirm_visit(appt.id, appt.start, at, actor.link_id)
    return appt


def _require_notice(appt: Appointment, clinic: ClinicConfig, at: datetime, what: str) -> None:
    if visit_rules(clinic).is_late(appt, at):
        raise CallTheClinicError(what, clinic.cancellation_notice_hours, clinic.phone)


def cancel_visit(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    appointment_id: int,
    *,
    now: datetime | None = None,
) -> Appointment:
    """Cancel one of her booked visits, outside the notice period only (inside it:
    :class:`CallTheClinicError`). The same cancellation as staff's: the time becomes free and
    the cancellation notice is queued (audited ``appointment.cancel``)."""
    at = _now(now)
    appt = her_visit(db, actor, appointment_id)
    if appt.status is not AppointmentStatus.BOOKED:
        raise StateError(f"this visit is {appt.status.value}; it cannot be cancelled")
    _require_notice(appt, clinic, at, "cancelled")
    with portal_audited(db, actor, "appointment.cancel", f"appointment {appt.id}") as note:
        cancelled, late = cancel_in(db, appt.id, PORTAL_CANCEL_REASON, clinic, at)
        note.detail = f"appointment {appt.id} late={'yes' if late else 'no'}"
        return cancelled


def reschedule_window(
    db: Database, clinic: ClinicConfig, appt: Appointment, at: datetime
) -> tuple[date, date]:
    """The first and last day her visit may move to online: a later course session keeps to the
    protocol's interval after the session before it; the first (or a visit outside a course)
    may move up to :data:`FIRST_VISIT_SLACK_DAYS` later. Never sooner than the notice period."""
    tz = clinic.tz
    earliest = (at + timedelta(hours=clinic.cancellation_notice_hours)).astimezone(tz).date()
    own = appt.start.astimezone(tz).date()
    lo, hi = earliest, own + timedelta(days=FIRST_VISIT_SLACK_DAYS)
    if appt.course_id is not None and appt.kind is AppointmentKind.TREATMENT:
        schedule, active = course_schedule_with_appointments(db, appt.course_id, clinic)
        ids = [a.id for a in active]
        if appt.id in ids and ids.index(appt.id) > 0:
            prev = schedule.sessions[ids.index(appt.id) - 1].start.date()
            low, high = schedule.interval_days
            lo, hi = max(lo, prev + timedelta(days=low)), prev + timedelta(days=high)
    return lo, hi


def reschedule_options(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    appointment_id: int,
    *,
    now: datetime | None = None,
) -> tuple[Appointment, tuple[date, date], list[FreeSlot]]:
    """The visit, its window and the free times she may pick (soonest first)."""
    at = _now(now)
    appt = her_visit(db, actor, appointment_id)
    if appt.status is not AppointmentStatus.BOOKED:
        raise StateError(f"this visit is {appt.status.value}; it cannot be moved")
    _require_notice(appt, clinic, at, "moved")
    lo, hi = reschedule_window(db, clinic, appt, at)
    return appt, (lo, hi), _offered(db, clinic, appt, lo, hi, at)


def _offered(
    db: Database, clinic: ClinicConfig, appt: Appointment, lo: date, hi: date, at: datetime
) -> list[FreeSlot]:
    """Up to :data:`OFFERED` free times from ``lo`` to ``hi``, spread over the days: on each day
    the time nearest her present time of day and one in the afternoon, with her own
    practitioner when the calendar lists them (else anyone)."""
    if hi < lo:
        return []
    kind = "session" if appt.kind is AppointmentKind.TREATMENT else appt.kind.value
    minutes = max(5, min(480, round((appt.end - appt.start).total_seconds() / 60)))
    notice = at + timedelta(hours=clinic.cancellation_notice_hours)
    tz = clinic.tz
    own = _names(db).get(appt.practitioner_id)
    who = own if own in {p.name for p in clinic.practitioners} else None

    def clock(s: FreeSlot) -> int:
        local = s.start.astimezone(tz)
        return local.hour * 60 + local.minute

    wanted = clock(FreeSlot(appt.start, appt.end, "", 0, kind))
    out: list[FreeSlot] = []
    day = lo
    while day <= hi:
        found = [
            s
            for s in find_free_slots(
                db,
                clinic,
                kind,
                practitioner=who,
                not_before=day,
                days=1,
                minutes=minutes,
                limit=100,
                per_day=100,
                now=at,
            )
            if s.start >= notice and s.start.astimezone(tz).date() == day and s.start != appt.start
        ]
        if found:
            best = min(found, key=lambda s: (abs(clock(s) - wanted), clock(s)))
            out.append(best)
            later = [s for s in found if clock(s) >= 14 * 60 and abs(clock(s) - clock(best)) >= 120]
            if later:
                out.append(later[0])
        day += timedelta(days=1)
    out.sort(key=lambda s: s.start)
    if len(out) <= OFFERED:
        return out
    step = len(out) / OFFERED
    return [out[int(i * step)] for i in range(OFFERED)]


def _offered_slot(slot_key: str, offered: Sequence[FreeSlot], clinic: ClinicConfig) -> FreeSlot:
    practitioner_id, start = parse_slot_key(slot_key, clinic)
    for s in offered:
        if s.practitioner_id == practitioner_id and s.start == start:
            return s
    raise InputError.one(
        "slot", slot_key[:60], "is not one of the free times offered; pick one from the list"
    )


def reschedule_preview(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    appointment_id: int,
    slot_key: str,
    *,
    now: datetime | None = None,
) -> MovePreview:
    """Her whole course re-planned around the picked time (nothing is saved)."""
    at = _now(now)
    _, _, offered = reschedule_options(db, actor, clinic, appointment_id, now=at)
    slot = _offered_slot(slot_key, offered, clinic)
    return preview_move(db, clinic, appointment_id, slot.start, slot.practitioner_id, now=at)


def reschedule_save(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    appointment_id: int,
    slot_key: str,
    shown: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[Appointment]:
    """Save the re-planned course she saw, under the same slot claims as staff moves (all or
    nothing; :class:`~needleplan.services.moves.MoveProposalChangedError` when the calendar
    changed since). The change notice is queued with it (audited ``appointment.move``)."""
    at = _now(now)
    _, _, offered = reschedule_options(db, actor, clinic, appointment_id, now=at)
    slot = _offered_slot(slot_key, offered, clinic)
    with portal_audited(db, actor, "appointment.move", f"appointment {appointment_id}") as note:
        moved = confirm_move(
            db, clinic, appointment_id, slot.start, slot.practitioner_id, shown, now=at
        )
        note.detail = f"moved {[m.id for m in moved]}"
        return moved


def request_callback(
    db: Database, actor: LinkActor, note: str = "", *, now: datetime | None = None
) -> CallbackRequest:
    """She asks the clinic to call her back; the desk sees it on the Today page (audited
    ``portal.callback``). A second request while one is open adds nothing new."""
    clean = " ".join((note or "").split())
    if len(clean) > NOTE_MAX:
        raise InputError.one("note", clean[:40], f"must be at most {NOTE_MAX} characters")
    at = _now(now)
    with portal_audited(db, actor, "portal.callback") as audit_note, db.transaction() as uow:
        patient = uow.patients.get(actor.patient_id)
        if not (patient.phone or patient.email):
            raise StateError("the clinic has no phone number or e-mail address for you")
        existing = uow.portal_links.open_callbacks(actor.patient_id)
        if existing:
            audit_note.detail = f"request {existing[-1].id} already open"
            return existing[-1]
        made = uow.portal_links.add_callback(actor.patient_id, at, clean, actor.link_id)
        audit_note.detail = f"request {made.id}"
        return made


def _her_recall(db: Database, actor: LinkActor, recall_id: int | None) -> RecallEntry | None:
    with db.transaction() as uow:
        if recall_id is not None:
            entry = uow.recalls.get(recall_id)
            if entry.patient_id != actor.patient_id:
                raise NotFoundError("this recall is not yours")
            return entry
        entries = uow.recalls.query(patient_id=actor.patient_id, statuses=(RecallStatus.OPEN,))
        return min(entries, key=lambda e: e.due_date) if entries else None


def maintenance_options(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    recall_id: int | None,
    *,
    now: datetime | None = None,
) -> tuple[RecallEntry | None, list[FreeSlot]]:
    """Her recall entry and free maintenance times from shortly before her due date on (none
    when the entry is closed: she booked, or the clinic closed it)."""
    at = _now(now)
    entry = _her_recall(db, actor, recall_id)
    if entry is None or entry.status is not RecallStatus.OPEN:
        return entry, []
    today = at.astimezone(clinic.tz).date()
    first = max(today + timedelta(days=1), entry.due_date - timedelta(days=MAINTENANCE_EARLY_DAYS))
    slots = find_free_slots(
        db,
        clinic,
        "maintenance",
        not_before=first,
        days=MAINTENANCE_SEARCH_DAYS,
        limit=OFFERED,
        per_day=2,
        now=at,
    )
    return entry, slots


def book_maintenance(
    db: Database,
    actor: LinkActor,
    clinic: ClinicConfig,
    recall_id: int | None,
    slot_key: str,
    *,
    now: datetime | None = None,
) -> Appointment:
    """Book the maintenance visit she picked from the offered times: the same booking as staff's
    (slot claims, the confirmation message, the recall entry closes as booked; audited
    ``appointment.book``)."""
    at = _now(now)
    entry, offered = maintenance_options(db, actor, clinic, recall_id, now=at)
    if entry is None or entry.status is not RecallStatus.OPEN:
        raise StateError("your maintenance visit is already booked or no longer due")
    slot = _offered_slot(slot_key, offered, clinic)
    request = checked_slot(
        db, clinic, AppointmentKind.MAINTENANCE, slot.start, slot.practitioner_id, now=at
    )
    with portal_audited(db, actor, "appointment.book") as note, db.transaction() as uow:
        # A maintenance visit belongs to no course, as when staff book it.
        appt = book_appointment_in(
            uow,
            actor.patient_id,
            request,
            kind=AppointmentKind.MAINTENANCE,
            note="booked by the patient online",
            at=at,
        )
        note.detail = f"appointment {appt.id} (maintenance, recall {entry.id})"
        return appt


def callbacks_open(db: Database) -> list[CallbackRequest]:
    """Every open call-back request, oldest first (for the desk's Today page)."""
    with db.transaction() as uow:
        return uow.portal_links.open_callbacks()


def callback_done(
    db: Database, actor: User | None, request_id: int, *, now: datetime | None = None
) -> CallbackRequest:
    """The desk called her back (contacts permission; audited ``portal.callback.done``)."""
    at = _now(now)
    with db.transaction() as uow:
        patient_id = uow.portal_links.get_callback(request_id).patient_id
    with (
        audited(db, actor, "portal.callback.done", patient_id, f"request {request_id}"),
        db.transaction() as uow,
    ):
        return uow.portal_links.close_callback(
            request_id, at, actor.username if actor else "system"
        )


__all__ = [
    "CallTheClinicError",
    "PortalOverview",
    "PortalVisit",
    "book_maintenance",
    "callback_done",
    "callbacks_open",
    "cancel_visit",
    "confirm_visit",
    "her_visit",
    "maintenance_options",
    "overview",
    "request_callback",
    "reschedule_options",
    "reschedule_preview",
    "reschedule_save",
    "reschedule_window",
]

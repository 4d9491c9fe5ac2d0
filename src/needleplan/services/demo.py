"""The demo clinic and its logins.

The demo clinic is built through the same use-cases the clinic uses: patients are registered and
assessed, the guideline plans each course, the scheduler dates it in the demo calendar (the
bundled example clinic: opening hours, public holidays, closures, each practitioner's hours and
days off) around the bookings made so far, the booking service books it under the slot claims,
and sessions, measurements, missed visits, status changes, recall entries and contact attempts
are recorded by their services. Every demo appointment therefore obeys the demo calendar, and
the records keep every invariant the services keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import numpy as np

from needleplan.domain.assessment import Assessment, parse_assessment
from needleplan.domain.consent_forms import ConsentKind
from needleplan.domain.protocol import IntRange, Protocol
from needleplan.domain.records import (
    AdverseEvent,
    ContactChannel,
    ContactOutcome,
    CourseStatus,
    MeasurementDraft,
    MeasurementScale,
    PatientDraft,
    PerformedSessionDraft,
    RecallEntry,
    Role,
    Sex,
    SlotRequest,
    User,
)
from needleplan.exceptions import ConflictError, InputError
from needleplan.guideline import Guideline, load_guideline, make_protocol
from needleplan.scheduling import (
    Busy,
    ClinicConfig,
    CourseSchedule,
    SessionSchedulingError,
    example_clinic,
    schedule_course,
)
from needleplan.scheduling.calendar import BusyIndex, SlotGrid, closed_reason, working_spans
from needleplan.services._clock import utc_now
from needleplan.services.accounts import check_password, password_hasher
from needleplan.services.appointments import mark_missed
from needleplan.services.assessments import record_assessment
from needleplan.services.booking import book_course_in
from needleplan.services.consent_forms import sign_consent
from needleplan.services.courses import change_course_status, record_session_in
from needleplan.services.demo_week import fill_fortnight
from needleplan.services.measurements import record_measurement_in
from needleplan.services.patients import list_patients, register_patient
from needleplan.services.practitioners import ensure_clinic, sync_practitioners
from needleplan.services.recall import opt_out_recall, record_contact
from needleplan.storage import Database, UnitOfWork

T = TypeVar("T")

GIVEN = [
    "Anna",
    "Beate",
    "Clara",
    "Dora",
    "Elif",
    "Fatma",
    "Greta",
    "Hanna",
    "Ines",
    "Julia",
    "Katrin",
    "Lea",
    "Maria",
    "Nina",
    "Olga",
    "Petra",
    "Rosa",
    "Sara",
    "Tanja",
    "Ute",
    "Vera",
    "Wiebke",
    "Yasmin",
    "Zoe",
    "Agnes",
    "Birgit",
    "Carla",
    "Dana",
    "Emma",
    "Frieda",
]
FAMILY = [
    "Abel",
    "Bauer",
    "Conrad",
    "Demir",
    "Engel",
    "Fischer",
    "Graf",
    "Hahn",
    "Iske",
    "Jung",
    "Keller",
    "Lang",
    "Meyer",
    "Neumann",
    "Otto",
    "Peters",
    "Quast",
    "Roth",
    "Schulz",
    "Thiel",
    "Ulrich",
    "Vogt",
    "Wagner",
    "Yilmaz",
    "Zimmer",
    "Brandt",
    "Krause",
    "Lorenz",
]
#: The demo clinic's practitioners: those of the demo calendar (:func:`demo_calendar`).
PRACTITIONERS = ("Dr. Lena Vogel", "Marta Nowak", "Dr. Aylin Kaya")
STATES = ("completed", "active", "planned", "lapsed", "cancelled")
STATE_WEIGHTS = (0.45, 0.25, 0.12, 0.10, 0.08)
DEMO_PASSWORD = "demo-password"
DEMO_CLINIC_NAME = "Demo Skin Clinic"
#: Recall outreach starts this long before the due date [days].
OUTREACH_LEAD_DAYS = 21


@dataclass(frozen=True)
class DemoSummary:
    patients: int
    courses: dict[str, int]
    appointments: int
    sessions: int
    measurements: int
    recalls: int
    users: list[str]


def demo_calendar() -> ClinicConfig:
    """The calendar every demo booking obeys: the bundled example clinic."""
    return example_clinic()


#: The course states whose patients have been treated, so signed a treatment consent (one PDF
#: each); planned and cancelled courses' patients sign at their first visit.
TREATED_STATES = ("active", "completed", "lapsed")
DEMO_DEVICE = "demo clinic tablet"


def demo_signature_png() -> bytes:
    """A made-up handwritten signature (dark strokes on a transparent canvas), as a PNG."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(14, 86), (48, 22), (70, 90), (104, 30), (128, 84)], fill=(20, 30, 80, 255), width=4)
    draw.line(
        [(140, 70), (190, 64), (236, 80), (300, 40), (344, 60)], fill=(20, 30, 80, 255), width=3
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def fill_demo_clinic(
    db: Database,
    *,
    patients: int = 300,
    seed: int = 7,
    today: date | None = None,
    clinic: ClinicConfig | None = None,
) -> DemoSummary:
    """Fill an empty database with a realistic made-up clinic for trying needleplan.

    Three practitioners; ``patients`` patients with assessments and courses planned by the
    guideline engine, dated in ``clinic`` (default :func:`demo_calendar`) and booked through the
    booking service, in every course state (planned, active, completed, lapsed, cancelled):
    their appointments, performed sessions, outcome measurements and the recall worklist with
    contact attempts made by the front desk during opening hours; three users (``admin``,
    ``practitioner``, ``frontdesk``; password ``demo-password``). Deterministic for a given
    ``seed`` and ``today``. One transaction: all of it is stored or none.
    """
    if not 1 <= patients <= 5000:
        raise InputError.one("patients", patients, "must be between 1 and 5000")
    calendar = clinic or demo_calendar()
    missing = set(PRACTITIONERS) - {p.name for p in calendar.practitioners}
    if missing:
        raise InputError.one(
            "clinic",
            calendar.name,
            "must employ the demo practitioners " + ", ".join(PRACTITIONERS),
        )
    digest = password_hasher().hash(DEMO_PASSWORD)
    now = utc_now()
    with db.transaction() as uow:
        if uow.patients.count() or uow.users.all():
            raise ConflictError("demo needs an empty database (patients or users already exist)")
        return _Demo(db, uow, calendar, seed, today or now.date(), now).fill(patients, digest)


class _Demo:
    """One demo fill: the random stream, the demo calendar and the bookings made so far."""

    def __init__(
        self,
        db: Database,
        uow: UnitOfWork,
        calendar: ClinicConfig,
        seed: int,
        today: date,
        now: datetime,
    ) -> None:
        self.db, self.uow, self.calendar = db, uow, calendar
        self.rng = np.random.default_rng(seed)
        self.today, self.now = today, now
        self.zone = calendar.tz
        # The demo's clock for its records: the end of its today (a chosen day may lie ahead).
        self.end_of_today = max(
            now, datetime.combine(today + timedelta(days=1), time(0), tzinfo=self.zone)
        )
        self.guideline: Guideline = load_guideline()
        # The bookings made so far, and the calendar's slot grid worked out once per day.
        self.busy = BusyIndex.build([])
        self.grid = SlotGrid(calendar)
        self.appointments = self.sessions = self.measurements = self.recalls = 0
        self.courses = {s.value: 0 for s in CourseStatus}

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def fill(self, patients: int, password_hash: str) -> DemoSummary:
        ensure_clinic(self.db, DEMO_CLINIC_NAME, self.calendar.timezone)
        self.staff = sync_practitioners(self.db, self.calendar)
        self.names = {v: k for k, v in self.staff.items()}
        users = [
            ("admin", Role.ADMIN, None),
            ("practitioner", Role.PRACTITIONER, self.staff[PRACTITIONERS[0]]),
            ("frontdesk", Role.FRONT_DESK, None),
        ]
        made = {
            name: self.uow.users.add(name, password_hash, role, who, self.now)
            for name, role, who in users
        }
        self.front_desk = made["frontdesk"].id
        self.practitioner = made["practitioner"]
        self.signature = demo_signature_png()
        for i in range(patients):
            self.patient(i)
        # Single visits around the courses, for patients without an open recall.
        recalled = {r.patient_id for r in self.uow.recalls.query()}
        free = [p.id for p in list_patients(self.db, limit=10_000) if p.id not in recalled]
        self.busy, extra = fill_fortnight(
            self.uow,
            self.calendar,
            self.busy,
            self.grid,
            self.staff,
            free,
            self.rng,
            self.today,
            self.now,
        )
        self.appointments += extra
        return DemoSummary(
            patients=patients,
            courses=self.courses,
            appointments=self.appointments,
            sessions=self.sessions,
            measurements=self.measurements,
            recalls=self.recalls,
            users=[u[0] for u in users],
        )

    # ------------------------------------------------------------------ one patient

    def patient(self, i: int) -> None:
        rng = self.rng
        age = int(rng.integers(32, 72))
        given, family = self.pick(GIVEN), self.pick(FAMILY)
        born_month, born_day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        details = {
            "given_name": given,
            "family_name": family,
            "sex": Sex.FEMALE if rng.random() < 0.9 else Sex.MALE,
            "email": f"{given.lower()}.{family.lower()}{i}@example.org",
            "phone": f"+49 30 {int(rng.integers(1_000_000, 9_999_999))}",
            "consent_treatment": True,
            "consent_contact": bool(rng.random() < 0.85),
            "consent_research": bool(rng.random() < 0.4),
        }
        state = STATES[int(rng.choice(len(STATES), p=STATE_WEIGHTS))]
        assessment = self.assessment(age)
        protocol = make_protocol(assessment, self.guideline)
        count, interval = protocol.initial_sessions, protocol.recommended_interval_days
        done = 0
        if state == "completed":
            span = protocol.interval_days.max * (count - 1)
            first = self.today - timedelta(days=span + int(rng.integers(30, 500)))
        elif state in ("active", "lapsed"):
            done = int(rng.integers(1, count))
            first = self.today - timedelta(days=interval * done - int(rng.integers(1, interval)))
        else:
            first = self.today + timedelta(days=int(rng.integers(3, 60)))
        assessed_day = first - timedelta(days=14)
        assessed = datetime.combine(assessed_day, time(0), self.zone).astimezone(UTC)
        # Born so that she is ``age`` on the assessment day (the assessment must agree).
        before_birthday = (born_month, born_day) > (assessed_day.month, assessed_day.day)
        born = date(assessed_day.year - age - int(before_birthday), born_month, born_day)
        patient = register_patient(
            self.db, PatientDraft(birth_date=born, **details), confirm_duplicate=True
        )
        record = record_assessment(
            self.db,
            patient.id,
            assessment,
            assessed_at=assessed,
            assessed_by=self.staff[PRACTITIONERS[0]],
        )
        schedule = self.schedule(protocol, first)
        self.busy = self.busy.with_busy(
            Busy(s.practitioner, s.start, s.end) for s in schedule.sessions
        )
        slots = [
            SlotRequest(start=s.start, end=s.end, practitioner_id=self.staff[s.practitioner])
            for s in schedule.sessions
        ]
        booking = book_course_in(
            self.uow, patient.id, protocol, slots, assessment_id=record.id, at=assessed
        )
        if state in TREATED_STATES:  # she signed the treatment consent at her consultation
            sign_consent(
                self.db,
                self.practitioner,
                patient.id,
                ConsentKind.TREATMENT,
                self.signature,
                DEMO_DEVICE,
                now=assessed,
            )
        self.appointments += len(booking.appointments)
        course_id = booking.course.id
        areas = list(assessment.areas)
        depth = {a: (0.5 if a.value == "under_eyes" else 1.5) for a in areas}
        performed: list[datetime] = []
        for k, appt in enumerate(booking.appointments):
            past = appt.start.astimezone(self.zone).date() < self.today
            if not past or state in ("planned", "cancelled"):
                continue
            if state == "lapsed" and k >= done - 1 and k > 0:
                mark_missed(self.db, appt.id)
                continue
            session = record_session_in(
                self.uow,
                PerformedSessionDraft(
                    performed_at=appt.start,
                    areas=areas,
                    device="Dermapen 4",
                    needle_depth_mm=depth,
                    passes=int(rng.integers(2, 5)),
                    product="hyaluronic serum",
                    lot=f"HS{int(rng.integers(1000, 9999))}",
                    practitioner_id=appt.practitioner_id,
                    adverse_events=[AdverseEvent(kind="erythema", severity="mild")]
                    if rng.random() < 0.2
                    else [],
                ),
                appointment_id=appt.id,
            )
            self.sessions += 1
            performed.append(session.performed_at)
            if k > 0:
                self.measure(
                    patient.id,
                    course_id,
                    MeasurementScale.GAIS,
                    float(rng.choice([1, 2, 2, 3, 3, 4])),
                    appt.start,
                    appt.practitioner_id,
                )
        course = self.uow.courses.get(course_id)
        if course.status is CourseStatus.COMPLETED:
            self.measure(
                patient.id,
                course_id,
                MeasurementScale.SATISFACTION,
                float(rng.integers(5, 11)),
                performed[-1],
                None,
            )
            (entry,) = self.uow.recalls.query(patient_id=patient.id)
            self.recalls += 1
            self.outreach(entry)
        elif state == "lapsed" and course.status is CourseStatus.ACTIVE:
            course = change_course_status(self.db, course_id, CourseStatus.LAPSED)
        elif state == "cancelled":
            course = change_course_status(self.db, course_id, CourseStatus.CANCELLED)
        self.courses[course.status.value] += 1

    def schedule(self, protocol: Protocol, first: date) -> CourseSchedule:
        """The course dated by the scheduler in the demo calendar around the bookings so far.

        One practitioner treats the whole course (continuity, and a third of the search);
        when her calendar has no room for the first session, anyone who has does, anywhere in
        the protocol's window.
        """
        who = self.pick(PRACTITIONERS)
        # Sessions go within a week around the recommended interval: inside the protocol's
        # window (the course is booked with the protocol itself) at half the search.
        mid = protocol.recommended_interval_days
        low, high = protocol.interval_days.min, protocol.interval_days.max
        window = IntRange(min=max(low, mid - 3), max=min(high, mid + 3))
        narrow = protocol.model_copy(update={"interval_days": window})
        try:
            return schedule_course(
                narrow,
                first,
                self.calendar,
                practitioner=who,
                busy=self.busy,
                allow_overrun=True,
                grid=self.grid,
            )
        except SessionSchedulingError:
            return schedule_course(
                protocol, first, self.calendar, busy=self.busy, allow_overrun=True, grid=self.grid
            )

    def assessment(self, age: int) -> Assessment:
        rng = self.rng
        areas = [["full_face"], ["full_face", "neck"], ["under_eyes"], ["neck", "chest"]][
            int(rng.integers(4))
        ]
        return parse_assessment(
            {
                "age": age,
                "severity": ["mild", "moderate", "advanced", "severe"][
                    int(rng.choice(4, p=[0.2, 0.45, 0.25, 0.1]))
                ],
                "areas": areas,
                "smoking": "current" if rng.random() < 0.12 else "never",
                "sun_exposure": ["low", "moderate", "high"][int(rng.integers(3))],
                "aftercare": "poor" if rng.random() < 0.1 else "good",
                "fitzpatrick_type": int(rng.integers(1, 7)),
            }
        )

    def measure(
        self,
        patient_id: int,
        course_id: int,
        scale: MeasurementScale,
        value: float,
        at: datetime,
        by: int | None,
    ) -> None:
        record_measurement_in(
            self.uow,
            patient_id,
            MeasurementDraft(
                scale=scale, value=value, measured_at=at, measured_by=by, course_id=course_id
            ),
            now=self.end_of_today,
        )
        self.measurements += 1

    # ------------------------------------------------------------------ recall outreach

    def outreach(self, entry: RecallEntry) -> None:
        """The front desk's attempts to reach her about maintenance, then maybe her opt-out.

        Outreach starts :data:`OUTREACH_LEAD_DAYS` before the due date; attempts are days
        apart, on days the clinic is open, at a time within its opening hours, and never after
        ``today``.
        """
        rng = self.rng
        day = max(
            entry.due_date - timedelta(days=OUTREACH_LEAD_DAYS),
            entry.created_at.astimezone(self.zone).date() + timedelta(days=1),
        )
        for _ in range(int(rng.integers(0, 4))):
            at = self.office_time(day)
            if at is None:
                break
            channel = ContactChannel.PHONE if rng.random() < 0.75 else self.channel()
            record_contact(
                self.db,
                entry.id,
                channel=channel,
                outcome=self.pick(["no_answer", "left_message", "call_back"])
                if channel is ContactChannel.PHONE
                else ContactOutcome.LEFT_MESSAGE,
                by_user_id=self.front_desk,
                at=at,
            )
            day = at.astimezone(self.zone).date() + timedelta(days=int(rng.integers(3, 11)))
        if rng.random() < 0.08:
            opt_out_recall(self.db, entry.id)

    def channel(self) -> ContactChannel:
        return ContactChannel(self.pick(["email", "sms"]))

    def office_time(self, day: date) -> datetime | None:
        """A random time on the first day from ``day`` the front desk works (before today)."""
        desk = self.calendar.practitioners[0].model_copy(update={"hours": None, "days_off": []})
        while day < self.today:
            if closed_reason(self.calendar, desk, day) is None:
                start, end = self.spans(working_spans(self.calendar, desk, day))
                minute = start + 5 * int(self.rng.integers(0, (end - start) // 5))
                local = datetime.combine(day, time(minute // 60, minute % 60), self.zone)
                return local.astimezone(UTC)
            day += timedelta(days=1)
        return None

    def spans(self, spans: list[tuple[int, int]]) -> tuple[int, int]:
        return spans[int(self.rng.integers(len(spans)))]


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
        check_password(password)
        digest = password_hasher().hash(password)
        with db.transaction() as uow:
            user = uow.users.by_username(username)
            if user is None:
                users.append(uow.users.add(username, digest, roles[username], None, utc_now()))
                continue
            uow.users.set_password_hash(user.id, digest)
            users.append(uow.users.set_active(user.id, True))
    return users

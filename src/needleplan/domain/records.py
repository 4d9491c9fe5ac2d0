"""Clinic record values: patients, courses, appointments, sessions, measurements, recall, users.

Pure, validated, immutable values (pydantic v2, ``frozen``, ``extra="forbid"``). They carry no
database identity rules and no I/O; ``needleplan.storage`` maps them to and from tables and
``needleplan.services`` applies the use-cases.

Course status and its legal transitions::

    planned ──> active ──> completed
       │          ├──────> lapsed
       │          └──────> cancelled
       └─────────────────> cancelled

``completed``, ``lapsed`` and ``cancelled`` are final: a patient who comes back starts a new course.

Appointment status and its legal transitions (see :class:`AppointmentStatus`)::

    booked ──> arrived ──> performed
       │          └──────> cancelled
       ├─────────────────> performed
       ├─────────────────> cancelled
       └─────────────────> missed      (shown as "no-show")

``performed``, ``cancelled`` and ``missed`` are final; a move changes a booked appointment's time,
and a missed or cancelled course session is rebooked as a new appointment. The wall-clock rules
(no chart before the start minus the check-in window, no no-show before the start, a late
cancellation inside the notice period) live in :mod:`needleplan.domain.visits`.

Every datetime is timezone-aware; naive datetimes are rejected with an
:class:`~needleplan.exceptions.InputError` (``rule: must be timezone-aware``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from needleplan.domain._values import (
    AwareDatetime,
    CleanStr,
    CleanText,
    IsoDate,
    _Record,
)
from needleplan.domain.accounts import Role, User  # the one account model (re-exported)
from needleplan.domain.assessment import Area, Assessment, problems_from_validation
from needleplan.domain.contact import normalise_email, normalise_phone
from needleplan.domain.protocol import Protocol
from needleplan.domain.recall import (
    CONSENTS,
    AuditEvent,
    ConsentChange,
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    Lead,
    LeadStatus,
    RecallEntry,
    RecallStatus,
)
from needleplan.exceptions import FieldProblem, InputError, StateError

# --------------------------------------------------------------------------- enums


class CourseStatus(StrEnum):
    """Where a course of treatment stands."""

    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"

    def can_become(self, target: CourseStatus) -> bool:
        """Whether ``self -> target`` is a legal transition."""
        return target in COURSE_TRANSITIONS[self]

    def require(self, target: CourseStatus) -> CourseStatus:
        """Return ``target`` if ``self -> target`` is legal, else raise :class:`StateError`."""
        if not self.can_become(target):
            allowed = ", ".join(sorted(s.value for s in COURSE_TRANSITIONS[self])) or "none"
            raise StateError(
                f"course status cannot change from {self.value} to {target.value} "
                f"(allowed from {self.value}: {allowed})"
            )
        return target

    @property
    def is_final(self) -> bool:
        return not COURSE_TRANSITIONS[self]


COURSE_TRANSITIONS: dict[CourseStatus, frozenset[CourseStatus]] = {
    CourseStatus.PLANNED: frozenset({CourseStatus.ACTIVE, CourseStatus.CANCELLED}),
    CourseStatus.ACTIVE: frozenset(
        {CourseStatus.COMPLETED, CourseStatus.LAPSED, CourseStatus.CANCELLED}
    ),
    CourseStatus.COMPLETED: frozenset(),
    CourseStatus.LAPSED: frozenset(),
    CourseStatus.CANCELLED: frozenset(),
}


class AppointmentStatus(StrEnum):
    """Where one appointment stands, and its legal transitions::

        booked ──> arrived      she checked in (services.visits.check_in)
           ├─────> performed    a session was recorded on it (services.record_session)
           ├─────> cancelled    cancelled, or its course was cancelled or lapsed
           └─────> missed       the patient did not come (services.mark_missed): a "no-show"
        arrived ─> performed    charted (services.visits.chart)
           └─────> cancelled    she left untreated (services.visits.cancel)

    ``performed``, ``cancelled`` and ``missed`` are final. Moving an appointment changes its time
    or practitioner, not its status (it stays ``booked``; an arrived one is not moved). Rebooking
    a missed or cancelled course session leaves that appointment as it is (the record, noted
    "rebooked as appointment N") and books a NEW ``booked`` appointment for the owed session.
    """

    BOOKED = "booked"
    ARRIVED = "arrived"
    PERFORMED = "performed"
    CANCELLED = "cancelled"
    MISSED = "missed"

    def can_become(self, target: AppointmentStatus) -> bool:
        """Whether ``self -> target`` is a legal transition."""
        return target in APPOINTMENT_TRANSITIONS[self]

    def require(
        self, target: AppointmentStatus, *, appointment_id: int | None = None
    ) -> AppointmentStatus:
        """Return ``target`` if ``self -> target`` is legal, else raise :class:`StateError`
        naming the appointment (when ``appointment_id`` is given), both states and the
        allowed targets."""
        if not self.can_become(target):
            allowed = ", ".join(sorted(s.value for s in APPOINTMENT_TRANSITIONS[self])) or "none"
            subject = "appointment" if appointment_id is None else f"appointment {appointment_id}"
            raise StateError(
                f"{subject} cannot change from {self.value} to {target.value} "
                f"(allowed from {self.value}: {allowed})"
            )
        return target

    @property
    def is_final(self) -> bool:
        return not APPOINTMENT_TRANSITIONS[self]

    @property
    def is_live(self) -> bool:
        """Still ahead of its outcome: booked or arrived (holds its time, counts as a session)."""
        return self in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)

    @property
    def label(self) -> str:
        """The word staff read: ``missed`` is shown as "no-show", ``arrived`` as "checked in"."""
        return _APPOINTMENT_LABELS.get(self, self.value)


_APPOINTMENT_LABELS = {
    AppointmentStatus.MISSED: "no-show",
    AppointmentStatus.ARRIVED: "checked in",
}

APPOINTMENT_TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.BOOKED: frozenset(
        {
            AppointmentStatus.ARRIVED,
            AppointmentStatus.PERFORMED,
            AppointmentStatus.CANCELLED,
            AppointmentStatus.MISSED,
        }
    ),
    AppointmentStatus.ARRIVED: frozenset(
        {AppointmentStatus.PERFORMED, AppointmentStatus.CANCELLED}
    ),
    AppointmentStatus.PERFORMED: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
    AppointmentStatus.MISSED: frozenset(),
}


class AppointmentKind(StrEnum):
    CONSULTATION = "consultation"
    TREATMENT = "treatment"
    MAINTENANCE = "maintenance"
    REVIEW = "review"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


@dataclass(frozen=True)
class ScaleInfo:
    """Bounds and meaning of one measurement scale."""

    low: float
    high: float
    integer: bool
    higher_is_better: bool
    unit: str
    description: str


class MeasurementScale(StrEnum):
    """Outcome scales a clinic records (SPEC capability 7)."""

    GAIS = "gais"
    WRINKLE_GRADE = "wrinkle_grade"
    LAXITY_GRADE = "laxity_grade"
    CUTOMETER_R2 = "cutometer_r2"
    SATISFACTION = "satisfaction"

    @property
    def info(self) -> ScaleInfo:
        return SCALES[self]

    def check(self, value: float) -> float:
        """Return ``value`` if it lies on this scale, else raise ``ValueError`` naming the rule."""
        info = self.info
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if not info.low <= value <= info.high:
            raise ValueError(
                f"{self.value} must lie between {info.low:g} and {info.high:g} ({info.unit})"
            )
        if info.integer and value != int(value):
            raise ValueError(f"{self.value} takes whole numbers only")
        return value


SCALES: dict[MeasurementScale, ScaleInfo] = {
    MeasurementScale.GAIS: ScaleInfo(
        1,
        5,
        True,
        False,
        "grade",
        "Global Aesthetic Improvement Scale: 1 very much improved, 2 much improved, "
        "3 improved, 4 no change, 5 worse",
    ),
    MeasurementScale.WRINKLE_GRADE: ScaleInfo(
        0, 5, True, False, "grade", "wrinkle grade 0 (none) to 5 (very deep wrinkles, folds)"
    ),
    MeasurementScale.LAXITY_GRADE: ScaleInfo(
        0, 4, False, False, "grade", "laxity grade 0 (none) to 4 (severe), half steps allowed"
    ),
    MeasurementScale.CUTOMETER_R2: ScaleInfo(
        0, 1, False, True, "ratio", "Cutometer R2 gross elasticity Ua/Uf (0 to 1)"
    ),
    MeasurementScale.SATISFACTION: ScaleInfo(
        0, 10, True, True, "points", "patient satisfaction 0 (not at all) to 10 (completely)"
    ),
}


# --------------------------------------------------------------------------- values


class PatientDraft(_Record):
    """What the front desk types in to register a patient."""

    mrn: CleanStr | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="clinic record number; assigned when absent",
    )
    given_name: CleanStr = Field(min_length=1, max_length=100)
    family_name: CleanStr = Field(min_length=1, max_length=100)
    birth_date: IsoDate
    sex: Sex = Sex.UNDISCLOSED
    email: CleanStr | None = Field(default=None, max_length=200)
    phone: CleanStr | None = Field(default=None, max_length=40)
    # Strict: a consent is true or false, never "yes", 1 or "false" read as true.
    consent_treatment: StrictBool = False
    consent_contact: StrictBool = False
    consent_research: StrictBool = False
    notes: CleanText = Field(default="", max_length=4000)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date) -> date:
        if value.year < 1900:
            raise ValueError("must be in 1900 or later")
        if value > date.today():
            raise ValueError("must not be in the future")
        return value


class Patient(PatientDraft):
    id: int
    mrn: str
    created_at: AwareDatetime

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


class Practitioner(_Record):
    id: int
    clinic_id: int
    name: str
    active: bool = True


class Clinic(_Record):
    id: int
    name: str
    timezone: str


class AssessmentRecord(_Record):
    """One stored assessment. A new consultation adds a record; none is ever overwritten."""

    id: int
    patient_id: int
    assessed_at: AwareDatetime
    assessed_by: int | None
    assessment: Assessment
    notes: str = ""


class LedgerEntry(_Record):
    """One movement of a course's remaining-session count."""

    id: int
    course_id: int
    at: AwareDatetime
    delta: int
    reason: str
    remaining_after: int


class Course(_Record):
    """A course of treatment with the protocol it was planned from (a frozen snapshot)."""

    id: int
    patient_id: int
    assessment_id: int | None
    status: CourseStatus
    planned_sessions: int = Field(ge=0)
    remaining_sessions: int
    protocol: Protocol
    guideline_version: str
    created_at: AwareDatetime
    status_changed_at: AwareDatetime
    note: str = ""


class Appointment(_Record):
    id: int
    patient_id: int
    course_id: int | None
    practitioner_id: int
    kind: AppointmentKind
    session_number: int | None
    start: AwareDatetime
    end: AwareDatetime
    status: AppointmentStatus
    note: str = ""
    sequence: int = Field(default=0, ge=0)
    arrived_at: AwareDatetime | None = None
    cancel_reason: str = ""
    cancelled_late: bool | None = Field(
        default=None, description="cancelled inside the clinic's notice period (None: not known)"
    )


class SlotRequest(_Record):
    """A proposed appointment: the time and the practitioner who would treat."""

    start: AwareDatetime
    end: AwareDatetime
    practitioner_id: int = Field(ge=1)

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is None:
            return end
        if end <= start:
            raise ValueError("end must be after start")
        if (end - start).total_seconds() > 12 * 3600:
            raise ValueError("an appointment lasts at most 12 hours")
        return end


PositiveDepth = Annotated[float, Field(gt=0, le=3.0)]


class AdverseEvent(_Record):
    kind: CleanStr = Field(min_length=1, max_length=100)
    severity: CleanStr = Field(default="mild", pattern=r"^(mild|moderate|severe)$")
    note: CleanText = Field(default="", max_length=2000)


class PerformedSessionDraft(_Record):
    """What the practitioner records after treating."""

    performed_at: AwareDatetime
    areas: list[Area] = Field(min_length=1)
    device: CleanStr = Field(min_length=1, max_length=100)
    needle_depth_mm: dict[Area, PositiveDepth] = Field(description="needle depth [mm] per area")
    passes: int = Field(ge=1, le=20)
    product: CleanStr = Field(default="", max_length=200)
    lot: CleanStr = Field(default="", max_length=100)
    practitioner_id: int = Field(ge=1)
    notes: CleanText = Field(default="", max_length=4000)
    adverse_events: list[AdverseEvent] = Field(default_factory=list)

    @field_validator("areas")
    @classmethod
    def _unique_areas(cls, areas: list[Area]) -> list[Area]:
        if len(set(areas)) != len(areas):
            raise ValueError("lists an area more than once")
        return areas

    @field_validator("needle_depth_mm")
    @classmethod
    def _depth_per_area(cls, depths: dict[Area, float], info: ValidationInfo) -> dict[Area, float]:
        areas: list[Area] = info.data.get("areas") or []
        missing = [a.value for a in areas if a not in depths]
        if missing:
            raise ValueError(f"needle_depth_mm lacks a depth for {', '.join(missing)}")
        extra = [a.value for a in depths if areas and a not in areas]
        if extra:
            raise ValueError(f"needle_depth_mm names areas not treated: {', '.join(extra)}")
        return depths

    @field_validator("lot")
    @classmethod
    def _lot_needs_product(cls, lot: str, info: ValidationInfo) -> str:
        if lot and not info.data.get("product"):
            raise ValueError("lot given without product")
        return lot


class PerformedSession(PerformedSessionDraft):
    id: int
    appointment_id: int | None
    course_id: int | None
    patient_id: int


class MeasurementDraft(_Record):
    scale: MeasurementScale
    value: float
    measured_at: AwareDatetime
    measured_by: int | None = Field(default=None, ge=1, description="practitioner id")
    course_id: int | None = Field(default=None, ge=1)
    area: Area | None = None
    note: CleanText = Field(default="", max_length=2000)

    @field_validator("value")
    @classmethod
    def _on_scale(cls, value: float, info: ValidationInfo) -> float:
        scale = info.data.get("scale")
        if isinstance(scale, MeasurementScale):
            scale.check(value)
        elif not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Measurement(MeasurementDraft):
    id: int
    patient_id: int


# --------------------------------------------------------------------------- parsing

_M = TypeVar("_M", bound=BaseModel)


def parse_record(model: type[_M], data: Any, *, source: str = "") -> _M:
    """Validate ``data`` into ``model`` or raise :class:`InputError` naming each bad field."""
    if isinstance(data, model):
        return data
    if not isinstance(data, Mapping):
        raise InputError.one(
            model.__name__, type(data).__name__, "must be a JSON object", source=source
        )
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems = [
            FieldProblem(p.field, "{...}", p.rule)
            if p.field == model.__name__ and isinstance(p.value, Mapping)
            else p
            for p in problems_from_validation(exc, fallback=model.__name__)
        ]
        raise InputError(problems, source=source) from None


__all__ = [
    "CONSENTS",
    "COURSE_TRANSITIONS",
    "SCALES",
    "AdverseEvent",
    "Appointment",
    "AppointmentKind",
    "AppointmentStatus",
    "AssessmentRecord",
    "AuditEvent",
    "AwareDatetime",
    "Clinic",
    "ConsentChange",
    "ContactAttempt",
    "ContactChannel",
    "ContactOutcome",
    "Course",
    "CourseStatus",
    "IsoDate",
    "Lead",
    "LeadStatus",
    "LedgerEntry",
    "Measurement",
    "MeasurementDraft",
    "MeasurementScale",
    "Patient",
    "PatientDraft",
    "PerformedSession",
    "PerformedSessionDraft",
    "Practitioner",
    "RecallEntry",
    "RecallStatus",
    "Role",
    "ScaleInfo",
    "Sex",
    "SlotRequest",
    "User",
    "parse_record",
]

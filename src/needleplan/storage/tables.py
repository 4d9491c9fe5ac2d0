"""SQLAlchemy 2 tables: the stored shape of the clinic records (not the domain objects).

Alembic migrations in ``needleplan/storage/migrations`` own the schema; these declarations are the
head revision and a test checks that the migrated database matches them exactly.

Double booking is prevented by ``slot_claims``: an appointment claims every
:data:`SLOT_MINUTES`-minute slot it overlaps, for its practitioner, and the primary key
``(practitioner_id, slot_start)`` makes two live claims of one slot impossible on every backend,
whatever the concurrency. Cancelling an appointment deletes its claims.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from needleplan.storage.types import UtcDateTime

SLOT_MINUTES = 5

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class ClinicRow(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PractitionerRow(Base):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PatientRow(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    consent_treatment: Mapped[bool] = mapped_column(Boolean)
    consent_contact: Mapped[bool] = mapped_column(Boolean)
    consent_research: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    assessed_at: Mapped[datetime]
    assessed_by: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    data: Mapped[dict[str, Any]]
    notes: Mapped[str] = mapped_column(Text, default="")


class CourseRow(Base):
    __tablename__ = "courses"
    __table_args__ = (CheckConstraint("planned_sessions >= 0", name="planned_nonnegative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    planned_sessions: Mapped[int] = mapped_column(Integer)
    remaining_sessions: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[dict[str, Any]]
    guideline_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class LedgerRow(Base):
    __tablename__ = "course_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    at: Mapped[datetime]
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    remaining_after: Mapped[int] = mapped_column(Integer)


class AppointmentRow(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        Index("ix_appointments_practitioner_id_start_at", "practitioner_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    kind: Mapped[str] = mapped_column(String(20))
    session_number: Mapped[int | None] = mapped_column(Integer)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # iCalendar SEQUENCE: +1 whenever the time or the practitioner changes (migration 0004).
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Visit outcome details (migration 0007): check-in time, cancellation reason and lateness.
    arrived_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    cancelled_late: Mapped[bool | None] = mapped_column(Boolean, default=None)


class SlotClaimRow(Base):
    """One practitioner slot held by one live appointment. The primary key forbids a second."""

    __tablename__ = "slot_claims"

    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )


class PerformedSessionRow(Base):
    __tablename__ = "performed_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    performed_at: Mapped[datetime]
    areas: Mapped[list[Any]]
    device: Mapped[str] = mapped_column(String(100))
    needle_depth_mm: Mapped[dict[str, Any]]
    passes: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(200), default="")
    lot: Mapped[str] = mapped_column(String(100), default="")
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    adverse_events: Mapped[list[Any]]


class MeasurementRow(Base):
    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    scale: Mapped[str] = mapped_column(String(30))
    value: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime]
    measured_by: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    area: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")


class RecallRow(Base):
    __tablename__ = "recall_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class ContactAttemptRow(Base):
    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall_entries.id"), index=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    by_user_id: Mapped[int | None] = mapped_column(Integer)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class AuditRow(Base):
    """Who read or changed which patient record, and when. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class ApiTokenRow(Base):
    """A bearer token for integrations: only its SHA-256 digest is stored; revoking keeps the row."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: who issued it (the owner, or an admin for an account without clinical access)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scope: Mapped[str] = mapped_column(String(10), default="write", server_default="write")
    expires_at: Mapped[datetime]


class LeadRow(Base):
    """A contact request from the public estimator, stored only with the consent given."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(400), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    estimate_summary: Mapped[str] = mapped_column(Text, default="")
    consent_text: Mapped[str] = mapped_column(Text)
    consented_at: Mapped[datetime] = mapped_column(index=True)


class ClinicConfigRow(Base):
    """One saved version of the clinic calendar (the TOML text an admin saved); the newest wins.

    Versions are never edited or deleted: saving appends a row, reverting appends a copy of an older
    one, so the history shows who changed the calendar and when.
    """

    __tablename__ = "clinic_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    toml: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(40), default="")


class StaffSessionRow(Base):
    """A signed-in browser session: the cookie holds a random token, only its SHA-256 is stored.

    Signing out, an admin's revocation, a password change or closing the account sets
    ``revoked_at``; the session is then refused on its next request.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class RateLimitRow(Base):
    """A token bucket of a rate limit shared by every server process (storage/rate_limits.py).

    ``bucket`` names the limit and the client (``api:<address>``, ``login-user:<name>``); times
    are wall-clock seconds since the epoch; ``full_at`` is when the bucket is full again, after
    which the row means nothing and may be deleted.
    """

    __tablename__ = "rate_limits"

    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    full_at: Mapped[float] = mapped_column(Float, index=True)


class IdempotencyKeyRow(Base):
    """The first answer to a booking request carrying an idempotency key (a form's hidden
    field or the API's ``Idempotency-Key`` header), replayed for the same key instead of booking
    again (storage/repositories/idempotency.py).

    ``scope`` is the route and the account (a key only replays for whoever sent it); a row
    without ``status`` is a request still being answered.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(120), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConsentChangeRow(Base):
    """One change of one of a patient's consents (treatment, contact, research): what, who,
    when. Rows are only ever added; the patient row holds the consents in force."""

    __tablename__ = "consent_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    consent: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(40))


class WaitlistRow(Base):
    """A patient who wants an earlier slot for a visit kind (storage/repositories/waitlist.py).

    ``practitioner_id`` None: anyone; ``not_before`` None: any day. An entry is open until
    ``closed_at``: she booked (``closed_reason`` "booked") or the desk removed it.
    """

    __tablename__ = "waitlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    not_before: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_reason: Mapped[str] = mapped_column(String(40), default="")


class OutboxRow(Base):
    """A message to a patient (or a person who asked to be contacted), written in the same
    transaction as its cause and delivered by the worker (services/messaging, docs/messages.md).

    ``status``: queued -> sent | failed | skipped. A worker claims a due row by setting
    ``lease_until``/``leased_by`` (SKIP LOCKED on PostgreSQL); an expired lease (a worker that
    died mid-send) makes the row claimable again. ``subject``/``body_*``/``recipient`` are filled
    when it is first rendered, then frozen, so a retry sends the same message with the same
    ``message_id``. ``dedupe_key`` (unique) makes planned messages (reminders, recall outreach)
    exist once, whichever worker plans them.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recall_entries.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(400))
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    subject: Mapped[str | None] = mapped_column(String(400))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    unsubscribe_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
    resent_from: Mapped[int | None] = mapped_column(Integer)


class MessageOptOutRow(Base):
    """A patient who asked for no more recall (non-transactional) messages, and how."""

    __tablename__ = "message_opt_outs"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(40))


class ClinicCalibrationRow(Base):
    """A clinic calibration: a fit proposed for review, or an adoption that put one in force.

    Append-only. A fit is stored as a ``proposal`` (``version`` empty). Adopting one appends an
    ``adoption`` row with the next ``version`` and a copy of the fit; reverting appends an
    adoption of an older version's fit, or with no body (back to the default). The in-force
    calibration is the adoption with the highest version.
    """

    __tablename__ = "clinic_calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    version: Mapped[int | None] = mapped_column(Integer, unique=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_calibrations.id"))
    body: Mapped[dict[str, Any] | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(40), default="")


class ConsentTemplateRow(Base):
    """One version of a consent form's text (kind ``treatment`` or ``photo``). Append-only: an
    edit adds the next version; the shipped texts are version 1 (migration 0015)."""

    __tablename__ = "consent_templates"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40))


class ConsentFormRow(Base):
    """A consent form a patient signed: the template version, her name, when, the device, the
    PDF and its SHA-256. Never deleted; a withdrawal fills ``withdrawn_*``."""

    __tablename__ = "consent_forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    template_id: Mapped[int] = mapped_column(ForeignKey("consent_templates.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    uses: Mapped[str] = mapped_column(String(100), default="")
    signer_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime]
    device: Mapped[str] = mapped_column(String(400))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(40))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(40))
    withdrawn_reason: Mapped[str] = mapped_column(String(500), default="")


metadata = Base.metadata


class PhotoRow(Base):
    """A before/after photo of a patient at a course session (appointment), in one standard
    view. The image and its thumbnail are files in the media folder named by the SHA-256 of
    their bytes (:mod:`needleplan.storage.media`); the row holds the hashes and sizes."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    view: Mapped[str] = mapped_column(String(20))
    taken_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    thumb_width: Mapped[int] = mapped_column(Integer)
    thumb_height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(40))
    uploaded_at: Mapped[datetime]

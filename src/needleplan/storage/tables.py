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
    display_name: Mapped[str] = mapped_column(String(120), default="", server_default="")


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


class IntakeResponseRow(Base):
    """A patient's intake answers, kept as submitted with the questionnaire version, and the
    draft assessment they propose (storage/repositories/intake.py, services/intake.py).

    ``status``: draft -> confirmed. ``answers`` is the submission exactly as received;
    ``draft`` holds the typed answers, the question texts she saw, the proposed assessment
    values and the flags. Confirming stores an assessment (``assessment_id``) and who reviewed.
    """

    __tablename__ = "intake_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    questionnaire_id: Mapped[str] = mapped_column(String(80))
    questionnaire_version: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]]
    draft: Mapped[dict[str, Any]]
    channel: Mapped[str] = mapped_column(String(10))
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12), index=True)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(40))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))


class IntakeKioskRow(Base):
    """A staff browser session locked to one patient's intake form (kiosk mode on a tablet).

    Keyed by the SHA-256 digest of the session token (never the token). While a row exists,
    every other staff page refuses that session until a member of staff unlocks it with a
    password. Not backed up (like the sessions themselves).
    """

    __tablename__ = "intake_kiosks"

    session_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    started_by: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    response_id: Mapped[int | None] = mapped_column(ForeignKey("intake_responses.id"))


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


class ClinicMediaRow(Base):
    """An image the clinic shows on its public pages (its logo), named by the SHA-256 of its
    bytes (storage/repositories/clinic_media.py). Base64 text, so backups carry it as JSON;
    served only by the app, never from a world-readable folder. Rows are only ever added."""

    __tablename__ = "clinic_media"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    username: Mapped[str] = mapped_column(String(40), default="")


class PatientLanguageRow(Base):
    """The language a patient reads (her messages and handout), when not the clinic's default."""

    __tablename__ = "patient_languages"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime]


class LeadStateRow(Base):
    """Where a contact request stands once staff act on it (absent: new): ``handled`` or
    ``converted`` (then ``patient_id`` is the patient registered from it). Deleted with its lead.
    """

    __tablename__ = "lead_states"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(40), default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)


class RecallCloseReasonRow(Base):
    """Why staff closed a recall entry (closed or opted out), in their words."""

    __tablename__ = "recall_close_reasons"

    recall_id: Mapped[int] = mapped_column(ForeignKey("recall_entries.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))


metadata = Base.metadata


class PortalLinkRow(Base):
    """A patient's password-less link (services/portal_links.py, docs/messages.md).

    Only the SHA-256 ``token_digest`` of the token in the address is kept. ``purpose`` says which
    pages it opens (portal, book, intake, consent, unsubscribe); it works until ``expires_at``
    unless ``revoked_at`` is set. ``message_id`` names the message that carried it.
    """

    __tablename__ = "portal_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recall_entries.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str] = mapped_column(String(40), default="")
    last_used_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(Integer, default=0)


class CallbackRequestRow(Base):
    """A patient asked (through her portal link) to be called back; open until ``done_at``."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_links.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    done_by: Mapped[str] = mapped_column(String(40), default="")


class VisitConfirmationRow(Base):
    """She confirmed (through her portal link) that she comes to the visit at ``start``; a move
    gives the visit a new start, so the confirmation no longer applies."""

    __tablename__ = "visit_confirmations"

    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    start: Mapped[datetime]
    confirmed_at: Mapped[datetime]
    link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_links.id"))


class AccountSecurityRow(Base):
    """An account's second factor and password state (issue 17, accounts): the TOTP secret once
    confirmed (``totp_pending`` while enrolling), the last accepted time step (a code is never
    accepted twice) and whether the password must be changed at the next sign-in (after an
    admin reset it)."""

    __tablename__ = "account_security"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    updated_at: Mapped[datetime]


class RecoveryCodeRow(Base):
    """A single-use recovery code of an account, stored as its SHA-256 digest only."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SiteSettingRow(Base):
    """One clinic-wide setting (``two_factor_required``, ``retention_years``, ...) as text."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(40), default="")


class WorkerHeartbeatRow(Base):
    """When each worker process last finished a round (``/readyz`` checks it is recent)."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime]


class PatientAnonymisationRow(Base):
    """A patient whose record was anonymised after the retention period (when, and why)."""

    __tablename__ = "patient_anonymisations"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")


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

"""Patients, their assessments, courses, visits, sessions, measurements and recall."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    event,
    false,
    insert,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.domain.name_keys import later_words, name_key
from needleplan.storage.tables._base import Base


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
    # The names' search keys (domain.name_keys, migration 0029): set from the names by the ORM
    # on every insert and every change of a name (the events below); the bulk writers (restore,
    # the large clinic) set them themselves.
    given_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    family_key: Mapped[str] = mapped_column(String(200), default="", server_default="")


def _names_changed(row: PatientRow) -> bool:
    attrs = inspect(row).attrs
    return bool(attrs.given_name.history.has_changes() or attrs.family_name.history.has_changes())


@event.listens_for(PatientRow, "before_insert")
def _name_keys_of_new(mapper: Any, connection: Any, row: PatientRow) -> None:
    row.given_key = name_key(row.given_name)
    row.family_key = name_key(row.family_name)


@event.listens_for(PatientRow, "before_update")
def _name_keys_of_renamed(mapper: Any, connection: Any, row: PatientRow) -> None:
    if _names_changed(row):
        _name_keys_of_new(mapper, connection, row)


class PatientNameTokenRow(Base):
    """A later word of a patient's name, for the search (migration 0030): ``Lüdenscheidt`` of
    ``Müller-Lüdenscheidt``, ``Maria`` of ``Anna Maria``, ``Berg`` of ``van der Berg``, as
    search keys (:func:`needleplan.domain.name_keys.later_words`). A name's first word is
    its key's own prefix, so only names of several words have rows. Worked out from the names:
    kept by the ORM events below, rebuilt by a restore, never in a backup."""

    __tablename__ = "patient_name_tokens"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


def name_token_rows(patient_id: int, given_key: str, family_key: str) -> list[dict[str, Any]]:
    """The token rows of one patient (none for a name of one word each)."""
    words = later_words(given_key) | later_words(family_key)
    return [{"patient_id": patient_id, "token": w} for w in sorted(words)]


@event.listens_for(PatientRow, "after_insert")
def _name_tokens_of_new(mapper: Any, connection: Any, row: PatientRow) -> None:
    rows = name_token_rows(row.id, row.given_key, row.family_key)
    if rows:
        connection.execute(insert(PatientNameTokenRow), rows)


@event.listens_for(PatientRow, "after_update")
def _name_tokens_of_renamed(mapper: Any, connection: Any, row: PatientRow) -> None:
    if _names_changed(row):
        connection.execute(
            delete(PatientNameTokenRow).where(PatientNameTokenRow.patient_id == row.id)
        )
        _name_tokens_of_new(mapper, connection, row)


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
    """One practitioner slot held by one live appointment, or by an online booking waiting for
    her confirmation (``hold_id``, migration 0022). The primary key forbids a second."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        CheckConstraint("(appointment_id IS NULL) <> (hold_id IS NULL)", name="one_holder"),
    )

    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    hold_id: Mapped[int | None] = mapped_column(
        ForeignKey("online_bookings.id", ondelete="CASCADE"), index=True
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


class PatientLanguageRow(Base):
    """The language a patient reads (her messages and handout), when not the clinic's default."""

    __tablename__ = "patient_languages"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime]


class RecallCloseReasonRow(Base):
    """Why staff closed a recall entry (closed or opted out), in their words."""

    __tablename__ = "recall_close_reasons"

    recall_id: Mapped[int] = mapped_column(ForeignKey("recall_entries.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))


class PatientAnonymisationRow(Base):
    """A patient whose record was anonymised after the retention period (when, and why)."""

    __tablename__ = "patient_anonymisations"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")

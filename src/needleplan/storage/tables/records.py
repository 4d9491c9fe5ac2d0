"""Clinic configuration and calibration versions, intake, consent forms, media and photos."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


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

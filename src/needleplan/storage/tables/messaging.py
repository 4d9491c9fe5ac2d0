"""Messages, the outbox, portal links, contact requests and what patients asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


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

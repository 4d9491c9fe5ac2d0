"""Integrations: webhook endpoints and their deliveries, survey answers, clinic message templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


class WebhookEndpointRow(Base):
    """An address an admin registered for events (docs/messages.md, "Webhooks"). ``secret`` signs
    each body (HMAC-SHA256) and is stored sealed with the server's key (``v1:...``, bound to the
    endpoint's id; migration 0028); a removed endpoint keeps its delivery log."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(400))
    events: Mapped[list[Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40), default="")
    removed_at: Mapped[datetime | None]


class WebhookDeliveryRow(Base):
    """One event for one endpoint; the outbox row (kind ``webhook``) carries body, status,
    attempts and last error, this row the endpoint and the receiver's last HTTP status."""

    __tablename__ = "webhook_deliveries"

    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    status_code: Mapped[int | None] = mapped_column(Integer)


class SurveyAnswerRow(Base):
    """Her answer to a follow-up survey: one per link, stored as a measurement."""

    __tablename__ = "survey_answers"

    link_id: Mapped[int] = mapped_column(ForeignKey("portal_links.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("performed_sessions.id"))
    measurement_id: Mapped[int] = mapped_column(ForeignKey("measurements.id"))
    answered_at: Mapped[datetime]


class MessageTemplateRow(Base):
    """One version of the clinic's template for a message kind in one language; the newest
    version applies (``is_default``: back to the shipped template)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "language", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    sms: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

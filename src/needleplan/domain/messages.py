"""Patient messages as values: their kinds, their delivery states and one outbox entry.

The rules of who may receive what (docs/messages.md):

* *care* messages (confirmations, change and cancellation notices, reminders) need a way to reach
  her (an e-mail address or a phone number); they are part of the treatment she booked;
* *outreach* messages (recall) also need her contact consent and no opt-out, and carry a
  one-click unsubscribe link (``List-Unsubscribe``);
* the acknowledgement of a contact request goes to the address the visitor gave, with consent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class MessageKind(StrEnum):
    COURSE_BOOKED = "course_booked"
    VISIT_BOOKED = "visit_booked"
    DATES_CHANGED = "dates_changed"
    VISIT_CANCELLED = "visit_cancelled"
    REMINDER = "reminder"
    RECALL = "recall"
    RECALL_NUDGE = "recall_nudge"
    CONTACT_ACK = "contact_ack"
    ONLINE_BOOKING = "online_booking"  # double opt-in: confirm the consultation she booked online
    INTAKE_LINK = "intake_link"  # her pre-visit questionnaire link, sent from her page
    CONSENT_LINK = "consent_link"  # a link to sign a consent form at home
    SURVEY = "survey"  # the follow-up survey some weeks after a performed session
    WEBHOOK = "webhook"  # an event for an integration (no patient reads it)

    @property
    def is_outreach(self) -> bool:
        """Non-transactional: needs contact consent, carries List-Unsubscribe."""
        return self in (MessageKind.RECALL, MessageKind.RECALL_NUDGE, MessageKind.SURVEY)

    @property
    def is_recall(self) -> bool:
        """Recall outreach: tied to a recall entry, carries her booking link."""
        return self in (MessageKind.RECALL, MessageKind.RECALL_NUDGE)


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting for its due time or a retry
    SENT = "sent"  # accepted by the SMTP server or the SMS gateway
    FAILED = "failed"  # given up after the retries (or refused for good); last_error says why
    SKIPPED = "skipped"  # not sent on purpose (no contact details, no consent, opted out)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message and what happened to it."""

    id: int
    kind: MessageKind
    patient_id: int | None
    recall_id: int | None
    payload: dict[str, Any]
    status: MessageStatus
    created_at: datetime
    due_at: datetime
    attempts: int
    channel: Channel | None = None
    recipient: str | None = None
    message_id: str | None = None
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    last_error: str = ""
    sent_at: datetime | None = None
    resent_from: int | None = None
    dedupe_key: str | None = None

    @property
    def rendered(self) -> bool:
        return self.body_text is not None


__all__ = ["Attachment", "Channel", "MessageKind", "MessageStatus", "OutboxMessage"]

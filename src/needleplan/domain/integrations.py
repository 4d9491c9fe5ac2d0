"""Integrations as values: outbound webhook endpoints, their events and deliveries, and the
clinic's own message templates.

A webhook *endpoint* is an address an admin registered with a shared secret and the events it
wants. Each event is a small JSON body of ids (never names or clinical text), signed with
HMAC-SHA256 of the body under the endpoint's secret (docs/messages.md, "Webhooks").
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from needleplan.exceptions import InputError


class WebhookEvent(StrEnum):
    """What an endpoint may subscribe to."""

    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_MOVED = "appointment.moved"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_PERFORMED = "appointment.performed"
    PATIENT_CREATED = "patient.created"
    MEASUREMENT_RECORDED = "measurement.recorded"


#: The audit action each event is derived from (the audit row is written in the same
#: transaction as the change, so the event is too).
EVENT_OF_ACTION: dict[str, WebhookEvent] = {
    "appointment.book": WebhookEvent.APPOINTMENT_BOOKED,
    "course.book": WebhookEvent.APPOINTMENT_BOOKED,
    "appointment.rebook": WebhookEvent.APPOINTMENT_BOOKED,
    "appointment.move": WebhookEvent.APPOINTMENT_MOVED,
    "appointment.cancel": WebhookEvent.APPOINTMENT_CANCELLED,
    "session.record": WebhookEvent.APPOINTMENT_PERFORMED,
    "patient.create": WebhookEvent.PATIENT_CREATED,
    "measurement.create": WebhookEvent.MEASUREMENT_RECORDED,
}

SIGNATURE_HEADER = "X-Needleplan-Signature"
TIMESTAMP_HEADER = "X-Needleplan-Timestamp"
EVENT_HEADER = "X-Needleplan-Event"
DELIVERY_HEADER = "X-Needleplan-Delivery"

URL_MAX = 2000
SECRET_MIN = 16
SECRET_MAX = 200


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of body under secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_url(url: str, field: str = "url") -> str:
    """``url`` when it is an absolute http(s) address with a host, else an InputError."""
    clean = url.strip()
    if not clean or len(clean) > URL_MAX:
        raise InputError.one(field, url[:80], f"must be 1 to {URL_MAX} characters")
    if any(c.isspace() or ord(c) < 32 for c in clean):
        raise InputError.one(field, clean[:80], "must not contain spaces or control characters")
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https"):
        raise InputError.one(field, clean[:80], "must start with http:// or https://")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise InputError.one(field, clean[:80], "must have a valid port number") from None
    if not host:
        raise InputError.one(field, clean[:80], "must name a host")
    if parts.username or parts.password:
        raise InputError.one(
            field, clean[:80], "must not carry a user name or password (use the secret)"
        )
    return clean


def check_secret(secret: str, field: str = "secret") -> str:
    clean = secret.strip()
    if not SECRET_MIN <= len(clean) <= SECRET_MAX:
        raise InputError.one(field, "<hidden>", f"must be {SECRET_MIN} to {SECRET_MAX} characters")
    return clean


def parse_events(events: object, field: str = "events") -> tuple[WebhookEvent, ...]:
    """The events an endpoint subscribes to (at least one, each known), in a stable order."""
    if isinstance(events, str):
        events = [e for e in events.replace(",", " ").split() if e]
    if not isinstance(events, list | tuple | set | frozenset) or not events:
        raise InputError.one(
            field, events, "must name at least one of " + ", ".join(e.value for e in WebhookEvent)
        )
    chosen: set[WebhookEvent] = set()
    for e in events:
        try:
            chosen.add(WebhookEvent(str(e).strip().lower()))
        except ValueError:
            raise InputError.one(
                field, e, "must be one of " + ", ".join(e.value for e in WebhookEvent)
            ) from None
    return tuple(e for e in WebhookEvent if e in chosen)


#: What a list shows for a secret sealed with another server key (a restored backup, a new key).
UNREADABLE_SECRET = "sealed with another server key: remove the endpoint and add it again"


@dataclass(frozen=True)
class WebhookEndpoint:
    """A registered address. ``secret`` is the signing secret in clear (stored sealed with the
    server's key), or None when this server's key cannot open it."""

    id: int
    url: str
    secret: str | None
    events: tuple[WebhookEvent, ...]
    created_at: datetime
    created_by: str = ""
    removed_at: datetime | None = None

    @property
    def secret_hint(self) -> str:
        """The last four characters, for lists (the secret itself is shown once)."""
        return UNREADABLE_SECRET if self.secret is None else "…" + self.secret[-4:]


@dataclass(frozen=True)
class WebhookDelivery:
    """One event to one endpoint and what happened (the outbox row carries the status)."""

    message_id: int
    endpoint_id: int
    event: str
    status: str
    attempts: int
    created_at: datetime
    status_code: int | None = None
    last_error: str = ""
    sent_at: datetime | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class MessageTemplate:
    """One saved version of a clinic's template for a message kind in one language.

    ``is_default`` marks a revert: from this version on the shipped template applies again.
    """

    id: int
    kind: str
    language: str
    version: int
    subject: str
    text: str
    html: str
    sms: str
    created_at: datetime
    created_by: str = ""
    is_default: bool = False
    extra: dict[str, str] = field(default_factory=dict)


__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "EVENT_OF_ACTION",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "UNREADABLE_SECRET",
    "MessageTemplate",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "check_secret",
    "check_url",
    "parse_events",
    "sign",
]

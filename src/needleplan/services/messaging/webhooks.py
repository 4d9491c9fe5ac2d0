"""Outbound webhooks: events written to the outbox with their cause, delivered by the worker.

:func:`emit_in` is called where every audit row is written (:mod:`needleplan.services.audit`),
inside the same transaction, so each use-case that books, moves, cancels or performs a visit,
registers a patient or records a measurement emits its event without knowing about webhooks,
and an event exists exactly when its change does. The body carries the event, the time and ids
only (parsed from the audit row: never names or clinical text). It is stored as the exact bytes
that are signed and sent, so a retry sends the same body with the same signature.

:func:`deliver_webhook` is the worker's send step for a ``webhook`` outbox row: one POST with
``X-Needleplan-Signature: sha256=<HMAC-SHA256 hex of the body under the endpoint's secret>``,
``X-Needleplan-Timestamp`` (Unix seconds of this attempt), ``X-Needleplan-Event`` and
``X-Needleplan-Delivery`` (the outbox id, stable across retries, so a receiver drops a repeat).
A 2xx answer is delivered; 408, 429, 5xx or no answer is retried with the worker's backoff; any
other answer (the receiver refuses) fails at once. Redirects are not followed.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime

from needleplan.domain.integrations import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_OF_ACTION,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookEvent,
    sign,
)
from needleplan.domain.messages import MessageKind, MessageStatus, OutboxMessage
from needleplan.exceptions import StateError
from needleplan.services.messaging.config import MessagingConfig
from needleplan.storage import Database, UnitOfWork

#: The ids an audit detail may name (``appointment 12``, ``measurement=7``, ``course #3``).
_IDS = re.compile(r"\b(appointment|course|measurement|session|assessment)s?\s*[=#: ]\s*(\d+)\b")


def event_ids(patient_id: int | None, detail: str) -> dict[str, int]:
    """The ids of an event: the patient's and those the audit detail names (first of each)."""
    ids: dict[str, int] = {}
    if patient_id is not None:
        ids["patient_id"] = patient_id
    for name, value in _IDS.findall(detail):
        ids.setdefault(f"{name}_id", int(value))
    return ids


def emit_in(uow: UnitOfWork, action: str, patient_id: int | None, detail: str, at: datetime) -> int:
    """Queue the event of audit ``action`` for every endpoint that wants it; returns how many."""
    event = EVENT_OF_ACTION.get(action)
    if event is None:
        return 0
    endpoints = [e for e in uow.webhooks.all() if event in e.events]
    if not endpoints:
        return 0
    ids = event_ids(patient_id, detail)
    for endpoint in endpoints:
        body = {
            "event": event.value,
            "id": uuid.uuid4().hex,
            "time": at.isoformat(),
            **ids,
        }
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
        message = uow.outbox.add(
            MessageKind.WEBHOOK,
            at,
            payload={"endpoint_id": endpoint.id, "event": event.value, "body": raw},
        )
        uow.webhooks.add_delivery(message.id, endpoint.id, event)
    return len(endpoints)


@dataclass(frozen=True)
class WebhookCall:
    url: str
    secret: str
    event: str
    body: bytes


def webhook_call(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> WebhookCall | str:
    """What to POST for a claimed webhook row, or what became of it instead: ``"skipped"`` when
    its endpoint was removed, ``"failed"`` when this server's key cannot open the endpoint's
    sealed secret (a restored backup, a changed key: retrying would not help); the row records
    the reason."""
    endpoint = uow.webhooks.get(int(message.payload["endpoint_id"]))
    if endpoint.removed_at is not None:
        uow.outbox.finish(
            message.id,
            MessageStatus.SKIPPED,
            now,
            error=f"webhook endpoint {endpoint.id} was removed",
            attempted=False,
        )
        return "skipped"
    try:
        secret = uow.webhooks.signing_secret(endpoint.id)
    except StateError as exc:
        uow.outbox.finish(
            message.id, MessageStatus.FAILED, now, error=str(exc)[:300], attempted=False
        )
        return "failed"
    return WebhookCall(
        endpoint.url,
        secret,
        str(message.payload.get("event", "")),
        str(message.payload["body"]).encode(),
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(
    call: WebhookCall, message_id: int, now: datetime, timeout_s: float
) -> tuple[int | None, str, bool]:
    """POST the signed body: ``(status code or None, error or "", may retry)``."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "needleplan-webhooks",
        SIGNATURE_HEADER: sign(call.secret, call.body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        EVENT_HEADER: call.event,
        DELIVERY_HEADER: str(message_id),
    }
    request = urllib.request.Request(call.url, data=call.body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(65536)
            code = int(response.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"endpoint unreachable ({reason})"[:300], True
    if 200 <= code < 300:
        return code, "", False
    retry = code in (408, 429) or code >= 500
    return code, f"endpoint answered {code}", retry


def deliver_webhook(
    db: Database,
    message: OutboxMessage,
    call: WebhookCall,
    worker: str,
    config: MessagingConfig,
    now: datetime,
    next_try: datetime,
) -> str:
    """Send one claimed webhook row and record the outcome (the caller's lease is checked)."""
    code, error, retry = post(call, message.id, now, config.timeout_s)
    with db.transaction() as uow:
        if not uow.outbox.holds_lease(message.id, worker):
            return "lost_lease"
        uow.webhooks.set_status_code(message.id, code)
        if not error:
            uow.outbox.finish(message.id, MessageStatus.SENT, now)
            return "sent"
        attempt = message.attempts + 1
        if not retry or attempt >= config.max_attempts:
            uow.outbox.finish(message.id, MessageStatus.FAILED, now, error=error)
            return "failed"
        uow.outbox.retry_at(message.id, next_try, error)
        return "retried"


__all__ = [
    "WebhookCall",
    "WebhookEvent",
    "deliver_webhook",
    "emit_in",
    "event_ids",
    "post",
    "webhook_call",
]

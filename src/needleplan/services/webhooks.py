"""Outbound webhooks as use-cases: admins add, list and remove endpoints and read their log.

Each call needs the clinic-settings permission (admins) and is audited (``webhook.add``,
``webhook.list``, ``webhook.remove``, ``webhook.log``). The events themselves are written by
:func:`needleplan.services.messaging.webhooks.emit_in` where the audit row of each change is
written, and delivered by the message worker (docs/messages.md, "Webhooks").
"""

from __future__ import annotations

from datetime import datetime

from needleplan.domain.accounts import User
from needleplan.domain.integrations import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    check_secret,
    check_url,
    parse_events,
)
from needleplan.services._clock import aware, utc_now
from needleplan.services._secrets import new_secret
from needleplan.services.audit import audited
from needleplan.storage import Database


def add_endpoint(
    db: Database,
    actor: User | None,
    url: str,
    events: object,
    *,
    secret: str | None = None,
    now: datetime | None = None,
    username: str | None = None,
) -> WebhookEndpoint:
    """Register ``url`` for ``events`` (names or :class:`WebhookEvent`, a list or a
    comma-separated string). Without ``secret`` a random one is made; the returned endpoint
    carries it (show it once: lists show only its last four characters)."""
    clean_url = check_url(url)
    chosen = parse_events(events)
    clean_secret = check_secret(secret) if secret is not None else new_secret(32)
    at = aware(now, "now") if now is not None else utc_now()
    by = actor.username if actor is not None else (username or "system")
    with (
        audited(db, actor, "webhook.add", username=username) as note,
        db.transaction() as uow,
    ):
        endpoint = uow.webhooks.add(clean_url, clean_secret, chosen, at, by[:40])
        note.detail = f"webhook {endpoint.id} events={','.join(e.value for e in chosen)}"
        return endpoint


def list_endpoints(
    db: Database,
    actor: User | None,
    *,
    include_removed: bool = False,
    username: str | None = None,
) -> list[WebhookEndpoint]:
    """The registered endpoints (removed ones too when asked)."""
    with audited(db, actor, "webhook.list", username=username), db.transaction() as uow:
        return uow.webhooks.all(include_removed=include_removed)


def remove_endpoint(
    db: Database,
    actor: User | None,
    endpoint_id: int,
    *,
    now: datetime | None = None,
    username: str | None = None,
) -> WebhookEndpoint:
    """Stop sending to an endpoint (its queued events are skipped; its log stays)."""
    at = aware(now, "now") if now is not None else utc_now()
    with (
        audited(db, actor, "webhook.remove", detail=f"webhook {endpoint_id}", username=username),
        db.transaction() as uow,
    ):
        return uow.webhooks.remove(endpoint_id, at)


def delivery_log(
    db: Database,
    actor: User | None,
    endpoint_id: int,
    *,
    limit: int = 100,
    username: str | None = None,
) -> tuple[WebhookEndpoint, list[WebhookDelivery]]:
    """The endpoint and its deliveries, newest first: status, receiver's HTTP status code,
    attempts and the last error."""
    with (
        audited(db, actor, "webhook.log", detail=f"webhook {endpoint_id}", username=username),
        db.transaction() as uow,
    ):
        endpoint = uow.webhooks.get(endpoint_id)
        return endpoint, uow.webhooks.deliveries(endpoint_id, limit)


__all__ = [
    "WebhookEvent",
    "add_endpoint",
    "delivery_log",
    "list_endpoints",
    "remove_endpoint",
]

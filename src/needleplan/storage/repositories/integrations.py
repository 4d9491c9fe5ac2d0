"""Webhook endpoints and deliveries, survey answers and the clinic's message templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from needleplan.domain.integrations import (
    MessageTemplate,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from needleplan.exceptions import NotFoundError, StateError
from needleplan.storage.secret_key import LazyKey, seal, unseal
from needleplan.storage.tables import (
    MessageTemplateRow,
    OutboxRow,
    PerformedSessionRow,
    SurveyAnswerRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)

#: What to do when the server's key cannot open an endpoint's sealed secret.
REMEDY = "remove the webhook endpoint and add it again (needleplan webhook remove / add)"


def sealing_context(endpoint_id: int) -> str:
    """The associated data an endpoint's sealed secret is bound to (its column and id)."""
    return f"webhook_endpoints.secret:{endpoint_id}"


def open_secret(key: Callable[[], bytes], endpoint_id: int, stored: str) -> str:
    """The secret in clear; StateError (naming the remedy) when the key cannot open it."""
    return unseal(key(), stored, sealing_context(endpoint_id), remedy=REMEDY)


def _endpoint(row: WebhookEndpointRow, key: Callable[[], bytes]) -> WebhookEndpoint:
    try:
        secret: str | None = open_secret(key, row.id, row.secret)
    except StateError:
        secret = None  # listed and removable; a delivery to it fails naming the remedy
    return WebhookEndpoint(
        id=row.id,
        url=row.url,
        secret=secret,
        events=tuple(WebhookEvent(e) for e in row.events or []),
        created_at=row.created_at,
        created_by=row.created_by,
        removed_at=row.removed_at,
    )


class WebhookRepository:
    """Endpoints' secrets are sealed on the way in and opened on the way out with the server's
    key (:mod:`needleplan.storage.secret_key`), bound to the endpoint's id."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.key = LazyKey(session)

    def add(
        self, url: str, secret: str, events: tuple[WebhookEvent, ...], at: datetime, by: str
    ) -> WebhookEndpoint:
        row = WebhookEndpointRow(
            url=url, secret="", events=[e.value for e in events], created_at=at, created_by=by
        )
        self.session.add(row)
        self.session.flush()  # its id, which the sealed value is bound to
        row.secret = seal(self.key(), secret, sealing_context(row.id))
        self.session.flush()
        return _endpoint(row, self.key)

    def signing_secret(self, endpoint_id: int) -> str:
        """The endpoint's secret in clear (StateError naming the remedy when this server's key
        cannot open it)."""
        row = self.session.get(WebhookEndpointRow, endpoint_id)
        if row is None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        return open_secret(self.key, row.id, row.secret)

    def get(self, endpoint_id: int) -> WebhookEndpoint:
        row = self.session.get(WebhookEndpointRow, endpoint_id)
        if row is None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        return _endpoint(row, self.key)

    def all(self, *, include_removed: bool = False) -> list[WebhookEndpoint]:
        query = select(WebhookEndpointRow).order_by(WebhookEndpointRow.id)
        if not include_removed:
            query = query.where(WebhookEndpointRow.removed_at.is_(None))
        return [_endpoint(r, self.key) for r in self.session.execute(query).scalars()]

    def remove(self, endpoint_id: int, at: datetime) -> WebhookEndpoint:
        row = self.session.get(WebhookEndpointRow, endpoint_id)
        if row is None or row.removed_at is not None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        row.removed_at = at
        self.session.flush()
        return _endpoint(row, self.key)

    def add_delivery(self, outbox_id: int, endpoint_id: int, event: WebhookEvent) -> None:
        self.session.add(
            WebhookDeliveryRow(outbox_id=outbox_id, endpoint_id=endpoint_id, event=event.value)
        )
        self.session.flush()

    def delivery_endpoint(self, outbox_id: int) -> int | None:
        row = self.session.get(WebhookDeliveryRow, outbox_id)
        return row.endpoint_id if row is not None else None

    def set_status_code(self, outbox_id: int, code: int | None) -> None:
        row = self.session.get(WebhookDeliveryRow, outbox_id)
        if row is not None:
            row.status_code = code
            self.session.flush()

    def deliveries(self, endpoint_id: int, limit: int = 100) -> list[WebhookDelivery]:
        rows = self.session.execute(
            select(WebhookDeliveryRow, OutboxRow)
            .join(OutboxRow, OutboxRow.id == WebhookDeliveryRow.outbox_id)
            .where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        ).all()
        return [
            WebhookDelivery(
                message_id=o.id,
                endpoint_id=d.endpoint_id,
                event=d.event,
                status=o.status,
                attempts=o.attempts,
                created_at=o.created_at,
                status_code=d.status_code,
                last_error=o.last_error,
                sent_at=o.sent_at,
                due_at=o.due_at,
            )
            for d, o in rows
        ]


class SurveyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def sessions_due(
        self, since: datetime, until: datetime, now: datetime
    ) -> list[tuple[int, int, int | None, datetime]]:
        """Sessions performed in ``[since, until]`` with no later session of hers by ``now``:
        ``(session id, patient id, course id, performed at)``."""
        later = aliased(PerformedSessionRow)
        newer = (
            select(later.id)
            .where(
                later.patient_id == PerformedSessionRow.patient_id,
                later.performed_at > PerformedSessionRow.performed_at,
                later.performed_at <= now,
            )
            .exists()
        )
        rows = self.session.execute(
            select(
                PerformedSessionRow.id,
                PerformedSessionRow.patient_id,
                PerformedSessionRow.course_id,
                PerformedSessionRow.performed_at,
            )
            .where(
                PerformedSessionRow.performed_at >= since,
                PerformedSessionRow.performed_at <= until,
                ~newer,
            )
            .order_by(PerformedSessionRow.id)
        ).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def answered(self, link_id: int) -> datetime | None:
        row = self.session.get(SurveyAnswerRow, link_id)
        return row.answered_at if row is not None else None

    def add(
        self,
        link_id: int,
        patient_id: int,
        session_id: int | None,
        measurement_id: int,
        at: datetime,
    ) -> None:
        self.session.add(
            SurveyAnswerRow(
                link_id=link_id,
                patient_id=patient_id,
                session_id=session_id,
                measurement_id=measurement_id,
                answered_at=at,
            )
        )
        self.session.flush()


def _template(row: MessageTemplateRow) -> MessageTemplate:
    return MessageTemplate(
        id=row.id,
        kind=row.kind,
        language=row.language,
        version=row.version,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        sms=row.sms,
        created_at=row.created_at,
        created_by=row.created_by,
        is_default=row.is_default,
    )


class MessageTemplateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def versions(self, kind: str, language: str) -> list[MessageTemplate]:
        """Every saved version, newest first."""
        rows = self.session.execute(
            select(MessageTemplateRow)
            .where(MessageTemplateRow.kind == kind, MessageTemplateRow.language == language)
            .order_by(MessageTemplateRow.version.desc())
        ).scalars()
        return [_template(r) for r in rows]

    def current(self, kind: str, language: str) -> MessageTemplate | None:
        """The version in force, or None when the shipped template applies."""
        row = self.session.execute(
            select(MessageTemplateRow)
            .where(MessageTemplateRow.kind == kind, MessageTemplateRow.language == language)
            .order_by(MessageTemplateRow.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is None or row.is_default:
            return None
        return _template(row)

    def customised(self) -> set[tuple[str, str]]:
        """The (kind, language) pairs whose newest version is the clinic's own."""
        newest = (
            select(
                MessageTemplateRow.kind,
                MessageTemplateRow.language,
                func.max(MessageTemplateRow.version).label("v"),
            )
            .group_by(MessageTemplateRow.kind, MessageTemplateRow.language)
            .subquery()
        )
        rows = self.session.execute(
            select(MessageTemplateRow.kind, MessageTemplateRow.language)
            .join(
                newest,
                (MessageTemplateRow.kind == newest.c.kind)
                & (MessageTemplateRow.language == newest.c.language)
                & (MessageTemplateRow.version == newest.c.v),
            )
            .where(MessageTemplateRow.is_default.is_(False))
        ).all()
        return {(k, lang) for k, lang in rows}

    def add(
        self,
        kind: str,
        language: str,
        at: datetime,
        by: str,
        *,
        subject: str = "",
        text: str = "",
        html: str = "",
        sms: str = "",
        is_default: bool = False,
    ) -> MessageTemplate:
        last = self.session.execute(
            select(func.max(MessageTemplateRow.version)).where(
                MessageTemplateRow.kind == kind, MessageTemplateRow.language == language
            )
        ).scalar_one_or_none()
        row = MessageTemplateRow(
            kind=kind,
            language=language,
            version=(last or 0) + 1,
            subject=subject,
            body_text=text,
            body_html=html,
            sms=sms,
            created_at=at,
            created_by=by,
            is_default=is_default,
        )
        self.session.add(row)
        self.session.flush()
        return _template(row)

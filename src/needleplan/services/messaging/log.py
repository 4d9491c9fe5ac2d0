"""The message log of a patient, resending, and the one-click unsubscribe."""

from __future__ import annotations

from datetime import datetime

from needleplan.domain.accounts import User
from needleplan.domain.messages import MessageKind, MessageStatus, OutboxMessage
from needleplan.domain.portal import LINK_ACTOR_NAME, LinkPurpose
from needleplan.domain.records import RecallStatus
from needleplan.exceptions import InputError, NotFoundError, StateError
from needleplan.services._clock import aware, utc_now
from needleplan.services._secrets import secret_digest
from needleplan.services.audit import audited
from needleplan.services.portal_links import LinkRefusedError, resolve_link
from needleplan.storage import Database


def message_log(
    db: Database, actor: User | None, patient_id: int, *, limit: int = 200
) -> list[OutboxMessage]:
    """Her messages, newest first: queued, sent, failed (with the reason) or skipped (why).

    Audited as ``message.read`` (contacts permission) in the same transaction as the read.
    """
    with audited(db, actor, "message.read", patient_id, username="system") as _note:  # noqa: SIM117
        with db.transaction() as uow:
            uow.patients.get(patient_id)
            return uow.outbox.for_patient(patient_id, limit)


def recall_opt_out_since(db: Database, patient_id: int) -> datetime | None:
    """When she opted out of recall messages (None: she did not)."""
    with db.transaction() as uow:
        return uow.outbox.opted_out(patient_id)


def resend(
    db: Database, actor: User | None, message_id: int, *, now: datetime | None = None
) -> OutboxMessage:
    """Queue a fresh copy of one of her messages (a new Message-ID, rendered anew when sent).

    A resend of a recall message follows the same consent rules as the first: it is skipped
    (the log says why) when she has opted out since. Audited as ``message.resend``.
    """
    at = aware(now, "now") if now is not None else utc_now()
    with db.transaction() as uow:
        original = uow.outbox.get(message_id)
    if original.patient_id is None:
        raise StateError(f"message {message_id} was not to a patient; it cannot be resent here")
    if original.status is MessageStatus.QUEUED:
        raise StateError(f"message {message_id} is still queued; it will be sent")
    with (
        audited(db, actor, "message.resend", original.patient_id, f"message {message_id}") as note,
        db.transaction() as uow,
    ):
        copy = uow.outbox.add(
            original.kind,
            at,
            patient_id=original.patient_id,
            recall_id=original.recall_id,
            payload=original.payload,
            resent_from=original.id,
        )
        note.detail = f"message {message_id} resent as {copy.id}"
        return copy


def unsubscribe_target(db: Database, secret: str) -> int:
    """The patient whose unsubscribe link carries ``secret`` (NotFoundError when none).

    The link is a portal link of purpose ``unsubscribe`` issued when the message was sent; a
    message sent before portal links existed is found by the digest kept with it. An expired or
    revoked link is refused like an unknown one.
    """
    if not secret or len(secret) > 200:
        raise InputError.one("token", secret[:20], "is not an unsubscribe link")
    try:
        return resolve_link(db, secret, LinkPurpose.UNSUBSCRIBE, count_use=False).patient_id
    except LinkRefusedError as exc:
        if exc.reason != "unknown":
            raise NotFoundError(f"this unsubscribe link is {exc.reason}") from None
    with db.transaction() as uow:
        message = uow.outbox.by_unsubscribe_digest(secret_digest(secret))
    if message is None or message.patient_id is None:
        raise NotFoundError("this unsubscribe link is not known (it may be mistyped)")
    return message.patient_id


def unsubscribe(db: Database, secret: str, *, now: datetime | None = None) -> bool:
    """One-click unsubscribe: record her opt-out and close her open recall entries as opted out.

    Idempotent (a second click changes nothing and returns False). Audited as
    ``message.unsubscribe`` (by the patient herself, recorded as ``patient-link``).
    """
    patient_id = unsubscribe_target(db, secret)
    at = aware(now, "now") if now is not None else utc_now()
    with (
        audited(db, None, "message.unsubscribe", patient_id, username=LINK_ACTOR_NAME) as note,
        db.transaction() as uow,
    ):
        link = uow.portal_links.by_digest(secret_digest(secret))
        if link is not None:
            uow.portal_links.used(link.id, at)
        new = uow.outbox.opt_out(patient_id, at, "unsubscribe link")
        closed = [
            uow.recalls.close(e.id, RecallStatus.OPTED_OUT, at).id
            for e in uow.recalls.query(patient_id=patient_id)
        ]
        via = f"link={link.id}" if link is not None else "legacy link"
        note.detail = f"{via}; recall entries closed: {closed or 'none'}"
        return new


def opt_in(db: Database, actor: User | None, patient_id: int) -> None:
    """Staff record that she wants recall messages again (audited as ``patient.update``)."""
    with (
        audited(db, actor, "patient.update", patient_id, "recall messages opt-in"),
        db.transaction() as uow,
    ):
        uow.outbox.opt_in(patient_id)


KIND_LABELS = {
    MessageKind.COURSE_BOOKED: "Booking confirmation",
    MessageKind.VISIT_BOOKED: "Visit confirmation",
    MessageKind.DATES_CHANGED: "Change notice",
    MessageKind.VISIT_CANCELLED: "Cancellation notice",
    MessageKind.REMINDER: "Visit reminder",
    MessageKind.RECALL: "Recall",
    MessageKind.RECALL_NUDGE: "Recall (second message)",
    MessageKind.CONTACT_ACK: "Contact request acknowledgement",
    MessageKind.ONLINE_BOOKING: "Online booking: confirm by e-mail",
    MessageKind.INTAKE_LINK: "Questionnaire link",
    MessageKind.CONSENT_LINK: "Consent form link",
    MessageKind.SURVEY: "Follow-up survey",
    MessageKind.WEBHOOK: "Webhook event",
}

__all__ = [
    "KIND_LABELS",
    "message_log",
    "opt_in",
    "recall_opt_out_since",
    "resend",
    "unsubscribe",
    "unsubscribe_target",
]

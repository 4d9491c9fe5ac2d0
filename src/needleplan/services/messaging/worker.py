"""The message worker: plan what is due, claim it, send it, record what happened.

One pass (:func:`run_once`, ``needleplan worker --once [--now ISO-TIME]``):

1. *plan*: a reminder for every booked visit starting within the clinic's ``reminder_hours``
   of ``now``; recall outreach for every open recall entry due by today (clinic time), and a
   second nudge ``recall_nudge_days`` after the first was sent. Each planned message has a
   unique ``dedupe_key`` (``reminder:<appointment>:<start>``, ``recall:<entry>:1``), so any
   number of passes and workers plan it once;
2. *deliver*: claim due messages in batches under a lease (SKIP LOCKED on PostgreSQL), render
   each once (the text and Message-ID are then frozen), respect quiet hours, send, and record
   the outcome with its audit row in one transaction. A failure that may pass is retried with
   exponential backoff (``retry_base_s * 2**(attempt-1)``) and gives up as *failed* with the
   reason after ``max_attempts``; one that will not pass (address refused) fails at once.

Each pass also releases the online bookings whose hold ran out
(:func:`needleplan.services.online_booking.release_expired_holds`): their slots are free again.

A worker killed mid-send leaves its rows leased; the lease expires and another pass sends them
again with the same Message-ID, which lets the receiving server drop the copy.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from needleplan.domain.messages import Channel, MessageKind, MessageStatus, OutboxMessage
from needleplan.domain.portal import LinkPurpose
from needleplan.domain.records import (
    AppointmentStatus,
    ContactChannel,
    ContactOutcome,
    RecallStatus,
)
from needleplan.exceptions import ConflictError, NeedleplanError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.clinic import MessageSettings
from needleplan.services._clock import aware, utc_now
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.services.consent_links import issue_consent_link_in
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.render import (
    ONLINE_BOOKING_MARK,
    Skip,
    TemplateRenderError,
    fill_links,
    link_url,
    marks_in,
    online_booking_url,
    render,
)
from needleplan.services.messaging.transport import (
    DeliveryError,
    build_email,
    send_email,
    send_sms,
)
from needleplan.services.messaging.webhooks import deliver_webhook, webhook_call
from needleplan.services.portal_links import issue_link_in
from needleplan.storage import Database, UnitOfWork

log = logging.getLogger("needleplan.worker")

WORKER_USERNAME = "worker"


@dataclass
class WorkerReport:
    """What one pass did (counts of messages)."""

    planned: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    lost_lease: int = 0
    released: int = 0  # online bookings whose hold ran out (their slots are free again)
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: WorkerReport) -> None:
        for name in ("planned", "sent", "retried", "failed", "skipped", "deferred", "lost_lease"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sent_ids.extend(other.sent_ids)

    def summary(self) -> str:
        text = (
            f"planned {self.planned}, sent {self.sent}, retried {self.retried}, "
            f"failed {self.failed}, skipped {self.skipped}, deferred {self.deferred}"
        )
        return text + (f", holds released {self.released}" if self.released else "")


# --------------------------------------------------------------------------- quiet hours


def in_quiet_hours(at: datetime, clinic: ClinicConfig) -> bool:
    s = clinic.messages
    t = at.astimezone(clinic.tz).time()
    if s.quiet_start == s.quiet_end:
        return False
    if s.quiet_start < s.quiet_end:
        return s.quiet_start <= t < s.quiet_end
    return t >= s.quiet_start or t < s.quiet_end


def quiet_hours_end(at: datetime, clinic: ClinicConfig) -> datetime:
    """The first instant at or after ``at`` outside the clinic's quiet hours."""
    if not in_quiet_hours(at, clinic):
        return at
    local = at.astimezone(clinic.tz)
    end = datetime.combine(local.date(), clinic.messages.quiet_end, tzinfo=clinic.tz)
    if end <= local:
        end = datetime.combine(
            local.date() + timedelta(days=1), clinic.messages.quiet_end, tzinfo=clinic.tz
        )
    return end


# --------------------------------------------------------------------------- planning


def _plan_one(db: Database, key: str, make: Callable[[UnitOfWork], None]) -> int:
    try:
        with db.transaction() as uow:
            if uow.outbox.has_key(key):
                return 0
            make(uow)
            return 1
    except ConflictError:  # another worker planned it a moment ago
        return 0


def plan_due(db: Database, clinic: ClinicConfig, now: datetime) -> int:
    """Write the reminders and recall outreach due at ``now``; returns how many are new."""
    settings: MessageSettings = clinic.messages
    planned = 0
    horizon = now + timedelta(hours=settings.reminder_hours)
    with db.transaction() as uow:
        upcoming = uow.appointments.between(now, horizon, statuses=(AppointmentStatus.BOOKED,))
        today = now.astimezone(clinic.tz).date()
        recalls = uow.recalls.query(due_by=today, statuses=(RecallStatus.OPEN,))
        keys = [f"reminder:{a.id}:{a.start.isoformat()}" for a in upcoming]
        keys += [f"recall:{r.id}:{n}" for r in recalls for n in (1, 2)]
        planned_keys = uow.outbox.existing_keys(keys)  # one query: most passes plan nothing
        first_sent = {
            r.id: [m for m in uow.outbox.for_recall(r.id) if m.kind is MessageKind.RECALL]
            for r in recalls
            if f"recall:{r.id}:1" in planned_keys and f"recall:{r.id}:2" not in planned_keys
        }
    for appt in upcoming:
        start = appt.start.isoformat()
        if appt.start <= now or f"reminder:{appt.id}:{start}" in planned_keys:
            continue

        def reminder(
            uow: UnitOfWork, a_id: int = appt.id, p_id: int = appt.patient_id, s: str = start
        ) -> None:
            uow.outbox.add(
                MessageKind.REMINDER,
                now,
                patient_id=p_id,
                payload={"appointment_ids": [a_id], "start": s},
                dedupe_key=f"reminder:{a_id}:{s}",
            )

        planned += _plan_one(db, f"reminder:{appt.id}:{start}", reminder)
    for entry in recalls:
        if f"recall:{entry.id}:2" in planned_keys:
            continue
        if f"recall:{entry.id}:1" not in planned_keys:
            key, kind = f"recall:{entry.id}:1", MessageKind.RECALL
        else:
            firsts = first_sent[entry.id]
            if not firsts:
                continue
            first = firsts[0]
            nudge_at = (
                first.sent_at + timedelta(days=settings.recall_nudge_days)
                if first.sent_at is not None
                else None
            )
            if nudge_at is None or nudge_at > now:
                continue
            key, kind = f"recall:{entry.id}:2", MessageKind.RECALL_NUDGE

        def outreach(
            uow: UnitOfWork,
            r_id: int = entry.id,
            p_id: int = entry.patient_id,
            k: MessageKind = kind,
            dk: str = key,
            due: date = entry.due_date,
        ) -> None:
            uow.outbox.add(
                k,
                now,
                patient_id=p_id,
                recall_id=r_id,
                payload={"due_date": due.isoformat()},
                dedupe_key=dk,
            )

        planned += _plan_one(db, key, outreach)
    return planned + plan_surveys(db, settings, now)


#: A survey still goes out this long after it fell due (a worker that was down), never later:
#: a history imported or restored does not send surveys about sessions long past.
SURVEY_GRACE = timedelta(days=14)


def plan_surveys(db: Database, settings: MessageSettings, now: datetime) -> int:
    """The follow-up survey ``survey_weeks`` after a performed session (key ``survey:<id>``),
    unless she had another session since (the survey follows her latest one)."""
    due_by = now - timedelta(weeks=settings.survey_weeks)
    with db.transaction() as uow:
        sessions = uow.surveys.sessions_due(due_by - SURVEY_GRACE, due_by, now)
        planned_keys = uow.outbox.existing_keys([f"survey:{s[0]}" for s in sessions])
    planned = 0
    for session_id, patient_id, course_id, performed_at in sessions:
        key = f"survey:{session_id}"
        if key in planned_keys:
            continue

        def survey(
            uow: UnitOfWork,
            s_id: int = session_id,
            p_id: int = patient_id,
            c_id: int | None = course_id,
            at: datetime = performed_at,
            dk: str = key,
        ) -> None:
            uow.outbox.add(
                MessageKind.SURVEY,
                now,
                patient_id=p_id,
                payload={"session_id": s_id, "course_id": c_id, "performed_at": at.isoformat()},
                dedupe_key=dk,
            )

        planned += _plan_one(db, key, survey)
    return planned


# --------------------------------------------------------------------------- delivery


def _retry_delay(config: MessagingConfig, attempt: int) -> timedelta:
    return timedelta(seconds=config.retry_base_s * 2 ** max(attempt - 1, 0))


def _audit(uow: UnitOfWork, message: OutboxMessage, at: datetime, action: str, detail: str) -> None:
    uow.users.add_audit(
        at, None, WORKER_USERNAME, action, message.patient_id, f"message {message.id} {detail}"
    )


def deliver_one(
    db: Database,
    message_id: int,
    worker: str,
    clinic: ClinicConfig,
    config: MessagingConfig,
    now: datetime,
) -> str:
    """Render (first time), send and record one claimed message; returns what happened."""
    with db.transaction() as uow:
        if not uow.outbox.holds_lease(message_id, worker):
            return "lost_lease"
        message = uow.outbox.get(message_id)
        call = webhook_call(uow, message, now) if message.kind is MessageKind.WEBHOOK else None
    if isinstance(call, str):  # a webhook skipped or failed, the reason on its row
        return call
    if call is not None:  # a webhook to send
        next_try = now + _retry_delay(config, message.attempts + 1)
        return deliver_webhook(db, message, call, worker, config, now, next_try)
    with db.transaction() as uow:
        if not message.rendered:
            try:
                r = render(db, uow, message, clinic, config, now)
            except Skip as skip:
                uow.outbox.finish(
                    message_id, MessageStatus.SKIPPED, now, error=skip.reason, attempted=False
                )
                _audit(uow, message, now, "message.skip", skip.reason[:200])
                return "skipped"
            except (TemplateRenderError, NeedleplanError) as exc:
                uow.outbox.finish(message_id, MessageStatus.FAILED, now, error=str(exc))
                _audit(uow, message, now, "message.fail", "cannot render")
                return "failed"
            message = uow.outbox.set_rendered(
                message_id,
                channel=r.channel,
                recipient=r.recipient,
                message_id_header=r.message_id,
                subject=r.subject,
                body_text=r.body_text,
                body_html=r.body_html,
                attachments=r.attachments,
                unsubscribe_digest=None,
            )
        quiet = message.channel is Channel.SMS or message.kind in (
            MessageKind.REMINDER,
            MessageKind.RECALL,
            MessageKind.RECALL_NUDGE,
            MessageKind.SURVEY,
        )
        if quiet and in_quiet_hours(now, clinic):
            uow.outbox.defer(message_id, quiet_hours_end(now, clinic))
            return "deferred"
        urls = _issue_links(uow, message, config, now)
        confirm = _online_booking_link(uow, message, config, now)
    outgoing = replace(
        message,
        body_text=fill_links(message.body_text or "", urls).replace(ONLINE_BOOKING_MARK, confirm),
        body_html=(
            fill_links(message.body_html, urls).replace(ONLINE_BOOKING_MARK, confirm)
            if message.body_html
            else None
        ),
    )
    try:
        if message.channel is Channel.SMS:
            send_sms(outgoing, config)
        else:
            unsubscribe = urls.get(LinkPurpose.UNSUBSCRIBE)
            if unsubscribe is not None:  # the header keeps the language the body's link has
                text = outgoing.body_text or ""
                lang = re.search(re.escape(unsubscribe) + r"(\?lang=[a-z]{2})", text)
                unsubscribe += lang.group(1) if lang else ""
            send_email(build_email(outgoing, config, clinic.name, unsubscribe), config)
    except DeliveryError as exc:
        with db.transaction() as uow:
            if not uow.outbox.holds_lease(message_id, worker):
                return "lost_lease"
            attempt = message.attempts + 1
            if exc.permanent or attempt >= config.max_attempts:
                uow.outbox.finish(message_id, MessageStatus.FAILED, now, error=exc.reason)
                _audit(uow, message, now, "message.fail", f"after {attempt} attempt(s)")
                return "failed"
            uow.outbox.retry_at(message_id, now + _retry_delay(config, attempt), exc.reason)
            return "retried"
    with db.transaction() as uow:
        uow.outbox.finish(message_id, MessageStatus.SENT, now)
        if message.recall_id is not None:
            entry = uow.recalls.get(message.recall_id, lock=True)
            if entry.status is RecallStatus.OPEN:
                uow.recalls.add_attempt(
                    message.recall_id,
                    now,
                    ContactChannel.SMS if message.channel is Channel.SMS else ContactChannel.EMAIL,
                    ContactOutcome.LEFT_MESSAGE,
                    f"{message.kind.value} message {message.id} sent",
                    None,
                )
        _audit(uow, message, now, "message.send", f"{message.kind.value} by {message.channel}")
    return "sent"


def _issue_links(
    uow: UnitOfWork, message: OutboxMessage, config: MessagingConfig, now: datetime
) -> dict[LinkPurpose, str]:
    """A fresh link for each placeholder in the stored message, issued for this attempt (only
    its digest is stored, with the message's id): the stored text holds no usable link, and a
    link an earlier attempt may have delivered keeps working."""
    urls: dict[LinkPurpose, str] = {}
    if message.patient_id is None:
        return urls
    for purpose in marks_in(message.body_text, message.body_html):
        if purpose is LinkPurpose.CONSENT:  # a consent link names the form she signs
            token, _ = issue_consent_link_in(
                uow,
                message.patient_id,
                str(message.payload.get("consent_kind") or "treatment"),
                at=now,
                message_id=message.id,
            )
            urls[purpose] = link_url(config.public_url, purpose, token)
            continue
        token, _ = issue_link_in(
            uow,
            message.patient_id,
            purpose,
            at=now,
            message_id=message.id,
            recall_id=message.recall_id if purpose is LinkPurpose.BOOK else None,
        )
        urls[purpose] = link_url(config.public_url, purpose, token)
    return urls


def _online_booking_link(
    uow: UnitOfWork, message: OutboxMessage, config: MessagingConfig, now: datetime
) -> str:
    """The confirmation link of an online booking's e-mail, issued for this attempt (its digest
    is stored with the booking; the stored message keeps the placeholder)."""
    if message.kind is not MessageKind.ONLINE_BOOKING:
        return ONLINE_BOOKING_MARK
    token = new_secret(32)
    booking_id = int(message.payload.get("booking_id", 0))
    uow.online_bookings.add_link(secret_digest(token), booking_id, now, message.id)
    return online_booking_url(config.public_url, token)


def deliver_due(
    db: Database,
    clinic: ClinicConfig,
    config: MessagingConfig,
    now: datetime,
    *,
    batch: int = 50,
    worker: str | None = None,
) -> WorkerReport:
    """Claim and deliver due messages in batches until none is left that this pass may take."""
    report = WorkerReport()
    name = worker or uuid.uuid4().hex
    seen: set[int] = set()
    while True:
        lease = now + timedelta(seconds=config.lease_s)
        # A fresh token per batch: rows this pass retried or deferred are not claimed again.
        token = f"{name[:40]}:{uuid.uuid4().hex[:16]}"
        try:
            with db.transaction() as uow:
                ids = [i for i in uow.outbox.claim(now, token, lease, batch) if i not in seen]
        except ConflictError:
            continue
        if not ids:
            return report
        for message_id in ids:
            seen.add(message_id)
            outcome = deliver_one(db, message_id, token, clinic, config, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "sent":
                report.sent_ids.append(message_id)


def run_once(
    db: Database,
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
    config: MessagingConfig | None = None,
    batch: int = 50,
    worker: str | None = None,
) -> WorkerReport:
    """Plan and deliver everything due at ``now`` (default: the clock), then return."""
    at = aware(now, "now") if now is not None else utc_now()
    cfg = config or MessagingConfig.from_env()
    from needleplan.services.online_booking import release_expired_holds

    report = WorkerReport(planned=plan_due(db, clinic, at))
    report.released = len(release_expired_holds(db, at))
    report.add(deliver_due(db, clinic, cfg, at, batch=batch, worker=worker))
    beat(db, worker or "once")
    return report


def beat(db: Database, worker: str) -> None:
    """Record that ``worker`` finished a pass now (``/readyz`` checks the newest heartbeat)."""
    with db.transaction() as uow:
        uow.heartbeats.beat(worker[:64], utc_now())


def last_heartbeat(db: Database) -> datetime | None:
    """When any worker last finished a pass, or None when none ever did."""
    with db.transaction() as uow:
        return uow.heartbeats.latest()


def run_forever(
    db: Database,
    clinic_of: Callable[[], ClinicConfig],
    stop: threading.Event,
    *,
    interval_s: float = 30.0,
    config: MessagingConfig | None = None,
) -> None:
    """Pass after pass every ``interval_s`` until ``stop`` is set (``needleplan worker``).

    ``clinic_of`` is called before each pass, so a newly saved clinic calendar (reminder hours,
    quiet hours) applies without a restart. Each pass also deletes the contact requests older
    than the clinic's ``lead_retention_days`` (:func:`needleplan.services.leads.purge_leads`).
    A pass that fails is logged and the loop goes on.
    """
    from needleplan.services.data_rights import run_retention
    from needleplan.services.leads import purge_leads

    cfg = config or MessagingConfig.from_env()
    name = f"worker-{uuid.uuid4().hex[:8]}"
    retention_day = None
    while not stop.is_set():
        try:
            clinic = clinic_of()
            report = run_once(db, clinic, config=cfg, worker=name)
            purged = purge_leads(db, clinic.lead_retention_days)
            if purged:
                log.info("contact requests past retention deleted: %d", purged)
            if report.planned or report.sent or report.failed or report.retried or report.released:
                log.info("messages: %s", report.summary())
            today = utc_now().date()
            if retention_day != today:  # the retention rules, once a day
                retention_day = today
                log.info("retention: %s", run_retention(db).summary())
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("message worker pass failed")
        stop.wait(interval_s)


__all__ = [
    "WorkerReport",
    "beat",
    "deliver_due",
    "deliver_one",
    "in_quiet_hours",
    "last_heartbeat",
    "plan_due",
    "quiet_hours_end",
    "run_forever",
    "run_once",
]

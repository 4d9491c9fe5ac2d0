"""From an outbox row to the message she receives: who may get it, on which channel, its text.

Templates are Jinja2 files per kind in ``templates/``: ``<kind>.txt`` holds three blocks
(``subject``, ``text``, ``sms``) and ``<kind>.html`` the HTML part (autoescaped). Undefined
placeholders raise, so a broken template fails the message with the placeholder named instead of
sending a half-filled text.

Links (her portal, booking her maintenance visit, unsubscribe) are rendered as placeholders
(:data:`LINK_MARKS`): the stored message never holds a usable link. The worker issues each link
when it sends (:func:`needleplan.services.messaging.worker.deliver_one`) and puts it in place of
its placeholder in the copy that leaves; only the link's digest is kept.

Messages are written in her language (docs/languages.md): the language on her record, or the
language of the page she wrote from for a contact acknowledgement, else the clinic's
``default_language``; the templates mark
their texts for gettext and dates are formatted by Babel for that language.

Consent rules (docs/messages.md): care messages need an e-mail address or a phone number;
outreach (recall, the follow-up survey) needs contact consent and no opt-out, and recall an
open recall entry. A message that
may not be sent is *skipped* with the reason, which the message log shows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from needleplan import i18n
from needleplan.domain.contact import normalise_phone
from needleplan.domain.messages import Attachment, Channel, MessageKind, OutboxMessage
from needleplan.domain.portal import LinkPurpose
from needleplan.domain.records import Appointment, AppointmentStatus, RecallStatus
from needleplan.exceptions import NeedleplanError
from needleplan.scheduling import ClinicConfig, course_ics
from needleplan.services._secrets import secret_digest
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.texts import (
    TEMPLATES,
    TemplateRenderError,
    render_texts,
    template_name,
)
from needleplan.storage import Database, UnitOfWork

#: The placeholder of each link in a stored message, and the purpose of the link that replaces
#: it when the message is sent. No placeholder is a usable link.
LINK_MARKS: dict[str, LinkPurpose] = {
    "[[portal-link]]": LinkPurpose.PORTAL,
    "[[book-link]]": LinkPurpose.BOOK,
    "[[unsubscribe-link]]": LinkPurpose.UNSUBSCRIBE,
    "[[intake-link]]": LinkPurpose.INTAKE,
    "[[consent-link]]": LinkPurpose.CONSENT,
    "[[survey-link]]": LinkPurpose.SURVEY,
}
_MARK_OF = {purpose: mark for mark, purpose in LINK_MARKS.items()}

#: The kinds that carry her portal link (see her plan, confirm, cancel, reschedule).
PORTAL_KINDS = (
    MessageKind.COURSE_BOOKED,
    MessageKind.VISIT_BOOKED,
    MessageKind.DATES_CHANGED,
    MessageKind.VISIT_CANCELLED,
    MessageKind.REMINDER,
)


def link_url(public_url: str, purpose: LinkPurpose, token: str) -> str:
    """The address a link of ``purpose`` with ``token`` opens."""
    if purpose is LinkPurpose.UNSUBSCRIBE:
        return f"{public_url}/unsubscribe/{token}"
    if purpose is LinkPurpose.PORTAL:
        return f"{public_url}/p/{token}"
    return f"{public_url}/p/{token}/{purpose.value}"


def marks_in(*texts: str | None) -> list[LinkPurpose]:
    """The purposes whose placeholders occur in ``texts`` (in :data:`LINK_MARKS` order)."""
    return [p for mark, p in LINK_MARKS.items() if any(t and mark in t for t in texts)]


def fill_links(text: str, urls: dict[LinkPurpose, str]) -> str:
    """``text`` with each placeholder replaced by its link."""
    for purpose, url in urls.items():
        text = text.replace(_MARK_OF[purpose], url)
    return text


class Skip(Exception):  # noqa: N818 - a decision, not an error
    """The message must not be sent; ``reason`` goes to the message log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rendered:
    channel: Channel
    recipient: str
    message_id: str
    subject: str
    body_text: str
    body_html: str | None
    attachments: tuple[Attachment, ...]


def _visits(
    uow: UnitOfWork, appointments: list[Appointment], clinic: ClinicConfig, language: str
) -> list[dict[str, str]]:
    """Her visits on the clinic's wall clock, dates written as ``language`` writes them."""
    names = {p.id: p.name for p in uow.clinics.practitioners()} if appointments else {}
    return [
        {
            "when": i18n.format_datetime(a.start.astimezone(clinic.tz), language),
            "day": i18n.format_datetime(a.start.astimezone(clinic.tz), language, "weekday_day"),
            "practitioner": names.get(a.practitioner_id, ""),
        }
        for a in sorted(appointments, key=lambda a: a.start)
    ]


def message_language(
    message: OutboxMessage, clinic: ClinicConfig, preferred: str | None = None
) -> str:
    """The language she reads: her own (``preferred``, from her record) or, for a contact
    request, the language of the page she wrote from, when the clinic offers it; else the
    clinic's default language."""
    asked = preferred or message.payload.get("language")
    if isinstance(asked, str) and asked in clinic.languages:
        return asked
    return clinic.default_language


def render(
    db: Database,
    uow: UnitOfWork,
    message: OutboxMessage,
    clinic: ClinicConfig,
    config: MessagingConfig,
    now: datetime,
) -> Rendered:
    """The message to send at ``now``, or :class:`Skip` (with the reason) or
    :class:`TemplateRenderError`. Confirmations and change notices list the visits still to
    come (a course stored after the fact, e.g. the demo clinic, confirms nothing past)."""
    kind = message.kind
    preferred = uow.patients.language(message.patient_id) if message.patient_id else None
    language = message_language(message, clinic, preferred)
    context: dict[str, Any] = {
        "lang": language,
        "clinic": {"name": clinic.name, "location": clinic.location},
        "unsubscribe_url": None,
        "portal_url": _MARK_OF[LinkPurpose.PORTAL] if kind in PORTAL_KINDS else None,
        "book_url": None,
        "survey_url": None,
        "nudge": kind is MessageKind.RECALL_NUDGE,
        "has_ics": False,
        "intake_url": _MARK_OF[LinkPurpose.INTAKE] if kind is MessageKind.INTAKE_LINK else None,
        "consent_url": _MARK_OF[LinkPurpose.CONSENT] if kind is MessageKind.CONSENT_LINK else None,
        "consent_kind": str(message.payload.get("consent_kind") or ""),
    }
    email: str | None
    phone: str | None
    if kind is MessageKind.CONTACT_ACK:
        email = str(message.payload.get("email") or "") or None
        phone = str(message.payload.get("phone") or "") or None
        context["name"] = str(message.payload.get("name") or "")
    elif kind is MessageKind.ONLINE_BOOKING:
        email, phone = _online_booking(uow, message, clinic, language, now, context), None
    else:
        if message.patient_id is None:
            raise Skip("the message names no patient")
        patient = uow.patients.get(message.patient_id)
        email, phone = patient.email, patient.phone
        context["patient"] = {"given_name": patient.given_name}
        if kind.is_outreach:
            if not patient.consent_contact:
                raise Skip("no contact consent: recall messages need her consent")
            since = uow.outbox.opted_out(patient.id)
            if since is not None:
                raise Skip(f"opted out of recall messages on {since.date().isoformat()}")
    attachments: list[Attachment] = []
    if kind in (
        MessageKind.COURSE_BOOKED,
        MessageKind.VISIT_BOOKED,
        MessageKind.DATES_CHANGED,
        MessageKind.VISIT_CANCELLED,
        MessageKind.REMINDER,
    ):
        appointments = _appointments(uow, message)
        if kind is MessageKind.REMINDER:
            appt = appointments[0]
            if appt.status is not AppointmentStatus.BOOKED:
                raise Skip(f"the visit is {appt.status.value}; no reminder")
            if appt.start.isoformat() != message.payload.get("start"):
                raise Skip("the visit moved; its new time gets its own reminder")
        elif kind is not MessageKind.VISIT_CANCELLED:
            appointments = [
                a for a in appointments if a.status is AppointmentStatus.BOOKED and a.start > now
            ]
            if not appointments:
                raise Skip("none of its visits is booked and still to come")
        context["visits"] = _visits(uow, appointments, clinic, language)
        course_id = message.payload.get("course_id")
        if kind in (MessageKind.COURSE_BOOKED, MessageKind.DATES_CHANGED) and course_id:
            attachments.append(_course_ics(db, int(course_id), clinic, message.created_at))
            context["has_ics"] = True
    if kind.is_recall:
        if message.recall_id is None:
            raise Skip("the message names no recall entry")
        entry = uow.recalls.get(message.recall_id)
        if entry.status is not RecallStatus.OPEN:
            raise Skip(f"the recall entry is {entry.status.value}")
        context["due"] = i18n.format_date(entry.due_date, language)
    if kind is MessageKind.SURVEY:
        performed = str(message.payload.get("performed_at") or "")
        try:
            day = datetime.fromisoformat(performed).astimezone(clinic.tz).date()
        except ValueError:
            raise Skip("the survey names no session") from None
        context["session_day"] = i18n.format_date(day, language)
    channel, recipient = _channel(email, phone, config)
    if kind.is_outreach:
        # her language travels with the link, so the unsubscribe page speaks it too
        context["unsubscribe_url"] = f"{_MARK_OF[LinkPurpose.UNSUBSCRIBE]}?lang={language}"
        if kind.is_recall:
            context["book_url"] = _MARK_OF[LinkPurpose.BOOK]
        else:
            context["survey_url"] = _MARK_OF[LinkPurpose.SURVEY]
    from needleplan.services.messaging.clinic_templates import custom_texts

    custom = custom_texts(uow, kind, context)  # the clinic's own wording, when it has one
    subject, text, sms, html = custom if custom is not None else render_texts(kind, context)
    if channel is Channel.SMS:
        text, html, attachments = sms + "\n", "", []
    return Rendered(
        channel=channel,
        recipient=recipient,
        message_id=f"<needleplan.{message.id}.{uuid.uuid4().hex}@{config.mail_domain}>",
        subject=subject,
        body_text=text,
        body_html=html or None,
        attachments=tuple(attachments),
    )


#: The placeholder of the confirmation link in an online booking's e-mail (the worker issues
#: the link when it sends: :func:`needleplan.services.messaging.worker.deliver_one`).
ONLINE_BOOKING_MARK = "[[online-booking-link]]"


def online_booking_url(public_url: str, token: str) -> str:
    """The address of the page where she confirms the consultation she booked online."""
    return f"{public_url}/book/confirm/{token}"


def _online_booking(
    uow: UnitOfWork,
    message: OutboxMessage,
    clinic: ClinicConfig,
    language: str,
    now: datetime,
    context: dict[str, Any],
) -> str:
    """Fill ``context`` for the double opt-in e-mail; returns her address. Only by e-mail: the
    link proves she reads that mailbox. Skipped once the hold is over (nothing to confirm)."""
    from needleplan.domain.online_booking import OnlineBookingStatus

    booking = uow.online_bookings.get(int(message.payload.get("booking_id", 0)))
    if booking.status is not OnlineBookingStatus.HELD or booking.hold_until <= now:
        raise Skip(f"online booking {booking.id} is no longer held; nothing to confirm")
    names = {p.id: p.name for p in uow.clinics.practitioners()}
    local = booking.start.astimezone(clinic.tz)
    context["name"] = booking.given_name
    context["visits"] = [
        {
            "when": i18n.format_datetime(local, language),
            "day": i18n.format_datetime(local, language, "weekday_day"),
            "practitioner": names.get(booking.practitioner_id, ""),
        }
    ]
    context["until"] = i18n.format_datetime(booking.hold_until.astimezone(clinic.tz), language)
    context["confirm_url"] = ONLINE_BOOKING_MARK
    return booking.email


def unsubscribe_digest(secret: str) -> str:
    return secret_digest(secret)


def _appointments(uow: UnitOfWork, message: OutboxMessage) -> list[Appointment]:
    ids = [int(i) for i in message.payload.get("appointment_ids", [])]
    if not ids and message.payload.get("course_id"):
        return uow.appointments.for_course(int(message.payload["course_id"]))
    if not ids:
        raise Skip("the message names no visit")
    return [uow.appointments.get(i) for i in ids]


def _course_ics(db: Database, course_id: int, clinic: ClinicConfig, stamp: datetime) -> Attachment:
    from needleplan.services.rescheduling import course_schedule

    try:
        schedule = course_schedule(db, course_id, clinic)
    except NeedleplanError as exc:
        raise Skip(f"course {course_id} has no calendar to send ({exc})") from None
    return Attachment("course.ics", "text/calendar", course_ics(schedule, stamp=stamp))


def _channel(email: str | None, phone: str | None, config: MessagingConfig) -> tuple[Channel, str]:
    if email:
        return Channel.EMAIL, email
    if phone:
        try:
            return Channel.SMS, normalise_phone(phone)
        except ValueError as exc:
            raise Skip(f"the phone number {phone!r} {exc}") from None
    raise Skip("no e-mail address or phone number on file")


__all__ = [
    "LINK_MARKS",
    "ONLINE_BOOKING_MARK",
    "PORTAL_KINDS",
    "TEMPLATES",
    "Rendered",
    "Skip",
    "TemplateRenderError",
    "fill_links",
    "link_url",
    "marks_in",
    "message_language",
    "online_booking_url",
    "render",
    "render_texts",
    "template_name",
    "unsubscribe_digest",
]

"""The one call a use-case makes when its change should reach the patient.

Each function writes outbox rows in the caller's unit of work, so the message exists exactly when
the change does (the transactional outbox): a booking that rolls back leaves no confirmation, and
a committed one always has its message, whatever happens to the mail server afterwards. Nothing
here renders or sends; the worker does that (:mod:`needleplan.services.messaging.worker`), so an
unreachable SMTP server or a template problem can never fail a booking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from needleplan.domain.messages import MessageKind
from needleplan.domain.records import Appointment, Lead
from needleplan.services._clock import utc_now
from needleplan.storage import UnitOfWork


def notify_course_booked(uow: UnitOfWork, course_id: int, at: datetime | None = None) -> None:
    """A booking confirmation with the course's ``.ics`` (sessions as booked)."""
    course = uow.courses.get(course_id)
    uow.outbox.add(
        MessageKind.COURSE_BOOKED,
        at or utc_now(),
        patient_id=course.patient_id,
        payload={"course_id": course_id},
    )


def notify_visit_booked(uow: UnitOfWork, appointment_id: int, at: datetime | None = None) -> None:
    """A confirmation of one booked visit (a session added to a course, a maintenance visit)."""
    appt = uow.appointments.get(appointment_id)
    uow.outbox.add(
        MessageKind.VISIT_BOOKED,
        at or utc_now(),
        patient_id=appt.patient_id,
        payload={"appointment_ids": [appointment_id], "course_id": appt.course_id},
    )


def notify_dates_changed(
    uow: UnitOfWork, appointments: Iterable[Appointment], at: datetime | None = None
) -> None:
    """One change notice per patient whose visits moved (a move, a rebook, a re-plan)."""
    by_patient: dict[int, list[Appointment]] = {}
    for a in appointments:
        by_patient.setdefault(a.patient_id, []).append(a)
    when = at or utc_now()
    for patient_id, moved in sorted(by_patient.items()):
        courses = sorted({a.course_id for a in moved if a.course_id is not None})
        uow.outbox.add(
            MessageKind.DATES_CHANGED,
            when,
            patient_id=patient_id,
            payload={
                "appointment_ids": sorted(a.id for a in moved),
                "course_id": courses[0] if len(courses) == 1 else None,
            },
        )


def notify_cancelled(uow: UnitOfWork, appointment_id: int, at: datetime | None = None) -> None:
    """A cancellation notice for one visit."""
    appt = uow.appointments.get(appointment_id)
    uow.outbox.add(
        MessageKind.VISIT_CANCELLED,
        at or utc_now(),
        patient_id=appt.patient_id,
        payload={"appointment_ids": [appointment_id]},
    )


def notify_contact_request(uow: UnitOfWork, lead: Lead, at: datetime | None = None) -> None:
    """The acknowledgement of a contact request from the public estimator."""
    uow.outbox.add(
        MessageKind.CONTACT_ACK,
        at or utc_now(),
        payload={
            "lead": lead.public_id,
            "name": lead.name,
            "email": lead.email,
            "phone": lead.phone,
            "language": lead.language,
        },
    )


def notify_intake_link(uow: UnitOfWork, patient_id: int, at: datetime | None = None) -> None:
    """A message with a link to her pre-visit questionnaire (the worker issues the link when
    it sends, so the stored message holds none)."""
    uow.patients.get(patient_id)
    uow.outbox.add(MessageKind.INTAKE_LINK, at or utc_now(), patient_id=patient_id, payload={})


def notify_consent_link(
    uow: UnitOfWork, patient_id: int, kind: str, at: datetime | None = None
) -> None:
    """A message with a link to sign her ``kind`` consent form at home (the worker issues the
    link, for that kind, when it sends)."""
    uow.patients.get(patient_id)
    uow.outbox.add(
        MessageKind.CONSENT_LINK,
        at or utc_now(),
        patient_id=patient_id,
        payload={"consent_kind": kind},
    )


__all__ = [
    "notify_cancelled",
    "notify_consent_link",
    "notify_contact_request",
    "notify_course_booked",
    "notify_dates_changed",
    "notify_intake_link",
    "notify_visit_booked",
]

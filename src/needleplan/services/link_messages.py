"""Sending her the intake or the consent link by message, from the buttons on her page.

The message is written to the outbox in the same transaction as the staff action and its audit
event (``portal.link.send``, contacts permission), in its own kind (``intake_link``,
``consent_link``), and goes out in her language like every patient message. The link itself is
issued by the worker when it sends (:func:`needleplan.services.messaging.worker.deliver_one`):
the stored message never holds a usable link, only the digest of the one that left is kept,
with the message's id (docs/messages.md). A consent link names the form she signs
(:mod:`needleplan.services.consent_links`).

A patient without an e-mail address or a phone number is refused at once (``StateError``), so
staff see it on her page instead of a skipped message later.
"""

from __future__ import annotations

from needleplan.domain.consent_forms import ConsentKind, parse_kind
from needleplan.domain.records import User
from needleplan.exceptions import StateError
from needleplan.services.audit import audited
from needleplan.services.messaging.enqueue import notify_consent_link, notify_intake_link
from needleplan.storage import Database, UnitOfWork


def _reachable(uow: UnitOfWork, patient_id: int) -> None:
    patient = uow.patients.get(patient_id)
    if not (patient.email or patient.phone):
        raise StateError(
            f"patient {patient_id} has no e-mail address or phone number: add one to her "
            "record, or make a link and give it to her"
        )


def send_intake_link(db: Database, actor: User | None, patient_id: int) -> None:
    """Queue a message with a link to her questionnaire (audited ``portal.link.send``)."""
    with audited(db, actor, "portal.link.send", patient_id, "intake"), db.transaction() as uow:
        _reachable(uow, patient_id)
        notify_intake_link(uow, patient_id)


def send_consent_link(
    db: Database, actor: User | None, patient_id: int, kind: ConsentKind | str
) -> None:
    """Queue a message with a link to sign her ``kind`` consent form at home (audited
    ``portal.link.send``)."""
    parsed = parse_kind(kind)
    detail = f"consent kind={parsed.value}"
    with audited(db, actor, "portal.link.send", patient_id, detail), db.transaction() as uow:
        _reachable(uow, patient_id)
        notify_consent_link(uow, patient_id, parsed.value)


__all__ = ["send_consent_link", "send_intake_link"]

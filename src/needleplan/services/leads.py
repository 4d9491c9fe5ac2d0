"""Contact requests from the public estimator (stored only with consent), and what staff do
with them: mark one handled, convert one into a patient, delete one on request, and delete
every request older than the clinic's retention period (:func:`purge_leads`).

Each change acts as a named account (or the system, for the scheduled purge) and writes its
audit event in the same transaction (:func:`needleplan.services.audit.audited`). The audit
detail names the request by its public id and never carries the visitor's name or contacts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from needleplan.domain.records import Lead, LeadStatus, User
from needleplan.exceptions import InputError, StateError
from needleplan.services._clock import aware, utc_now
from needleplan.services.audit import audited
from needleplan.services.messaging import enqueue as messages
from needleplan.storage import Database

#: How long a contact request is kept when the clinic sets nothing [days].
DEFAULT_RETENTION_DAYS = 180


def add_lead(db: Database, lead: Lead) -> None:
    """Store a consented contact request from the public estimator."""
    if not lead.consent_text.strip():
        raise InputError.one("consent", False, "a lead is stored only with the consent text")
    with db.transaction() as uow:
        uow.leads.add(lead)
        messages.notify_contact_request(uow, lead)


def list_leads(db: Database) -> list[Lead]:
    """Every stored contact request, oldest first, with what staff did with it."""
    with db.transaction() as uow:
        return uow.leads.all()


def get_lead(db: Database, public_id: str) -> Lead:
    """One contact request (``NotFoundError`` when there is none, or it was deleted)."""
    with db.transaction() as uow:
        return uow.leads.get(_public_id(public_id))


def _public_id(value: str) -> str:
    text = str(value).strip()
    if not (1 <= len(text) <= 32 and text.isascii() and text.isalnum()):
        raise InputError.one("lead", value[:40], "must be a contact request's id (letters, digits)")
    return text


def mark_lead_handled(db: Database, actor: User, public_id: str) -> Lead:
    """Staff answered the request: it leaves the "new" list (audited ``lead.handled``)."""
    key = _public_id(public_id)
    with audited(db, actor, "lead.handled", None, f"lead {key}"), db.transaction() as uow:
        lead = uow.leads.get(key)
        if lead.status == LeadStatus.CONVERTED:
            raise StateError(f"contact request {key} was already converted into a patient")
        return uow.leads.set_state(key, LeadStatus.HANDLED, utc_now(), actor.username)


def link_lead_to_patient(db: Database, actor: User, public_id: str, patient_id: int) -> Lead:
    """Record that the request became patient ``patient_id`` (call it inside the registration's
    audited block so both are stored or neither; audited ``lead.convert`` for that patient)."""
    key = _public_id(public_id)
    with (
        audited(db, actor, "lead.convert", patient_id, f"lead {key}"),
        db.transaction() as uow,
    ):
        lead = uow.leads.get(key)
        if lead.status == LeadStatus.CONVERTED:
            raise StateError(f"contact request {key} was already converted into a patient")
        uow.patients.get(patient_id)
        return uow.leads.set_state(key, LeadStatus.CONVERTED, utc_now(), actor.username, patient_id)


def registration_draft(lead: Lead) -> dict[str, str]:
    """The registration form's fields prefilled from a request: the name split at its last
    space (given, family), e-mail and phone. Staff check them before registering."""
    given, _, family = lead.name.strip().rpartition(" ")
    if not given:
        given, family = family, ""
    return {"given_name": given, "family_name": family, "email": lead.email, "phone": lead.phone}


def delete_lead(db: Database, actor: User, public_id: str) -> None:
    """Delete the request on the visitor's request (audited ``lead.delete``; the event keeps
    only the request's id)."""
    key = _public_id(public_id)
    with audited(db, actor, "lead.delete", None, f"lead {key}"), db.transaction() as uow:
        uow.leads.delete(key)


def purge_leads(
    db: Database,
    retention_days: int,
    *,
    actor: User | None = None,
    username: str = "system",
    now: datetime | None = None,
) -> int:
    """Delete every request received more than ``retention_days`` ago; how many. Audited as
    ``lead.purge`` (by ``actor``, else ``username``) with the count and the cutoff; when there
    is nothing to delete, nothing is written (the worker calls this on every pass)."""
    if isinstance(retention_days, bool) or not 1 <= retention_days <= 3650:
        raise InputError.one("lead_retention_days", retention_days, "must be 1-3650 days")
    cutoff = aware(now, "now") - timedelta(days=retention_days)
    with db.transaction() as uow:
        if uow.leads.count_before(cutoff) == 0:
            return 0
    with (
        audited(db, actor, "lead.purge", username=username) as note,
        db.transaction() as uow,
    ):
        count = uow.leads.purge_before(cutoff)
        note.detail = f"deleted={count} received before {cutoff.isoformat(timespec='seconds')}"
    return count

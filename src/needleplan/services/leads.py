"""Contact requests from the public estimator (stored only with consent)."""

from __future__ import annotations

from typing import TypeVar

from needleplan.domain.records import (
    Lead,
)
from needleplan.exceptions import (
    InputError,
)
from needleplan.services.messaging import enqueue as messages
from needleplan.storage import Database

T = TypeVar("T")


def add_lead(db: Database, lead: Lead) -> None:
    """Store a consented contact request from the public estimator."""
    if not lead.consent_text.strip():
        raise InputError.one("consent", False, "a lead is stored only with the consent text")
    with db.transaction() as uow:
        uow.leads.add(lead)
        messages.notify_contact_request(uow, lead)


def list_leads(db: Database) -> list[Lead]:
    """Every stored contact request, oldest first."""
    with db.transaction() as uow:
        return uow.leads.all()

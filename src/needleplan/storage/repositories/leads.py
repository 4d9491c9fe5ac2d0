"""Leads: visitors of the public estimator who asked to be contacted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    Lead,
)
from needleplan.storage.tables import (
    LeadRow,
)


class LeadRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, lead: Lead) -> None:
        self.session.add(
            LeadRow(
                public_id=lead.public_id,
                name=lead.name,
                email=lead.email,
                phone=lead.phone,
                message=lead.message,
                estimate_summary=lead.estimate_summary,
                consent_text=lead.consent_text,
                consented_at=lead.consented_at,
            )
        )
        self.session.flush()

    def all(self) -> list[Lead]:
        rows = self.session.execute(select(LeadRow).order_by(LeadRow.id)).scalars()
        return [
            Lead(
                public_id=r.public_id,
                name=r.name,
                email=r.email,
                phone=r.phone,
                message=r.message,
                estimate_summary=r.estimate_summary,
                consent_text=r.consent_text,
                consented_at=r.consented_at,
            )
            for r in rows
        ]

"""Leads: visitors of the public estimator who asked to be contacted, and what staff did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    Lead,
)
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import (
    LeadRow,
    LeadStateRow,
)


def _lead(row: LeadRow, state: LeadStateRow | None) -> Lead:
    return Lead(
        public_id=row.public_id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        message=row.message,
        estimate_summary=row.estimate_summary,
        consent_text=row.consent_text,
        consented_at=row.consented_at,
        status=state.status if state is not None else "new",
        changed_at=state.changed_at if state is not None else None,
        changed_by=state.changed_by if state is not None else "",
        patient_id=state.patient_id if state is not None else None,
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
        rows = self.session.execute(
            select(LeadRow, LeadStateRow)
            .outerjoin(LeadStateRow, LeadStateRow.lead_id == LeadRow.id)
            .order_by(LeadRow.id)
        ).all()
        return [_lead(r, s) for r, s in rows]

    def _row(self, public_id: str) -> LeadRow:
        row = self.session.execute(
            select(LeadRow).where(LeadRow.public_id == public_id)
        ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no contact request {public_id[:40]}")
        return row

    def get(self, public_id: str) -> Lead:
        """The contact request with its state (``NotFoundError`` when there is none)."""
        row = self._row(public_id)
        return _lead(row, self.session.get(LeadStateRow, row.id))

    def set_state(
        self,
        public_id: str,
        status: str,
        at: datetime,
        by: str,
        patient_id: int | None = None,
    ) -> Lead:
        row = self._row(public_id)
        state = self.session.get(LeadStateRow, row.id)
        if state is None:
            state = LeadStateRow(lead_id=row.id)
            self.session.add(state)
        state.status, state.changed_at, state.changed_by = status, at, by[:40]
        state.patient_id = patient_id
        self.session.flush()
        return _lead(row, state)

    def delete(self, public_id: str) -> None:
        """Delete the request and its state (``NotFoundError`` when there is none)."""
        row = self._row(public_id)
        self.session.execute(delete(LeadStateRow).where(LeadStateRow.lead_id == row.id))
        self.session.delete(row)
        self.session.flush()

    def count_before(self, cutoff: datetime) -> int:
        """How many requests arrived before ``cutoff``."""
        return int(
            self.session.execute(
                select(func.count()).select_from(LeadRow).where(LeadRow.consented_at < cutoff)
            ).scalar_one()
        )

    def purge_before(self, cutoff: datetime) -> int:
        """Delete every request received before ``cutoff`` (and its state); how many."""
        old = select(LeadRow.id).where(LeadRow.consented_at < cutoff)
        self.session.execute(delete(LeadStateRow).where(LeadStateRow.lead_id.in_(old)))
        result = self.session.execute(delete(LeadRow).where(LeadRow.consented_at < cutoff))
        self.session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

"""Portal links (stored as token digests) and the call-back requests made through them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from needleplan.domain.portal import CallbackRequest, LinkPurpose, PortalLink
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import CallbackRequestRow, PortalLinkRow, VisitConfirmationRow


def _link(row: PortalLinkRow) -> PortalLink:
    return PortalLink(
        id=row.id,
        purpose=LinkPurpose(row.purpose),
        patient_id=row.patient_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        message_id=row.message_id,
        recall_id=row.recall_id,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        last_used_at=row.last_used_at,
        uses=row.uses,
    )


def _callback(row: CallbackRequestRow) -> CallbackRequest:
    return CallbackRequest(
        id=row.id,
        patient_id=row.patient_id,
        created_at=row.created_at,
        note=row.note,
        link_id=row.link_id,
        done_at=row.done_at,
        done_by=row.done_by,
    )


class PortalLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        digest: str,
        purpose: LinkPurpose,
        patient_id: int,
        at: datetime,
        expires_at: datetime,
        *,
        message_id: int | None = None,
        recall_id: int | None = None,
    ) -> PortalLink:
        row = PortalLinkRow(
            token_digest=digest,
            purpose=purpose.value,
            patient_id=patient_id,
            message_id=message_id,
            recall_id=recall_id,
            created_at=at,
            expires_at=expires_at,
            revoked_by="",
            uses=0,
        )
        self.session.add(row)
        self.session.flush()
        return _link(row)

    def get(self, link_id: int) -> PortalLink:
        row = self.session.get(PortalLinkRow, link_id)
        if row is None:
            raise NotFoundError(f"portal link {link_id} not found")
        return _link(row)

    def by_digest(self, digest: str) -> PortalLink | None:
        row = self.session.scalars(
            select(PortalLinkRow).where(PortalLinkRow.token_digest == digest)
        ).one_or_none()
        return None if row is None else _link(row)

    def for_patient(self, patient_id: int, limit: int = 100) -> list[PortalLink]:
        """Her links, newest first."""
        rows = self.session.scalars(
            select(PortalLinkRow)
            .where(PortalLinkRow.patient_id == patient_id)
            .order_by(PortalLinkRow.id.desc())
            .limit(limit)
        )
        return [_link(r) for r in rows]

    def for_message(self, message_id: int) -> list[PortalLink]:
        rows = self.session.scalars(
            select(PortalLinkRow)
            .where(PortalLinkRow.message_id == message_id)
            .order_by(PortalLinkRow.id)
        )
        return [_link(r) for r in rows]

    def used(self, link_id: int, at: datetime) -> None:
        self.session.execute(
            update(PortalLinkRow)
            .where(PortalLinkRow.id == link_id)
            .values(last_used_at=at, uses=PortalLinkRow.uses + 1)
        )

    def revoke(self, link_id: int, at: datetime, by: str) -> PortalLink:
        row = self.session.get(PortalLinkRow, link_id)
        if row is None:
            raise NotFoundError(f"portal link {link_id} not found")
        if row.revoked_at is None:
            row.revoked_at = at
            row.revoked_by = by[:40]
            self.session.flush()
        return _link(row)

    # ----------------------------------------------------------------- call-back requests

    def add_callback(
        self, patient_id: int, at: datetime, note: str, link_id: int | None
    ) -> CallbackRequest:
        row = CallbackRequestRow(
            patient_id=patient_id, link_id=link_id, note=note, created_at=at, done_by=""
        )
        self.session.add(row)
        self.session.flush()
        return _callback(row)

    def open_callbacks(self, patient_id: int | None = None) -> list[CallbackRequest]:
        """Call-back requests nobody has answered yet, oldest first."""
        query = select(CallbackRequestRow).where(CallbackRequestRow.done_at.is_(None))
        if patient_id is not None:
            query = query.where(CallbackRequestRow.patient_id == patient_id)
        return [_callback(r) for r in self.session.scalars(query.order_by(CallbackRequestRow.id))]

    def get_callback(self, request_id: int) -> CallbackRequest:
        row = self.session.get(CallbackRequestRow, request_id)
        if row is None:
            raise NotFoundError(f"call-back request {request_id} not found")
        return _callback(row)

    def close_callback(self, request_id: int, at: datetime, by: str) -> CallbackRequest:
        row = self.session.get(CallbackRequestRow, request_id)
        if row is None:
            raise NotFoundError(f"call-back request {request_id} not found")
        if row.done_at is None:
            row.done_at = at
            row.done_by = by[:40]
            self.session.flush()
        return _callback(row)

    # ----------------------------------------------------------------- visit confirmations

    def confirm_visit(
        self, appointment_id: int, start: datetime, at: datetime, link_id: int | None
    ) -> None:
        row = self.session.get(VisitConfirmationRow, appointment_id)
        if row is None:
            row = VisitConfirmationRow(appointment_id=appointment_id)
            self.session.add(row)
        row.start, row.confirmed_at, row.link_id = start, at, link_id
        self.session.flush()

    def confirmed_starts(self, appointment_ids: list[int]) -> dict[int, datetime]:
        """The start each of these visits was confirmed for (visits never confirmed are absent)."""
        if not appointment_ids:
            return {}
        rows = self.session.scalars(
            select(VisitConfirmationRow).where(
                VisitConfirmationRow.appointment_id.in_(appointment_ids)
            )
        )
        return {r.appointment_id: r.start for r in rows}

"""The audit log: who read or changed which patient record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from needleplan.domain.records import (
    AuditEvent,
)
from needleplan.storage.tables import (
    AuditRow,
)


def to_audit(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        user_id=row.user_id,
        username=row.username,
        action=row.action,
        patient_id=row.patient_id,
        detail=row.detail,
    )


#: Audit detail key of a view that shows several patients: ``... patients=3,17,42`` (ids only,
#: after every other part of the detail but an optional `` user=NAME``).
AUDIT_PATIENTS_KEY = "patients="


def audit_patients_detail(prefix: str, patient_ids: Iterable[int]) -> str:
    """The audit detail of a view listing patients: ``prefix`` then the sorted unique ids."""
    ids = ",".join(str(i) for i in sorted({int(i) for i in patient_ids}))
    return f"{prefix} {AUDIT_PATIENTS_KEY}{ids}".strip()


def audit_about(patient_id: int) -> ColumnElement[bool]:
    """Audit rows about one patient: her own (``patient_id``) and the list views that showed
    her (``patient_id`` empty, her id in the detail's ``patients=`` list)."""
    key = str(int(patient_id))
    mentions = [
        AuditRow.detail.like(f"%{AUDIT_PATIENTS_KEY}{head}{key}{tail}")
        for head in ("", "%,")
        for tail in ("", " %", ",%")
    ]
    return or_(
        AuditRow.patient_id == patient_id,
        and_(AuditRow.patient_id.is_(None), or_(*mentions)),
    )


class AuditQuery:
    """The audit log filtered for the admin page (newest first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        *,
        username: str | None,
        action: str | None,
        patient_id: int | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEvent], int]:
        where: list[Any] = []
        if username:
            where.append(AuditRow.username == username)
        if action:
            where.append(AuditRow.action.startswith(action, autoescape=True))
        if patient_id is not None:
            where.append(audit_about(patient_id))
        if since is not None:
            where.append(AuditRow.at >= since)
        if until is not None:
            where.append(AuditRow.at < until)
        total = self.session.execute(
            select(func.count()).select_from(AuditRow).where(*where)
        ).scalar_one()
        stmt = select(AuditRow).where(*where).order_by(AuditRow.id.desc()).limit(limit)
        rows = self.session.execute(stmt.offset(offset)).scalars()
        return [to_audit(r) for r in rows], int(total)

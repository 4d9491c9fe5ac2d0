"""Consent templates and signed consent forms (tables ``consent_templates``, ``consent_forms``).

Templates are append-only (an edit is the next version). Forms are never deleted: the only
change to a stored form is its withdrawal. Checking input and roles is the services' job
(:mod:`needleplan.services.consent_forms`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from needleplan.domain.consent_forms import (
    ConsentKind,
    ConsentTemplate,
    PhotoUse,
    SignedConsent,
)
from needleplan.domain.consent_texts import SHIPPED, SHIPPED_BY
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import ConsentFormRow, ConsentTemplateRow


def to_template(row: ConsentTemplateRow) -> ConsentTemplate:
    return ConsentTemplate(
        id=row.id,
        kind=ConsentKind(row.kind),
        version=row.version,
        title=row.title,
        body=row.body,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def to_form(row: ConsentFormRow) -> SignedConsent:
    return SignedConsent(
        id=row.id,
        patient_id=row.patient_id,
        kind=ConsentKind(row.kind),
        template_id=row.template_id,
        template_version=row.template_version,
        uses=frozenset(PhotoUse(u) for u in row.uses.split(",") if u),
        signer_name=row.signer_name,
        signed_at=row.signed_at,
        device=row.device,
        sha256=row.sha256,
        recorded_by=row.recorded_by,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by,
        withdrawn_reason=row.withdrawn_reason,
    )


class ConsentFormRepository:
    """Reads and appends consent templates and forms inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # templates ---------------------------------------------------------------------------
    def _seed(self, kind: ConsentKind, at: datetime) -> None:
        """Write the shipped text as version 1 of ``kind`` when the records hold none yet."""
        if self.session.scalar(select(func.count()).where(ConsentTemplateRow.kind == kind.value)):
            return
        title, body = SHIPPED[kind]
        self.session.add(
            ConsentTemplateRow(
                kind=kind.value,
                version=1,
                title=title,
                body=body,
                created_at=at,
                created_by=SHIPPED_BY,
            )
        )
        self.session.flush()

    def latest_template(self, kind: ConsentKind, at: datetime) -> ConsentTemplate:
        """The newest version of ``kind`` (the shipped text, written as version 1 at ``at``,
        when there is none)."""
        self._seed(kind, at)
        row = self.session.scalars(
            select(ConsentTemplateRow)
            .where(ConsentTemplateRow.kind == kind.value)
            .order_by(ConsentTemplateRow.version.desc())
            .limit(1)
        ).one()
        return to_template(row)

    def template(self, kind: ConsentKind, version: int) -> ConsentTemplate:
        row = self.session.scalars(
            select(ConsentTemplateRow).where(
                ConsentTemplateRow.kind == kind.value, ConsentTemplateRow.version == version
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no consent template {kind.value} version {version}")
        return to_template(row)

    def templates(self, kind: ConsentKind, at: datetime) -> list[ConsentTemplate]:
        """Every version of ``kind``'s template, newest first."""
        self._seed(kind, at)
        rows = self.session.scalars(
            select(ConsentTemplateRow)
            .where(ConsentTemplateRow.kind == kind.value)
            .order_by(ConsentTemplateRow.version.desc())
        )
        return [to_template(r) for r in rows]

    def add_template(
        self, kind: ConsentKind, title: str, body: str, at: datetime, by: str
    ) -> ConsentTemplate:
        """Append the next version of ``kind``'s template (the unique (kind, version) makes two
        concurrent saves of the same version a conflict, not a duplicate)."""
        self._seed(kind, at)
        last = self.session.scalar(
            select(func.max(ConsentTemplateRow.version)).where(
                ConsentTemplateRow.kind == kind.value
            )
        )
        row = ConsentTemplateRow(
            kind=kind.value,
            version=(last or 0) + 1,
            title=title,
            body=body,
            created_at=at,
            created_by=by,
        )
        self.session.add(row)
        self.session.flush()
        return to_template(row)

    # forms -------------------------------------------------------------------------------
    def add_form(
        self,
        patient_id: int,
        template: ConsentTemplate,
        uses: frozenset[PhotoUse],
        signer_name: str,
        signed_at: datetime,
        device: str,
        pdf: bytes,
        sha256: str,
        recorded_by: str,
    ) -> SignedConsent:
        row = ConsentFormRow(
            patient_id=patient_id,
            kind=template.kind.value,
            template_id=template.id,
            template_version=template.version,
            uses=",".join(sorted(u.value for u in uses)),
            signer_name=signer_name,
            signed_at=signed_at,
            device=device,
            pdf=pdf,
            sha256=sha256,
            recorded_by=recorded_by,
            withdrawn_at=None,
            withdrawn_by=None,
            withdrawn_reason="",
        )
        self.session.add(row)
        self.session.flush()
        return to_form(row)

    def _row(self, form_id: int, *, lock: bool = False) -> ConsentFormRow:
        stmt = select(ConsentFormRow).where(ConsentFormRow.id == form_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).first()
        if row is None:
            raise NotFoundError(f"consent form {form_id} does not exist")
        return row

    def get(self, form_id: int) -> SignedConsent:
        return to_form(self._row(form_id))

    def pdf(self, form_id: int) -> bytes:
        return bytes(self._row(form_id).pdf)

    def for_patient(self, patient_id: int, kind: ConsentKind | None = None) -> list[SignedConsent]:
        """Her forms (optionally of one kind), newest first."""
        stmt = select(ConsentFormRow).where(ConsentFormRow.patient_id == patient_id)
        if kind is not None:
            stmt = stmt.where(ConsentFormRow.kind == kind.value)
        rows = self.session.scalars(
            stmt.order_by(ConsentFormRow.signed_at.desc(), ConsentFormRow.id.desc())
        )
        return [to_form(r) for r in rows]

    def newest(self, patient_id: int, kind: ConsentKind) -> SignedConsent | None:
        row = self.session.scalars(
            select(ConsentFormRow)
            .where(ConsentFormRow.patient_id == patient_id, ConsentFormRow.kind == kind.value)
            .order_by(ConsentFormRow.signed_at.desc(), ConsentFormRow.id.desc())
            .limit(1)
        ).first()
        return to_form(row) if row is not None else None

    def withdraw(self, form_id: int, at: datetime, by: str, reason: str) -> SignedConsent:
        row = self._row(form_id, lock=True)
        row.withdrawn_at = at
        row.withdrawn_by = by
        row.withdrawn_reason = reason
        self.session.flush()
        return to_form(row)


__all__ = ["ConsentFormRepository", "to_form", "to_template"]

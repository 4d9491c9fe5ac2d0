"""Assessments: a patient's history of assessed factors (never changed, only added)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from needleplan.domain.assessment import Assessment
from needleplan.domain.records import (
    AssessmentRecord,
)
from needleplan.storage.repositories._common import by_patient, get_row, keep
from needleplan.storage.tables import (
    AssessmentRow,
)


def to_assessment(row: AssessmentRow) -> AssessmentRecord:
    return AssessmentRecord(
        id=row.id,
        patient_id=row.patient_id,
        assessed_at=row.assessed_at,
        assessed_by=row.assessed_by,
        assessment=Assessment.model_validate(row.data),
        notes=row.notes,
    )


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        assessment: Assessment,
        at: datetime,
        by: int | None,
        notes: str,
    ) -> AssessmentRecord:
        row = AssessmentRow(
            patient_id=patient_id,
            assessed_at=at,
            assessed_by=by,
            data=assessment.to_json_dict(),
            notes=notes,
        )
        self.session.add(keep(self.session, row))
        self.session.flush()
        return to_assessment(row)

    def get(self, assessment_id: int) -> AssessmentRecord:
        return to_assessment(get_row(self.session, AssessmentRow, assessment_id, "assessment"))

    def history(self, patient_id: int) -> list[AssessmentRecord]:
        rows = self.session.execute(
            select(AssessmentRow)
            .where(AssessmentRow.patient_id == patient_id)
            .order_by(AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc())
        ).scalars()
        return [to_assessment(r) for r in rows]

    def histories(self, patient_ids: Sequence[int]) -> dict[int, list[AssessmentRecord]]:
        """:meth:`history` of each patient in ``patient_ids`` (one query; none: no key)."""
        order = (AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc())
        return by_patient(self.session, AssessmentRow, patient_ids, order, to_assessment)

    def latest_data(self) -> list[dict[str, Any]]:
        """The stored data of every patient's newest assessment, by patient id (no identities).

        Newest as in :meth:`history`: latest ``assessed_at``, then highest id.
        """
        rank = (
            func.row_number()
            .over(
                partition_by=AssessmentRow.patient_id,
                order_by=(AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc()),
            )
            .label("rank")
        )
        ranked = select(AssessmentRow.patient_id, AssessmentRow.data, rank).subquery()
        rows = self.session.execute(
            select(ranked.c.data).where(ranked.c.rank == 1).order_by(ranked.c.patient_id)
        ).scalars()
        return [dict(r) for r in rows]

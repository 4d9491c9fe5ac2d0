"""Outcome measurements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.assessment import Area
from needleplan.domain.records import (
    Measurement,
    MeasurementDraft,
    MeasurementScale,
)
from needleplan.storage.repositories._common import by_patient
from needleplan.storage.tables import (
    MeasurementRow,
)


def to_measurement(row: MeasurementRow) -> Measurement:
    return Measurement.model_construct(
        id=row.id,
        patient_id=row.patient_id,
        course_id=row.course_id,
        scale=MeasurementScale(row.scale),
        value=row.value,
        measured_at=row.measured_at,
        measured_by=row.measured_by,
        area=Area(row.area) if row.area else None,
        note=row.note,
    )


class MeasurementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, patient_id: int, draft: MeasurementDraft) -> Measurement:
        row = MeasurementRow(
            patient_id=patient_id,
            course_id=draft.course_id,
            scale=draft.scale.value,
            value=float(draft.value),
            measured_at=draft.measured_at,
            measured_by=draft.measured_by,
            area=draft.area.value if draft.area else None,
            note=draft.note,
        )
        self.session.add(row)
        self.session.flush()
        return to_measurement(row)

    def for_patient(self, patient_id: int) -> list[Measurement]:
        rows = self.session.execute(
            select(MeasurementRow)
            .where(MeasurementRow.patient_id == patient_id)
            .order_by(MeasurementRow.measured_at, MeasurementRow.id)
        ).scalars()
        return [to_measurement(r) for r in rows]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[Measurement]]:
        """:meth:`for_patient` of each patient in ``patient_ids`` (one query; none: no key)."""
        order = (MeasurementRow.measured_at, MeasurementRow.id)
        return by_patient(self.session, MeasurementRow, patient_ids, order, to_measurement)

    def patient_ids(self) -> set[int]:
        """The patients with at least one measurement (one query over the patient index)."""
        return set(self.session.execute(select(MeasurementRow.patient_id).distinct()).scalars())

    def all(self) -> list[Measurement]:
        rows = self.session.execute(select(MeasurementRow).order_by(MeasurementRow.id)).scalars()
        return [to_measurement(r) for r in rows]

"""Intake responses and kiosk locks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from needleplan.domain.intake import IntakeChannel, IntakeResponse, IntakeStatus, KioskLock
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import IntakeKioskRow, IntakeResponseRow


def to_response(row: IntakeResponseRow) -> IntakeResponse:
    return IntakeResponse(
        id=row.id,
        patient_id=row.patient_id,
        questionnaire_id=row.questionnaire_id,
        questionnaire_version=row.questionnaire_version,
        answers=dict(row.answers),
        draft=dict(row.draft),
        channel=IntakeChannel(row.channel),
        submitted_at=row.submitted_at,
        submitted_by=row.submitted_by,
        status=IntakeStatus(row.status),
        reviewed_at=row.reviewed_at,
        reviewed_by=row.reviewed_by,
        assessment_id=row.assessment_id,
    )


class IntakeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        patient_id: int,
        questionnaire: tuple[str, str],
        answers: dict[str, Any],
        draft: dict[str, Any],
        channel: IntakeChannel,
        at: datetime,
        by: str,
    ) -> IntakeResponse:
        row = IntakeResponseRow(
            patient_id=patient_id,
            questionnaire_id=questionnaire[0],
            questionnaire_version=questionnaire[1],
            answers=answers,
            draft=draft,
            channel=channel.value,
            submitted_at=at,
            submitted_by=by[:80],
            status=IntakeStatus.DRAFT.value,
        )
        self.session.add(row)
        self.session.flush()
        return to_response(row)

    def _row(self, response_id: int, *, lock: bool = False) -> IntakeResponseRow:
        query = select(IntakeResponseRow).where(IntakeResponseRow.id == response_id)
        row = self.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"intake response {response_id} does not exist")
        return row

    def get(self, response_id: int, *, lock: bool = False) -> IntakeResponse:
        return to_response(self._row(response_id, lock=lock))

    def for_patient(self, patient_id: int) -> list[IntakeResponse]:
        rows = self.session.execute(
            select(IntakeResponseRow)
            .where(IntakeResponseRow.patient_id == patient_id)
            .order_by(IntakeResponseRow.submitted_at.desc(), IntakeResponseRow.id.desc())
        ).scalars()
        return [to_response(r) for r in rows]

    def confirm(
        self, response_id: int, assessment_id: int, at: datetime, by: str
    ) -> IntakeResponse:
        row = self._row(response_id)
        row.status = IntakeStatus.CONFIRMED.value
        row.assessment_id = assessment_id
        row.reviewed_at = at
        row.reviewed_by = by[:40]
        self.session.flush()
        return to_response(row)

    # ------------------------------------------------------------------ kiosk locks

    def kiosk(self, digest: str) -> KioskLock | None:
        row = self.session.get(IntakeKioskRow, digest)
        if row is None:
            return None
        return KioskLock(row.patient_id, row.started_by, row.started_at, row.response_id)

    def lock_kiosk(self, digest: str, patient_id: int, by: str, at: datetime) -> KioskLock:
        self.session.execute(delete(IntakeKioskRow).where(IntakeKioskRow.session_digest == digest))
        self.session.add(
            IntakeKioskRow(
                session_digest=digest, patient_id=patient_id, started_by=by[:40], started_at=at
            )
        )
        self.session.flush()
        return KioskLock(patient_id, by[:40], at, None)

    def kiosk_submitted(self, digest: str, response_id: int) -> None:
        row = self.session.get(IntakeKioskRow, digest)
        if row is not None:
            row.response_id = response_id
            self.session.flush()

    def unlock_kiosk(self, digest: str) -> KioskLock | None:
        found = self.kiosk(digest)
        self.session.execute(delete(IntakeKioskRow).where(IntakeKioskRow.session_digest == digest))
        return found

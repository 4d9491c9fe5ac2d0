"""Patients' data rights in the tables: erasing what a patient may have erased, anonymising a
record after the retention period, and trimming the audit log (issue 17).

Every method works in the caller's unit of work and returns counts only: what was erased is
never returned or kept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from needleplan.storage.tables import (
    AppointmentRow,
    AssessmentRow,
    AuditRow,
    ContactAttemptRow,
    CourseRow,
    LeadRow,
    MeasurementRow,
    OnlineBookingRow,
    OutboxRow,
    PatientAnonymisationRow,
    PatientRow,
    PerformedSessionRow,
    RecallRow,
    WaitlistRow,
)

#: The columns whose newest value is a patient's last clinical activity.
_ACTIVITY: tuple[tuple[Any, Any], ...] = (
    (PatientRow.id, PatientRow.created_at),
    (AssessmentRow.patient_id, AssessmentRow.assessed_at),
    (CourseRow.patient_id, CourseRow.status_changed_at),
    (AppointmentRow.patient_id, AppointmentRow.start_at),
    (PerformedSessionRow.patient_id, PerformedSessionRow.performed_at),
    (MeasurementRow.patient_id, MeasurementRow.measured_at),
)


class RetentionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ erasure on request

    def erase_leads(self, email: str | None, phone: str | None) -> int:
        """Delete the contact requests left with this e-mail address or phone number."""
        conditions = []
        if email:
            conditions.append(func.lower(LeadRow.email) == email.strip().lower())
        if phone:
            conditions.append(LeadRow.phone == phone.strip())
        if not conditions:
            return 0
        result: Any = self.session.execute(delete(LeadRow).where(or_(*conditions)))
        return int(result.rowcount or 0)

    def erase_message_bodies(self, patient_id: int) -> int:
        """Blank the subject, text, attachments and recipient of every message to the patient
        (the row stays: when and by which channel something was sent); messages not sent yet
        are skipped for good."""
        rows = OutboxRow.patient_id == patient_id
        self.session.execute(
            update(OutboxRow)
            .where(rows, OutboxRow.status == "queued")
            .values(status="skipped", last_error="erased on the patient's request")
        )
        result: Any = self.session.execute(
            update(OutboxRow)
            .where(rows)
            .values(
                subject=None,
                body_text=None,
                body_html=None,
                attachments=[],
                payload={},
                recipient=None,
            )
        )
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ retention

    def anonymised_ids(self) -> set[int]:
        return set(self.session.scalars(select(PatientAnonymisationRow.patient_id)).all())

    def last_activity(self) -> dict[int, datetime]:
        """Each patient's newest clinical date (registration, assessment, course change,
        appointment, session, measurement)."""
        newest: dict[int, datetime] = {}
        for key, when in _ACTIVITY:
            query = select(key, func.max(when)).group_by(key)
            for patient_id, moment in self.session.execute(query):
                if moment is not None and (patient_id not in newest or moment > newest[patient_id]):
                    newest[patient_id] = moment
        return newest

    def anonymise(self, patient_id: int, at: datetime, reason: str) -> None:
        """Remove what identifies the patient and her free-text notes; keep the clinical facts
        (dates, areas, depths, scales, values) for the clinic's statistics. Her birth date keeps
        its year only (1 January)."""
        patient = self.session.get(PatientRow, patient_id, with_for_update=True)
        if patient is None:
            return
        self.erase_leads(patient.email, patient.phone)
        patient.mrn = f"ANON-{patient_id}"
        patient.given_name = "Anonymised"
        patient.family_name = f"Patient {patient_id}"
        patient.birth_date = date(patient.birth_date.year, 1, 1)
        patient.email = None
        patient.phone = None
        patient.notes = ""
        patient.consent_contact = False
        patient.consent_research = False
        mine: list[tuple[Any, dict[str, str]]] = [
            (AssessmentRow, {"notes": ""}),
            (CourseRow, {"note": ""}),
            (AppointmentRow, {"note": "", "cancel_reason": ""}),
            (PerformedSessionRow, {"notes": ""}),
            (MeasurementRow, {"note": ""}),
            (WaitlistRow, {"note": ""}),
        ]
        for table, values in mine:
            self.session.execute(
                update(table).where(table.patient_id == patient_id).values(**values)
            )
        recalls = select(RecallRow.id).where(RecallRow.patient_id == patient_id)
        self.session.execute(
            update(ContactAttemptRow)
            .where(ContactAttemptRow.recall_id.in_(recalls))
            .values(note="")
        )
        self.erase_message_bodies(patient_id)
        self.session.execute(  # what she typed on the public booking page
            update(OnlineBookingRow)
            .where(OnlineBookingRow.patient_id == patient_id)
            .values(
                given_name="",
                family_name="",
                email="",
                phone="",
                birth_date=date(patient.birth_date.year, 1, 1),
            )
        )
        self.session.add(PatientAnonymisationRow(patient_id=patient_id, at=at, reason=reason))
        self.session.flush()

    def anonymised_at(self, patient_id: int) -> datetime | None:
        row = self.session.get(PatientAnonymisationRow, patient_id)
        return row.at if row is not None else None

    def delete_audit_before(self, cutoff: datetime) -> int:
        """Delete audit events older than ``cutoff`` (the audit retention period)."""
        result: Any = self.session.execute(delete(AuditRow).where(AuditRow.at < cutoff))
        return int(result.rowcount or 0)

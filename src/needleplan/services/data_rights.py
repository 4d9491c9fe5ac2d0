"""Patients' data rights (issue 17; GDPR articles 15, 17 and 5(1)(e)): what a patient's subject
access archive reads, erasure on request, and the retention of clinical records and the audit
log.

- **Erasure on request** (:func:`erase_on_request`): what a clinic may erase while it must keep
  the clinical record: her contact requests from the public estimator (matched by her e-mail or
  phone), her consent to be contacted (withdrawn, kept in the consent history, and she is opted
  out of messages), and the subject, text, attachments and address of every message to her
  (queued ones are not sent). The audit event names counts only, never what was erased.
- **Retention** (:func:`run_retention`, run daily by the worker and by
  ``needleplan retention run --now``): a patient with no clinical activity for the clinic's
  retention period (:data:`CLINICAL_YEARS_KEY`, default :data:`CLINICAL_YEARS_DEFAULT` years) is
  anonymised (see :meth:`needleplan.storage.repositories.retention.RetentionRepository.anonymise`);
  audit events older than :data:`AUDIT_YEARS_KEY` years (default :data:`AUDIT_YEARS_DEFAULT`) are
  deleted. Each anonymisation and each purge is audited.
- **Subject access**: the archive itself is built in :mod:`needleplan.reports.subject_access`
  (it needs FHIR and the handout); here are the reads it needs (:func:`patient_messages`,
  :func:`patient_audit_trail`) and who may ask (:func:`may_export_all`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from needleplan.domain.accounts import Permission, User, require_permission
from needleplan.domain.messages import OutboxMessage
from needleplan.domain.records import AuditEvent
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.services._clock import add_months, utc_now
from needleplan.services.audit import audited, record_audit, record_refusal
from needleplan.services.patients import update_patient
from needleplan.storage import Database

CLINICAL_YEARS_KEY = "retention_clinical_years"
AUDIT_YEARS_KEY = "retention_audit_years"
#: Years clinical records are kept after the last activity unless the clinic sets another
#: period (10 years after the last treatment is common for aesthetic treatment records in Europe;
#: the clinic must set what its law requires).
CLINICAL_YEARS_DEFAULT = 10
AUDIT_YEARS_DEFAULT = 10
YEARS_MIN, YEARS_MAX = 1, 100


@dataclass(frozen=True)
class RetentionSettings:
    clinical_years: int
    audit_years: int


@dataclass(frozen=True)
class ErasureReport:
    """How much was erased (counts only)."""

    contact_requests: int
    messages: int
    contact_consent_withdrawn: bool


@dataclass
class RetentionReport:
    anonymised: list[int] = field(default_factory=list)
    audit_events_deleted: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.anonymised)} patient record(s) anonymised, "
            f"{self.audit_events_deleted} audit event(s) past retention deleted"
        )


def _years(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


def retention_settings(db: Database) -> RetentionSettings:
    """The clinic's retention periods (the defaults until an admin sets them)."""
    with db.transaction() as uow:
        return RetentionSettings(
            _years(uow.settings.get(CLINICAL_YEARS_KEY), CLINICAL_YEARS_DEFAULT),
            _years(uow.settings.get(AUDIT_YEARS_KEY), AUDIT_YEARS_DEFAULT),
        )


def check_years(value: object, field_name: str) -> int:
    """A retention period: a whole number of years from 1 to 100 (InputError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not YEARS_MIN <= value <= YEARS_MAX:
        raise InputError.one(
            field_name, value, f"must be a whole number of years from {YEARS_MIN} to {YEARS_MAX}"
        )
    return value


def set_retention(
    db: Database,
    *,
    clinical_years: int | None = None,
    audit_years: int | None = None,
    actor: User | None = None,
) -> RetentionSettings:
    """Set the retention periods (admins: the clinic configuration permission); audited."""
    if actor is not None:
        require_permission(actor, Permission.CONFIG, "set the retention periods")
    changes = {}
    if clinical_years is not None:
        changes[CLINICAL_YEARS_KEY] = check_years(clinical_years, "clinical_years")
    if audit_years is not None:
        changes[AUDIT_YEARS_KEY] = check_years(audit_years, "audit_years")
    detail = " ".join(f"{k}={v}" for k, v in changes.items())
    with audited(db, actor, "settings.retention", detail=detail), db.transaction() as uow:
        for key, years in changes.items():
            uow.settings.put(key, str(years), utc_now(), actor.username if actor else "system")
    return retention_settings(db)


def may_export_all(db: Database, actor: User | None, patient_id: int) -> None:
    """Who may take a patient's whole record out: a practitioner (clinical access) or an admin
    (the audit permission: the clinic's data-protection duties). A refusal is audited."""
    if actor is None or actor.can(Permission.CLINICAL) or actor.can(Permission.AUDIT):
        return
    record_refusal(db, actor, "patient.export_all", patient_id)
    raise PermissionDeniedError(
        f"{actor.username} ({actor.role.value}) may not export a patient's whole record: "
        "it needs a practitioner or an admin"
    )


def patient_messages(db: Database, patient_id: int) -> list[OutboxMessage]:
    """Every message to the patient, oldest first."""
    with db.transaction() as uow:
        return sorted(uow.outbox.for_patient(patient_id, limit=100_000), key=lambda m: m.id)


def patient_audit_trail(db: Database, patient_id: int) -> list[AuditEvent]:
    """Every audit event about the patient (hers and the list views that showed her), oldest
    first."""
    with db.transaction() as uow:
        return list(reversed(uow.users.audit(patient_id, limit=10_000_000)))


def erase_on_request(db: Database, patient_id: int, *, actor: User | None) -> ErasureReport:
    """Erase what the patient asked to have erased and the clinic may erase (see the module);
    audited as ``patient.erase`` with counts only. Admins only (the audit permission)."""
    if actor is not None:
        try:
            require_permission(actor, Permission.AUDIT, "erase a patient's contact data")
        except PermissionDeniedError:
            record_refusal(db, actor, "patient.erase", patient_id)
            raise
    with audited(db, actor, "patient.erase", patient_id) as note, db.transaction() as uow:
        patient = uow.patients.get(patient_id, lock=True)
        leads = uow.retention.erase_leads(patient.email, patient.phone)
        messages = uow.retention.erase_message_bodies(patient_id)
        uow.online_bookings.erase_contact(patient_id)
        withdrawn = patient.consent_contact or patient.consent_research
        if withdrawn:
            update_patient(
                db, patient_id, {"consent_contact": False, "consent_research": False}, note=note
            )
        uow.outbox.opt_out(patient_id, utc_now(), "erasure request")
        note.detail = (
            f"contact_requests={leads} messages={messages} "
            f"contact_consent={'withdrawn' if withdrawn else 'none'}"
        )
    return ErasureReport(leads, messages, withdrawn)


def run_retention(
    db: Database, *, now: datetime | None = None, actor: User | None = None
) -> RetentionReport:
    """Anonymise every patient whose last clinical activity is older than the clinical retention
    period, and delete audit events older than the audit retention period (each audited)."""
    if actor is not None:
        require_permission(actor, Permission.CONFIG, "run the retention rules")
    at = now or utc_now()
    periods = retention_settings(db)
    cutoff = add_months(at.date(), -12 * periods.clinical_years)
    report = RetentionReport()
    # The audit log first, so the events of this run's anonymisations are never trimmed.
    audit_cutoff = at - timedelta(days=round(365.25 * periods.audit_years))
    with db.transaction() as uow:
        report.audit_events_deleted = uow.retention.delete_audit_before(audit_cutoff)
        if report.audit_events_deleted:
            record_audit(
                db,
                actor,
                "audit.purge",
                detail=f"deleted={report.audit_events_deleted} audit_years={periods.audit_years}",
            )
    with db.transaction() as uow:
        done = uow.retention.anonymised_ids()
        due = sorted(
            pid
            for pid, last in uow.retention.last_activity().items()
            if pid not in done and last.date() < cutoff
        )
    for patient_id in due:
        with db.transaction() as uow:
            uow.retention.anonymise(
                patient_id, at, f"no clinical activity for {periods.clinical_years} years"
            )
            record_audit(
                db,
                actor,
                "patient.anonymise",
                patient_id,
                detail=f"retention clinical_years={periods.clinical_years}",
            )
        report.anonymised.append(patient_id)
    return report


def anonymised_at(db: Database, patient_id: int) -> datetime | None:
    """When the patient's record was anonymised, or None."""
    with db.transaction() as uow:
        return uow.retention.anonymised_at(patient_id)


__all__ = [
    "AUDIT_YEARS_DEFAULT",
    "CLINICAL_YEARS_DEFAULT",
    "ErasureReport",
    "RetentionReport",
    "RetentionSettings",
    "anonymised_at",
    "erase_on_request",
    "may_export_all",
    "patient_audit_trail",
    "patient_messages",
    "retention_settings",
    "run_retention",
    "set_retention",
]

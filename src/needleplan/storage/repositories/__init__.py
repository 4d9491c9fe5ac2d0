"""Repositories, one module per aggregate: queries over the tables and the mapping between rows
and domain values.

Every repository works inside the caller's :class:`~needleplan.storage.database.UnitOfWork`
session and none of them commits; the unit of work exposes each one as an attribute
(``uow.patients``, ``uow.appointments``, ...). Rows never leave this package: callers get domain
values.
"""

from needleplan.storage.repositories._common import slot_starts
from needleplan.storage.repositories.assessments import AssessmentRepository, to_assessment
from needleplan.storage.repositories.audit import (
    AUDIT_PATIENTS_KEY,
    AuditQuery,
    audit_about,
    audit_patients_detail,
    to_audit,
)
from needleplan.storage.repositories.calendar import CalendarItem, CalendarQuery
from needleplan.storage.repositories.clinic_configs import (
    ClinicConfigRepository,
    ClinicConfigVersion,
)
from needleplan.storage.repositories.clinic_media import ClinicMediaRepository, MediaFile
from needleplan.storage.repositories.clinics import (
    ClinicRepository,
    to_clinic,
    to_practitioner,
)
from needleplan.storage.repositories.courses import (
    AppointmentRepository,
    CourseRepository,
    SessionRepository,
    to_appointment,
    to_course,
    to_ledger,
    to_session,
)
from needleplan.storage.repositories.leads import LeadRepository
from needleplan.storage.repositories.measurements import MeasurementRepository, to_measurement
from needleplan.storage.repositories.patients import (
    PatientFinder,
    PatientRepository,
    parse_birth_date,
    to_patient,
)
from needleplan.storage.repositories.recall import RecallRepository, to_attempt, to_recall
from needleplan.storage.repositories.staff_sessions import (
    USER_AGENT_MAX,
    StaffSessionInfo,
    StaffSessionRepository,
)
from needleplan.storage.repositories.tokens import ApiTokenGrant, ApiTokenInfo, ApiTokenRepository
from needleplan.storage.repositories.users import UserRepository, to_user

__all__ = [
    "AUDIT_PATIENTS_KEY",
    "USER_AGENT_MAX",
    "ApiTokenGrant",
    "ApiTokenInfo",
    "ApiTokenRepository",
    "AppointmentRepository",
    "AssessmentRepository",
    "AuditQuery",
    "CalendarItem",
    "CalendarQuery",
    "ClinicConfigRepository",
    "ClinicConfigVersion",
    "ClinicMediaRepository",
    "ClinicRepository",
    "CourseRepository",
    "LeadRepository",
    "MeasurementRepository",
    "MediaFile",
    "PatientFinder",
    "PatientRepository",
    "RecallRepository",
    "SessionRepository",
    "StaffSessionInfo",
    "StaffSessionRepository",
    "UserRepository",
    "audit_about",
    "audit_patients_detail",
    "parse_birth_date",
    "slot_starts",
    "to_appointment",
    "to_assessment",
    "to_attempt",
    "to_audit",
    "to_clinic",
    "to_course",
    "to_ledger",
    "to_measurement",
    "to_patient",
    "to_practitioner",
    "to_recall",
    "to_session",
    "to_user",
]

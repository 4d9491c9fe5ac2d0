"""SQLAlchemy 2 tables: the stored shape of the clinic records (not the domain objects).

Alembic migrations in ``needleplan/storage/migrations`` own the schema; these declarations are the
head revision and a test checks that the migrated database matches them exactly.

Double booking is prevented by ``slot_claims``: an appointment claims every
:data:`SLOT_MINUTES`-minute slot it overlaps, for its practitioner, and the primary key
``(practitioner_id, slot_start)`` makes two live claims of one slot impossible on every backend,
whatever the concurrency. Cancelling an appointment deletes its claims.
"""

from needleplan.storage.tables._base import NAMING_CONVENTION, SLOT_MINUTES, Base
from needleplan.storage.tables.accounts import (
    AccountSecurityRow,
    ApiTokenRow,
    AuditRow,
    IdempotencyKeyRow,
    RateLimitRow,
    RecoveryCodeRow,
    SiteSettingRow,
    StaffSessionRow,
    UserRow,
    WorkerHeartbeatRow,
)
from needleplan.storage.tables.clinical import (
    AppointmentRow,
    AssessmentRow,
    ClinicRow,
    ConsentChangeRow,
    ContactAttemptRow,
    CourseRow,
    LedgerRow,
    MeasurementRow,
    PatientAnonymisationRow,
    PatientLanguageRow,
    PatientNameTokenRow,
    PatientRow,
    PerformedSessionRow,
    PractitionerRow,
    RecallCloseReasonRow,
    RecallRow,
    SlotClaimRow,
    WaitlistRow,
)
from needleplan.storage.tables.integrations import (
    MessageTemplateRow,
    SurveyAnswerRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from needleplan.storage.tables.messaging import (
    CallbackRequestRow,
    LeadRow,
    LeadStateRow,
    MessageOptOutRow,
    OutboxRow,
    PortalLinkRow,
    VisitConfirmationRow,
)
from needleplan.storage.tables.online import OnlineBookingLinkRow, OnlineBookingRow
from needleplan.storage.tables.records import (
    ClinicCalibrationRow,
    ClinicConfigRow,
    ClinicMediaRow,
    ConsentFormRow,
    ConsentTemplateRow,
    IntakeKioskRow,
    IntakeResponseRow,
    PhotoRow,
)
from needleplan.storage.tables.records2 import ConsentLinkRow

metadata = Base.metadata

__all__ = [
    "NAMING_CONVENTION",
    "SLOT_MINUTES",
    "AccountSecurityRow",
    "ApiTokenRow",
    "AppointmentRow",
    "AssessmentRow",
    "AuditRow",
    "Base",
    "CallbackRequestRow",
    "ClinicCalibrationRow",
    "ClinicConfigRow",
    "ClinicMediaRow",
    "ClinicRow",
    "ConsentChangeRow",
    "ConsentFormRow",
    "ConsentLinkRow",
    "ConsentTemplateRow",
    "ContactAttemptRow",
    "CourseRow",
    "IdempotencyKeyRow",
    "IntakeKioskRow",
    "IntakeResponseRow",
    "LeadRow",
    "LeadStateRow",
    "LedgerRow",
    "MeasurementRow",
    "MessageOptOutRow",
    "MessageTemplateRow",
    "OnlineBookingLinkRow",
    "OnlineBookingRow",
    "OutboxRow",
    "PatientAnonymisationRow",
    "PatientLanguageRow",
    "PatientNameTokenRow",
    "PatientRow",
    "PerformedSessionRow",
    "PhotoRow",
    "PortalLinkRow",
    "PractitionerRow",
    "RateLimitRow",
    "RecallCloseReasonRow",
    "RecallRow",
    "RecoveryCodeRow",
    "SiteSettingRow",
    "SlotClaimRow",
    "StaffSessionRow",
    "SurveyAnswerRow",
    "UserRow",
    "VisitConfirmationRow",
    "WaitlistRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WorkerHeartbeatRow",
    "metadata",
]

# Indexes of a large clinic group (migration 0026); importing the module attaches them.
from needleplan.storage.tables import scale as scale  # noqa: E402

"""Use-cases shared by the library, the CLI and the web app: the one place that opens a transaction.

One module per area (see docs/architecture.md): :mod:`.patients`, :mod:`.assessments`,
:mod:`.booking`, :mod:`.rescheduling`, :mod:`.moves`, :mod:`.rebooking`, :mod:`.appointments`, :mod:`.courses`,
:mod:`.measurements`, :mod:`.recall`, :mod:`.accounts`, :mod:`.tokens`, :mod:`.staff_sessions`,
:mod:`.audit`, :mod:`.clinic_calendar`, :mod:`.learning`, :mod:`.imports`, :mod:`.leads`,
:mod:`.demo`, :mod:`.practitioners`, :mod:`.visits` (check in, chart, no-show, cancel; import it as
``needleplan.services.visits``), :mod:`.clinic_calendar_slots` (find a slot, book a single visit),
:mod:`.waitlist`; private helpers in ``_clock``, ``_input``, ``_secrets`` and
``_slots``. This package re-exports the use-cases most callers need, so ``from needleplan import
services`` then ``services.book_course(...)`` reads as before.

Every public function takes a :class:`~needleplan.storage.Database` first and runs as one
transaction: it stores everything or nothing. Input arrives as domain values or plain mappings
(validated here, :class:`~needleplan.exceptions.InputError` names the field, value and rule);
results are domain values from :mod:`needleplan.domain.records`.

Error contract: ``NotFoundError`` for a missing record, ``ConflictError`` for a double booking or a
duplicate key, ``StateError`` for an illegal status change, ``BlockedError`` for a blocked
protocol, ``PermissionDeniedError`` for a role that may not act.
"""

from __future__ import annotations

from needleplan.services._clock import add_months, utc_now
from needleplan.services.accounts import (
    authenticate,
    create_user,
    deactivate_user,
    find_user,
    list_users,
    require_role,
    set_password,
)
from needleplan.services.appointments import (
    appointments_between,
    calendar_window,
    cancel_appointment,
    get_appointment,
    mark_missed,
)
from needleplan.services.assessments import (
    assessment_history,
    latest_assessments,
    record_assessment,
)
from needleplan.services.audit import AuditNote, audit_log, audited, record_audit, search_audit
from needleplan.services.booking import (
    ConsultationBooking,
    CourseBooking,
    PlannedCourse,
    SavedConsultation,
    book_appointment,
    book_consultation,
    book_course,
    busy_times,
    forecast_maintenance_due,
    plan_and_book_course,
    save_consultation,
)
from needleplan.services.courses import (
    CourseFile,
    adjust_sessions,
    change_course_status,
    course_file,
    record_session,
)
from needleplan.services.demo import (
    DemoSummary,
    fill_demo_clinic,
    is_empty_clinic,
    reset_demo_logins,
)
from needleplan.services.imports import ImportProgress, ImportReport, RowProblem, import_rows
from needleplan.services.leads import (
    add_lead,
    delete_lead,
    get_lead,
    link_lead_to_patient,
    list_leads,
    mark_lead_handled,
    purge_leads,
)
from needleplan.services.measurements import (
    measurements_for,
    record_measurement,
    record_measurement_in,
)
from needleplan.services.patients import (
    MergeResult,
    PatientFile,
    consent_history,
    find_patient,
    get_patient,
    likely_duplicates,
    list_patients,
    merge_patients,
    patient_file,
    patient_language,
    register_patient,
    search_patients,
    update_patient,
)
from needleplan.services.practitioners import (
    add_practitioner,
    ensure_clinic,
    list_practitioners,
    sync_practitioners,
)
from needleplan.services.rebooking import RebookPlan, can_rebook, rebook_missed, rebooked_as
from needleplan.services.recall import (
    add_recall,
    close_recall,
    opt_out_recall,
    recall_entry,
    recall_list,
    recall_worklist,
    record_contact,
)
from needleplan.services.rescheduling import (
    course_schedule,
    course_schedule_with_appointments,
    move_appointment,
    replan_course,
    reschedule,
)
from needleplan.services.tokens import (
    api_token_grant,
    issue_api_token,
    list_api_tokens,
    revoke_api_token,
    user_for_api_token,
)
from needleplan.storage.repositories import audit_patients_detail

__all__ = [
    "AuditNote",
    "ConsultationBooking",
    "CourseBooking",
    "CourseFile",
    "DemoSummary",
    "ImportProgress",
    "ImportReport",
    "MergeResult",
    "PatientFile",
    "PlannedCourse",
    "RebookPlan",
    "RowProblem",
    "SavedConsultation",
    "add_lead",
    "add_months",
    "add_practitioner",
    "add_recall",
    "adjust_sessions",
    "api_token_grant",
    "appointments_between",
    "assessment_history",
    "audit_log",
    "audit_patients_detail",
    "audited",
    "authenticate",
    "book_appointment",
    "book_consultation",
    "book_course",
    "busy_times",
    "calendar_window",
    "can_rebook",
    "cancel_appointment",
    "change_course_status",
    "close_recall",
    "consent_history",
    "course_file",
    "course_schedule",
    "course_schedule_with_appointments",
    "create_user",
    "deactivate_user",
    "delete_lead",
    "ensure_clinic",
    "fill_demo_clinic",
    "find_patient",
    "find_user",
    "forecast_maintenance_due",
    "get_appointment",
    "get_lead",
    "get_patient",
    "import_rows",
    "is_empty_clinic",
    "issue_api_token",
    "latest_assessments",
    "likely_duplicates",
    "link_lead_to_patient",
    "list_api_tokens",
    "list_leads",
    "list_patients",
    "list_practitioners",
    "list_users",
    "mark_lead_handled",
    "mark_missed",
    "measurements_for",
    "merge_patients",
    "move_appointment",
    "opt_out_recall",
    "patient_file",
    "patient_language",
    "plan_and_book_course",
    "purge_leads",
    "rebook_missed",
    "rebooked_as",
    "recall_entry",
    "recall_list",
    "recall_worklist",
    "record_assessment",
    "record_audit",
    "record_contact",
    "record_measurement",
    "record_measurement_in",
    "record_session",
    "register_patient",
    "replan_course",
    "require_role",
    "reschedule",
    "reset_demo_logins",
    "revoke_api_token",
    "save_consultation",
    "search_audit",
    "search_patients",
    "set_password",
    "sync_practitioners",
    "update_patient",
    "user_for_api_token",
    "utc_now",
]

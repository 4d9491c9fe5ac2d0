"""Indexes for a large clinic group (migrations 0026 and 0029, docs/scale.md): the patient
search by name prefix (of the names' search keys), e-mail and phone digits, the recall worklist by status and due date, and the
calendar by start time. No new tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Index, func, literal_column

from needleplan.storage.tables.clinical import AppointmentRow, PatientRow, RecallRow

#: Characters a phone number is written with besides its digits (``+49 (30) 1234-567``).
PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "/", "+")


def phone_digits_sql(column: Any, *, inline: bool = True) -> ColumnElement[str]:
    """The digits of a phone column, as SQL: the expression :data:`ix_patients_phone_digits`
    indexes. Queries write its constants into the statement (``inline``) so that PostgreSQL
    matches the expression to the index; the index declaration itself uses plain values, which
    its DDL renders the same way."""
    out = column
    for ch in PHONE_PUNCTUATION:
        if inline:
            out = func.replace(out, literal_column(f"'{ch}'"), literal_column("''"))
        else:
            out = func.replace(out, ch, "")
    result: ColumnElement[str] = out
    return result


# The name search by prefix of each name's search key (migration 0029 replaced 0026's indexes
# on lower(family_name) and lower(given_name): SQLite's lower() folds ASCII letters only).
# With the id: the search's UNION of ranges reads ids from the indexes alone, and the patients
# once, by id.
ix_patients_family_key = Index("ix_patients_family_key", PatientRow.family_key, PatientRow.id)
ix_patients_given_key = Index("ix_patients_given_key", PatientRow.given_key, PatientRow.id)
ix_patients_email_lower = Index("ix_patients_email_lower", func.lower(PatientRow.email))
ix_patients_phone_digits = Index(
    "ix_patients_phone_digits", phone_digits_sql(PatientRow.phone, inline=False)
)
ix_patients_family_name_given_name_id = Index(
    "ix_patients_family_name_given_name_id",
    PatientRow.family_name,
    PatientRow.given_name,
    PatientRow.id,
)
ix_recall_entries_status_due_date_id = Index(
    "ix_recall_entries_status_due_date_id", RecallRow.status, RecallRow.due_date, RecallRow.id
)
ix_appointments_start_at = Index("ix_appointments_start_at", AppointmentRow.start_at)

SCALE_INDEXES = (
    ix_patients_family_key,
    ix_patients_given_key,
    ix_patients_email_lower,
    ix_patients_phone_digits,
    ix_patients_family_name_given_name_id,
    ix_recall_entries_status_due_date_id,
    ix_appointments_start_at,
)

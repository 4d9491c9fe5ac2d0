"""Indexes for a large clinic group

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-03

The hot queries of a clinic group with a million patients (docs/scale.md, with the plans before
and after): the patient search by name prefix (``lower(family_name)``, ``lower(given_name)``),
e-mail (``lower(email)``) and phone digits (the number without its punctuation), the patient
list's order (family name, given name, id), the recall worklist's tab and order (status, due
date, id) and the calendar's time window (``appointments.start_at``). Indexes only: no data
changes, and the downgrade drops them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None

_DIGITS = "phone"
for _ch in (" ", "-", "(", ")", ".", "/", "+"):
    _DIGITS = f"replace({_DIGITS}, '{_ch}', '')"

INDEXES: list[tuple[str, str, list[str | sa.TextClause]]] = [
    ("ix_patients_family_name_lower", "patients", [sa.text("lower(family_name)")]),
    ("ix_patients_given_name_lower", "patients", [sa.text("lower(given_name)")]),
    ("ix_patients_email_lower", "patients", [sa.text("lower(email)")]),
    ("ix_patients_phone_digits", "patients", [sa.text(_DIGITS)]),
    (
        "ix_patients_family_name_given_name_id",
        "patients",
        ["family_name", "given_name", "id"],
    ),
    (
        "ix_recall_entries_status_due_date_id",
        "recall_entries",
        ["status", "due_date", "id"],
    ),
    ("ix_appointments_start_at", "appointments", ["start_at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)

"""Contact requests carry what staff did with them; a closed recall entry keeps its reason

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03

Adds ``lead_states`` (a contact request marked handled, or converted into a patient, by whom and
when; deleted with its lead) and ``recall_close_reasons`` (why staff closed a recall entry).
Existing rows need nothing: a lead without a state is new, an entry closed before this migration
has no stated reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "lead_states",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "changed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("changed_by", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_states_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_lead_states_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_states")),
    )
    with op.batch_alter_table("lead_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_states_patient_id"), ["patient_id"], unique=False)
    op.create_table(
        "recall_close_reasons",
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["recall_id"],
            ["recall_entries.id"],
            name=op.f("fk_recall_close_reasons_recall_id_recall_entries"),
        ),
        sa.PrimaryKeyConstraint("recall_id", name=op.f("pk_recall_close_reasons")),
    )


def downgrade() -> None:
    op.drop_table("recall_close_reasons")
    with op.batch_alter_table("lead_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_states_patient_id"))
    op.drop_table("lead_states")

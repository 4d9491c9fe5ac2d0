"""waitlist of patients who want an earlier slot

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Adds ``waitlist``: patients who want an earlier slot for a visit kind (with a practitioner or
anyone, from a day on); when a slot frees the calendar lists the matching open entries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "waitlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("not_before", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("closed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_waitlist_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_waitlist_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist")),
    )
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_waitlist_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_waitlist_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_patient_id"))
        batch_op.drop_index(batch_op.f("ix_waitlist_kind"))
        batch_op.drop_index(batch_op.f("ix_waitlist_closed_at"))
    op.drop_table("waitlist")

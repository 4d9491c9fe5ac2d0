"""clinic calibrations (fits proposed for review, versioned adoptions)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Adds ``clinic_calibrations``: a clinic's own fit of the forecast model's population parameters,
stored as a proposal, and the adoptions (and reverts) that put a fit, or the default, in force.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["clinic_calibrations.id"],
            name=op.f("fk_clinic_calibrations_proposal_id_clinic_calibrations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_clinic_calibrations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_calibrations")),
        sa.UniqueConstraint("version", name=op.f("uq_clinic_calibrations_version")),
    )
    with op.batch_alter_table("clinic_calibrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinic_calibrations_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("clinic_calibrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinic_calibrations_created_at"))
    op.drop_table("clinic_calibrations")

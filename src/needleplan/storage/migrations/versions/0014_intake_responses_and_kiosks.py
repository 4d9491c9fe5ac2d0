"""intake questionnaire answers and kiosk locks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Adds ``intake_responses`` (a patient's intake answers as submitted, with the questionnaire
version and the draft assessment they propose, until a practitioner confirms it) and
``intake_kiosks`` (a staff browser session locked to one patient's intake form).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "intake_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.String(length=80), nullable=False),
        sa.Column("questionnaire_version", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column(
            "submitted_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("submitted_by", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "reviewed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("reviewed_by", sa.String(length=40), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_intake_responses_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_intake_responses_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_responses")),
    )
    with op.batch_alter_table("intake_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_responses_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intake_responses_status"), ["status"], unique=False)
    op.create_table(
        "intake_kiosks",
        sa.Column("session_digest", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=40), nullable=False),
        sa.Column(
            "started_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_intake_kiosks_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["intake_responses.id"],
            name=op.f("fk_intake_kiosks_response_id_intake_responses"),
        ),
        sa.PrimaryKeyConstraint("session_digest", name=op.f("pk_intake_kiosks")),
    )
    with op.batch_alter_table("intake_kiosks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_kiosks_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_kiosks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_kiosks_patient_id"))
    op.drop_table("intake_kiosks")
    with op.batch_alter_table("intake_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_responses_status"))
        batch_op.drop_index(batch_op.f("ix_intake_responses_patient_id"))
    op.drop_table("intake_responses")

"""signed consent forms and their versioned templates

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Adds ``consent_templates`` (versioned texts per kind, append-only; the shipped texts become
version 1 on first use, see ``needleplan.domain.consent_texts``) and ``consent_forms`` (each
signed form with its PDF, the PDF's SHA-256 and its withdrawal, never deleted).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "consent_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_templates")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_consent_templates_kind_version")),
    )
    op.create_table(
        "consent_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("uses", sa.String(length=100), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("signed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(length=400), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column(
            "withdrawn_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("withdrawn_by", sa.String(length=40), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_consent_forms_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["consent_templates.id"],
            name=op.f("fk_consent_forms_template_id_consent_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_forms")),
    )
    with op.batch_alter_table("consent_forms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_forms_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_forms_patient_id"))
    op.drop_table("consent_forms")
    op.drop_table("consent_templates")

"""The language a patient reads

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03

Adds ``patient_languages``: one row for a patient who reads another language than the clinic's
default (her messages and handout are written in it; docs/languages.md). No row: the clinic's
``default_language``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "patient_languages",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("changed_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_languages_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_languages")),
    )


def downgrade() -> None:
    op.drop_table("patient_languages")

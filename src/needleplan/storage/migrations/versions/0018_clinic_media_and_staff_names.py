"""clinic media (the logo) and staff display names

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03

Adds ``clinic_media``: images the clinic shows on its public pages (its logo), named by the
SHA-256 of their bytes, stored as base64 text (backups carry them). Adds ``users.display_name``
(how pages name a staff account; empty: the user name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_media",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_clinic_media")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("display_name", sa.String(length=120), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("display_name")
    op.drop_table("clinic_media")

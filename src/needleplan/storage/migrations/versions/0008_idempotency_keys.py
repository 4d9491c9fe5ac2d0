"""idempotency keys of booking requests

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Adds ``idempotency_keys``: the first answer to a booking request that carried a key (the
booking forms' hidden field, the ``Idempotency-Key`` header), so that a double click or a
replayed request returns that answer and books nothing new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")

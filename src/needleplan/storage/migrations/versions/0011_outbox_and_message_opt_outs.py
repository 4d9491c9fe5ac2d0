"""patient messages: the outbox and recall opt-outs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Adds ``outbox`` (every message to a patient or a contact request, written in the same
transaction as its cause and delivered by ``needleplan worker``; docs/messages.md) and
``message_opt_outs`` (patients who asked for no more recall messages, e.g. by the one-click
unsubscribe link).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("recall_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UtcDateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("recipient", sa.String(length=400), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=400), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("unsubscribe_digest", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("resent_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_outbox_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recall_id"], ["recall_entries.id"], name=op.f("fk_outbox_recall_id_recall_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
        sa.UniqueConstraint("unsubscribe_digest", name=op.f("uq_outbox_unsubscribe_digest")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.create_index(batch.f("ix_outbox_patient_id"), ["patient_id"], unique=False)
        batch.create_index(batch.f("ix_outbox_recall_id"), ["recall_id"], unique=False)
        batch.create_index("ix_outbox_status_due_at", ["status", "due_at"], unique=False)
    op.create_table(
        "message_opt_outs",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_message_opt_outs_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_message_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("message_opt_outs")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_status_due_at")
        batch.drop_index(batch.f("ix_outbox_recall_id"))
        batch.drop_index(batch.f("ix_outbox_patient_id"))
    op.drop_table("outbox")

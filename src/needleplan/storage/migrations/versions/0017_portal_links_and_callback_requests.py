"""patient portal: links (stored as digests), call-back requests, visit confirmations

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

Adds ``portal_links`` (a patient's password-less links: only the SHA-256 digest of the token,
its purpose, patient, expiry, revocation and last use; docs/messages.md) and
``callback_requests`` (she asked the clinic to call her back, shown on the Today page) and
``visit_confirmations`` (she confirmed a visit at its start time through her link).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("recall_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=False),
        sa.Column("last_used_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox.id"], name=op.f("fk_portal_links_message_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_portal_links_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recall_id"],
            ["recall_entries.id"],
            name=op.f("fk_portal_links_recall_id_recall_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_links")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_portal_links_token_digest")),
    )
    with op.batch_alter_table("portal_links") as batch:
        batch.create_index(batch.f("ix_portal_links_patient_id"), ["patient_id"], unique=False)
        batch.create_index(batch.f("ix_portal_links_message_id"), ["message_id"], unique=False)
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["portal_links.id"], name=op.f("fk_callback_requests_link_id_portal_links")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_callback_requests_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    with op.batch_alter_table("callback_requests") as batch:
        batch.create_index(batch.f("ix_callback_requests_patient_id"), ["patient_id"], unique=False)
        batch.create_index(batch.f("ix_callback_requests_done_at"), ["done_at"], unique=False)
    op.create_table(
        "visit_confirmations",
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("start", UtcDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_visit_confirmations_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["portal_links.id"],
            name=op.f("fk_visit_confirmations_link_id_portal_links"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_visit_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("visit_confirmations")
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_index(batch.f("ix_callback_requests_done_at"))
        batch.drop_index(batch.f("ix_callback_requests_patient_id"))
    op.drop_table("callback_requests")
    with op.batch_alter_table("portal_links") as batch:
        batch.drop_index(batch.f("ix_portal_links_message_id"))
        batch.drop_index(batch.f("ix_portal_links_patient_id"))
    op.drop_table("portal_links")

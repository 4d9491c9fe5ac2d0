"""Online bookings held for her e-mail confirmation

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03

Adds ``online_bookings`` (a consultation booked on the public page: held, confirmed or expired)
and ``online_booking_links`` (digests of the confirmation links sent to her). A slot claim may
now be held by an online booking instead of an appointment: ``slot_claims.hold_id`` (deleted
with its booking), ``appointment_id`` becomes nullable and a check keeps exactly one of the two.
Existing claims all name an appointment, so they satisfy the check as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "online_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("hold_until", UtcDateTime(timezone=True), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("consent_marketing", sa.Boolean(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("released_at", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_online_bookings_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_online_bookings_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_online_bookings_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_online_bookings_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_bookings")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_online_bookings_appointment_id")),
    )
    with op.batch_alter_table("online_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_online_bookings_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_online_bookings_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_online_bookings_status_hold_until", ["status", "hold_until"], unique=False
        )
    op.create_table(
        "online_booking_links",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["online_bookings.id"],
            name=op.f("fk_online_booking_links_booking_id_online_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox.id"], name=op.f("fk_online_booking_links_message_id_outbox")
        ),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_online_booking_links")),
    )
    with op.batch_alter_table("online_booking_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_online_booking_links_booking_id"), ["booking_id"], unique=False
        )
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_id", sa.Integer(), nullable=True))
        batch_op.alter_column("appointment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f("ix_slot_claims_hold_id"), ["hold_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_slot_claims_hold_id_online_bookings"),
            "online_bookings",
            ["hold_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            "one_holder", "(appointment_id IS NULL) <> (hold_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM slot_claims WHERE hold_id IS NOT NULL")
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_slot_claims_one_holder"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_slot_claims_hold_id_online_bookings"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_slot_claims_hold_id"))
        batch_op.alter_column("appointment_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("hold_id")
    op.drop_table("online_booking_links")
    op.drop_table("online_bookings")

"""clinic config versions and staff sessions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Adds ``clinic_configs`` (every saved version of the clinic calendar as TOML text, with who saved it
and when; the newest is in force) and ``staff_sessions`` (server-side browser sessions: the SHA-256
of the cookie's random token, its user, expiry and revocation time).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, needleplan.storage.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "clinic_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        _utc("created_at"),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_clinic_configs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_configs")),
    )
    with op.batch_alter_table("clinic_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinic_configs_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _utc("created_at"),
        _utc("last_seen_at"),
        _utc("expires_at"),
        _utc("revoked_at", nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("digest", name=op.f("uq_staff_sessions_digest")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_staff_sessions_expires_at"))
    op.drop_table("staff_sessions")
    with op.batch_alter_table("clinic_configs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinic_configs_created_at"))
    op.drop_table("clinic_configs")

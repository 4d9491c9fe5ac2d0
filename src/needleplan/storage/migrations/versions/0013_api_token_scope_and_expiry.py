"""API tokens carry who issued them, a scope and an expiry

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Adds ``api_tokens.issued_by`` (the issuing account), ``scope`` (``read`` or ``write``) and
``expires_at``. Tokens issued before this migration keep working as they did (scope ``write``)
until 90 days after the upgrade; their issuer is unknown (NULL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    expires = datetime.now(UTC) + timedelta(days=90)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("scope", sa.String(length=10), nullable=False, server_default="write")
        )
        batch_op.add_column(
            sa.Column(
                "expires_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_issued_by_users"), "users", ["issued_by"], ["id"]
        )
    tokens = sa.table(
        "api_tokens",
        sa.column("expires_at", needleplan.storage.types.UtcDateTime(timezone=True)),
    )
    op.execute(tokens.update().values(expires_at=expires))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at",
            existing_type=needleplan.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_issued_by_users"), type_="foreignkey")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")
        batch_op.drop_column("issued_by")

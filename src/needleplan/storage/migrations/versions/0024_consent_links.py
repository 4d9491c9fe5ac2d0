"""The consent form a portal link is for

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03

Adds ``consent_links``: for each ``consent`` portal link, the kind of form it lets her sign at
home and, once she has signed through it, the signed form (one signature per link;
docs/consent.md, "Signing at home through her link").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "consent_links",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"], ["portal_links.id"], name=op.f("fk_consent_links_link_id_portal_links")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["consent_forms.id"], name=op.f("fk_consent_links_form_id_consent_forms")
        ),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_consent_links")),
        sa.UniqueConstraint("form_id", name=op.f("uq_consent_links_form_id")),
    )


def downgrade() -> None:
    op.drop_table("consent_links")

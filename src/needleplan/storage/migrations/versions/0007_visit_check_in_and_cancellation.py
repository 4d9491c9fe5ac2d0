"""visit check-in and cancellation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Adds to ``appointments``: ``arrived_at`` (when the patient checked in; the status ``arrived`` is a
new value of the existing ``status`` string), ``cancel_reason`` (why it was cancelled) and
``cancelled_late`` (cancelled inside the clinic's notice period; NULL for appointments cancelled
before this revision, whose lateness is not known).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from needleplan.storage.types import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("arrived_at", UtcDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("cancelled_late", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("cancelled_late")
        batch.drop_column("cancel_reason")
        batch.drop_column("arrived_at")

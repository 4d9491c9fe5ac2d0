"""appointment sequence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Adds ``appointments.sequence``: the iCalendar SEQUENCE of the appointment's event. It starts at 0
and goes up by one each time the appointment's time or practitioner changes, so a calendar that
imported the course's .ics updates the moved event when it imports the new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("sequence")

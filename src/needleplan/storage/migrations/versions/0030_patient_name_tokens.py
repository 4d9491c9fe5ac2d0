"""Patients found by any word of their names

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04

Adds ``patient_name_tokens``: the words of each patient's names after the first, as search keys
(``needleplan.domain.name_keys.later_words``: ``ludenscheidt`` of ``Müller-Lüdenscheidt``), so
the staff's search finds a name by the start of any of its words; filled for the patients stored
before it (only names of several words have rows). The downgrade drops the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | None = None
depends_on: str | None = None

#: Patients read per batch while the table is filled.
BATCH = 50_000


def _fill() -> None:
    from needleplan.domain.name_keys import later_words

    conn = op.get_bind()
    tokens = sa.table(
        "patient_name_tokens", sa.column("patient_id", sa.Integer), sa.column("token", sa.String)
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, given_key, family_key FROM patients WHERE id > :last "
                "ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        values = [
            {"patient_id": i, "token": w}
            for i, given, family in rows
            for w in sorted(later_words(given) | later_words(family))
        ]
        if values:
            conn.execute(tokens.insert(), values)
        last = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "patient_name_tokens",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_name_tokens_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("patient_id", "token", name=op.f("pk_patient_name_tokens")),
    )
    op.create_index(
        op.f("ix_patient_name_tokens_token"), "patient_name_tokens", ["token"], unique=False
    )
    _fill()


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_name_tokens_token"), table_name="patient_name_tokens")
    op.drop_table("patient_name_tokens")

"""Names' search keys

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04

Adds ``patients.given_key`` and ``patients.family_key``: each name case-folded with its accents
dropped (``needleplan.domain.name_keys``: ``Özdemir`` and ``ozdemir`` share ``ozdemir``), fills
them for every patient stored before it, indexes them, and drops migration 0026's indexes on
``lower(given_name)`` and ``lower(family_name)``, which the search no longer reads (SQLite's
``lower()`` folds ASCII letters only, so a name starting with ``Ö`` was not found as typed).
The downgrade restores those indexes and drops the keys.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | None = None
depends_on: str | None = None

#: Patients whose keys are written per statement batch.
BATCH = 20_000


def _fill_keys() -> None:
    from needleplan.domain.name_keys import name_key

    conn = op.get_bind()
    update = sa.text("UPDATE patients SET given_key = :g, family_key = :f WHERE id = :i")
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, given_name, family_name FROM patients WHERE id > :last "
                "ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        conn.execute(update, [{"g": name_key(g), "f": name_key(f), "i": i} for i, g, f in rows])
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column(
        "patients", sa.Column("given_key", sa.String(length=200), server_default="", nullable=False)
    )
    op.add_column(
        "patients",
        sa.Column("family_key", sa.String(length=200), server_default="", nullable=False),
    )
    _fill_keys()
    op.create_index("ix_patients_family_key", "patients", ["family_key", "id"], unique=False)
    op.create_index("ix_patients_given_key", "patients", ["given_key", "id"], unique=False)
    op.drop_index("ix_patients_family_name_lower", table_name="patients")
    op.drop_index("ix_patients_given_name_lower", table_name="patients")
    if op.get_bind().dialect.name == "postgresql":  # the planner's statistics of the new keys
        op.execute("ANALYZE patients")


def downgrade() -> None:
    op.create_index(
        "ix_patients_family_name_lower", "patients", [sa.text("lower(family_name)")], unique=False
    )
    op.create_index(
        "ix_patients_given_name_lower", "patients", [sa.text("lower(given_name)")], unique=False
    )
    op.drop_index("ix_patients_given_key", table_name="patients")
    op.drop_index("ix_patients_family_key", table_name="patients")
    # Not batch mode: rebuilding the table on SQLite would lose the expression indexes of 0026,
    # which SQLite cannot reflect; SQLite drops a column itself since 3.35.
    op.drop_column("patients", "family_key")
    op.drop_column("patients", "given_key")

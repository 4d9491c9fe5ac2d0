"""TOTP secrets sealed with the server's key

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03

Widens ``account_security.totp_secret`` and ``totp_pending`` to 200 characters and seals every
value stored in clear with the server's key (AES-256-GCM, ``needleplan.storage.secret_key``:
``NEEDLEPLAN_SECRET_KEY``, ``NEEDLEPLAN_SECRET_KEY_FILE`` or ``secret.key`` in the data folder,
created 0600 when missing). The downgrade opens them again (it needs the same key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("totp_secret", "totp_pending")


def _rewrite(sealing: bool) -> None:
    from needleplan.storage.secret_key import is_sealed, seal, server_key, unseal

    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT user_id, totp_secret, totp_pending FROM account_security")
    ).all()
    if not rows:
        return
    key = server_key(conn.engine)
    for user_id, *values in rows:
        changes = {}
        for column, value in zip(_COLUMNS, values, strict=True):
            if value is None or is_sealed(value) == sealing:
                continue
            context = f"account_security.{column}:{user_id}"
            changes[column] = seal(key, value, context) if sealing else unseal(key, value, context)
        if changes:
            assignments = ", ".join(f"{c} = :{c}" for c in changes)
            conn.execute(
                sa.text(f"UPDATE account_security SET {assignments} WHERE user_id = :user_id"),
                {**changes, "user_id": user_id},
            )


def upgrade() -> None:
    with op.batch_alter_table("account_security") as batch:
        for column in _COLUMNS:
            batch.alter_column(
                column, existing_type=sa.String(length=64), type_=sa.String(length=200)
            )
    _rewrite(sealing=True)


def downgrade() -> None:
    _rewrite(sealing=False)
    with op.batch_alter_table("account_security") as batch:
        for column in _COLUMNS:
            batch.alter_column(
                column, existing_type=sa.String(length=200), type_=sa.String(length=64)
            )

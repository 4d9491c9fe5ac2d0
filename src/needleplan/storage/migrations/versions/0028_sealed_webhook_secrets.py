"""Webhook secrets sealed with the server's key

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04

Widens ``webhook_endpoints.secret`` to 400 characters (a sealed 200-character secret takes 304)
and seals every value stored in clear with the server's key (AES-256-GCM,
``needleplan.storage.secret_key``, bound to the endpoint's id), as 0027 did for the TOTP
secrets. The downgrade opens them again (it needs the same key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | None = None
depends_on: str | None = None


_REMEDY = "remove the webhook endpoint and add it again (needleplan webhook remove / add)"


def _rewrite(sealing: bool) -> None:
    from needleplan.storage.secret_key import is_sealed, seal, server_key, unseal

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret FROM webhook_endpoints")).all()
    todo = [(i, v) for i, v in rows if v is not None and is_sealed(v) != sealing]
    if not todo:
        return
    key = server_key(conn.engine)
    for endpoint_id, value in todo:
        context = f"webhook_endpoints.secret:{endpoint_id}"  # as the repository binds it
        new = seal(key, value, context) if sealing else unseal(key, value, context, remedy=_REMEDY)
        conn.execute(
            sa.text("UPDATE webhook_endpoints SET secret = :s WHERE id = :i"),
            {"s": new, "i": endpoint_id},
        )


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(length=200), type_=sa.String(length=400)
        )
    _rewrite(sealing=True)


def downgrade() -> None:
    _rewrite(sealing=False)
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(length=400), type_=sa.String(length=200)
        )

"""Staff accounts, sign-in, tokens, audit, rate limits and site settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    display_name: Mapped[str] = mapped_column(String(120), default="", server_default="")


class AuditRow(Base):
    """Who read or changed which patient record, and when. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class ApiTokenRow(Base):
    """A bearer token for integrations: only its SHA-256 digest is stored; revoking keeps the row."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: who issued it (the owner, or an admin for an account without clinical access)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scope: Mapped[str] = mapped_column(String(10), default="write", server_default="write")
    expires_at: Mapped[datetime]


class StaffSessionRow(Base):
    """A signed-in browser session: the cookie holds a random token, only its SHA-256 is stored.

    Signing out, an admin's revocation, a password change or closing the account sets
    ``revoked_at``; the session is then refused on its next request.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class RateLimitRow(Base):
    """A token bucket of a rate limit shared by every server process (storage/rate_limits.py).

    ``bucket`` names the limit and the client (``api:<address>``, ``login-user:<name>``); times
    are wall-clock seconds since the epoch; ``full_at`` is when the bucket is full again, after
    which the row means nothing and may be deleted.
    """

    __tablename__ = "rate_limits"

    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    full_at: Mapped[float] = mapped_column(Float, index=True)


class IdempotencyKeyRow(Base):
    """The first answer to a booking request carrying an idempotency key (a form's hidden
    field or the API's ``Idempotency-Key`` header), replayed for the same key instead of booking
    again (storage/repositories/idempotency.py).

    ``scope`` is the route and the account (a key only replays for whoever sent it); a row
    without ``status`` is a request still being answered.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(120), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AccountSecurityRow(Base):
    """An account's second factor and password state (issue 17, accounts): the TOTP secret once
    confirmed (``totp_pending`` while enrolling), the last accepted time step (a code is never
    accepted twice) and whether the password must be changed at the next sign-in (after an
    admin reset it). Both secrets are stored sealed with the server's key (AES-256-GCM,
    :mod:`needleplan.storage.secret_key`), never in clear."""

    __tablename__ = "account_security"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_pending: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    updated_at: Mapped[datetime]


class RecoveryCodeRow(Base):
    """A single-use recovery code of an account, stored as its SHA-256 digest only."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SiteSettingRow(Base):
    """One clinic-wide setting (``two_factor_required``, ``retention_years``, ...) as text."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(40), default="")


class WorkerHeartbeatRow(Base):
    """When each worker process last finished a round (``/readyz`` checks it is recent)."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime]

"""Web settings, read from the environment (prefix ``NEEDLEPLAN_``) and an optional ``.env`` file.

Validated once at start: a bad value stops the server with a message naming the variable. In
production mode (``NEEDLEPLAN_ENVIRONMENT=production``) the server refuses to start with the
development secret or a secret shorter than 32 characters, and session cookies get ``Secure``.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from needleplan.exceptions import ConfigError, FieldProblem

#: The development secret: a marker the server refuses in production.
DEV_SECRET = "dev-only-insecure-secret-change-me"
MIN_PRODUCTION_SECRET = 32
MIN_METRICS_TOKEN = 24


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything the web app reads from its environment.

    Every field maps to ``NEEDLEPLAN_<FIELD>`` (e.g. ``NEEDLEPLAN_SECRET_KEY``).
    """

    model_config = SettingsConfigDict(
        env_prefix="NEEDLEPLAN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    environment: Environment = Environment.DEVELOPMENT
    secret_key: str = Field(default=DEV_SECRET, min_length=16, description="signs cookies")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Staff sessions end `session_max_age_s` after sign-in, or after `idle_timeout_s` unused.
    session_max_age_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    idle_timeout_s: int = Field(default=30 * 60, ge=300, le=7 * 24 * 3600)
    # Public API: a token bucket per client of `api_burst` requests refilled at `api_per_minute`.
    api_per_minute: float = Field(default=60.0, gt=0)
    api_burst: int = Field(default=20, ge=1)
    # Login attempts per client and per user name.
    login_per_minute: float = Field(default=5.0, gt=0)
    login_burst: int = Field(default=5, ge=1)
    # Patient portal pages (/p/{token}/...) per client: guessing links stays slow.
    portal_per_minute: float = Field(default=30.0, gt=0)
    portal_burst: int = Field(default=30, ge=1)
    # Forecast requests are capped so a public caller cannot ask for unbounded work.
    max_draws: int = Field(default=2000, ge=10, le=20000)
    max_years: float = Field(default=15.0, gt=0, le=30)
    # The clinic calendar (TOML, docs/scheduling.md) the staff workspace books in; None: the
    # bundled example clinic.
    clinic_file: Path | None = None
    # Request bodies larger than this are refused (413) before they are read [bytes];
    # `max_body_overrides` sets another limit for paths under a prefix (JSON in the environment,
    # e.g. NEEDLEPLAN_MAX_BODY_OVERRIDES='{"/app/import": 20971520}').
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_body_overrides: dict[str, Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)]] = {}
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed: a comma-
    # separated list of addresses or networks (e.g. "127.0.0.1" when Caddy runs on this
    # machine). Empty (the default): no proxy is trusted and the connection's own address is the
    # client's, so no local process can pick the address rate limits and logs see.
    trusted_proxies: str = ""
    # The server's log lines: one JSON object per line ("json", the default) or text ("text").
    log_format: Literal["json", "text"] = "json"
    # A message worker is configured (the systemd worker unit, `serve --with-worker`): /readyz
    # answers 503 when no worker finished a pass within this many seconds. 0 (the default): no
    # worker is expected and /readyz does not look.
    worker_stale_after_s: int = Field(default=0, ge=0, le=7 * 24 * 3600)
    # The bearer token Prometheus sends to read /metrics; empty (the default): no /metrics.
    metrics_token: str = Field(default="", description="reads /metrics")

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: str) -> str:
        if value and len(value) < MIN_METRICS_TOKEN:
            raise ValueError(
                f"must be empty (no /metrics) or at least {MIN_METRICS_TOKEN} characters"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        entries = [e.strip() for e in value.split(",") if e.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        return ",".join(entries)

    @property
    def production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if self.production:
            if self.secret_key == DEV_SECRET:
                raise ValueError(
                    "NEEDLEPLAN_SECRET_KEY is the development default; set a random secret "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if len(self.secret_key) < MIN_PRODUCTION_SECRET:
                raise ValueError(
                    f"NEEDLEPLAN_SECRET_KEY must have at least {MIN_PRODUCTION_SECRET} "
                    "characters in production"
                )
        return self


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err.get("loc", ())]
            field = "NEEDLEPLAN_" + loc[0].upper() if loc else "NEEDLEPLAN_SECRET_KEY"
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            value = err.get("input")
            if field in ("NEEDLEPLAN_SECRET_KEY", "NEEDLEPLAN_METRICS_TOKEN") or isinstance(
                value, dict
            ):
                value = "<hidden>"
            problems.append(FieldProblem(field, value, msg))
        raise ConfigError(problems, source="settings") from None

"""Where messages go: read once from the environment (docs/messages.md).

``NEEDLEPLAN_SMTP_URL``      ``smtp://user:pass@host:587`` (STARTTLS when offered, required when
                             a password is sent to a host that is not loopback),
                             ``smtps://...:465`` (implicit TLS); unset: e-mail is not sent
                             (messages wait in the outbox and are retried).
``NEEDLEPLAN_MAIL_FROM``     the sender address (the clinic's name is the display name).
``NEEDLEPLAN_SMS_URL``       the SMS gateway endpoint; user:password in the URL is sent as HTTP
                             basic auth.
``NEEDLEPLAN_SMS_FORMAT``    ``json`` (default: ``{"to", "from", "text", "id"}`` as JSON) or
                             ``twilio`` (form fields ``To``, ``From``, ``Body``).
``NEEDLEPLAN_SMS_FROM``      the sender number or name for SMS.
``NEEDLEPLAN_PUBLIC_URL``    the web app's address, for unsubscribe links
                             (default ``http://127.0.0.1:8000``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from needleplan.domain.contact import normalise_email
from needleplan.exceptions import ConfigError


@dataclass(frozen=True)
class MessagingConfig:
    smtp_url: str | None = None
    mail_from: str = "clinic@localhost"
    sms_url: str | None = None
    sms_format: str = "json"
    sms_from: str = ""
    public_url: str = "http://127.0.0.1:8000"
    max_attempts: int = 6
    retry_base_s: int = 60
    lease_s: int = 300
    timeout_s: float = 20.0

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rsplit("@", 1)[-1] or "localhost"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MessagingConfig:
        """The configuration in ``env`` (default: the process environment), checked.

        Raises
        ------
        ConfigError
            naming the variable, its value and the rule it breaks.
        """
        source = os.environ if env is None else env
        smtp = source.get("NEEDLEPLAN_SMTP_URL", "").strip() or None
        if smtp is not None:
            parts = urlsplit(smtp)
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ConfigError.one(
                    "NEEDLEPLAN_SMTP_URL",
                    _safe(smtp),
                    "must be smtp://[user:pass@]host[:port] or smtps://...",
                )
        sender = source.get("NEEDLEPLAN_MAIL_FROM", "").strip() or "clinic@localhost"
        if sender != "clinic@localhost":
            try:
                sender = normalise_email(sender)
            except ValueError as exc:
                raise ConfigError.one("NEEDLEPLAN_MAIL_FROM", sender, str(exc)) from None
        sms = source.get("NEEDLEPLAN_SMS_URL", "").strip() or None
        if sms is not None and urlsplit(sms).scheme not in ("http", "https"):
            raise ConfigError.one("NEEDLEPLAN_SMS_URL", _safe(sms), "must be an http(s):// URL")
        fmt = source.get("NEEDLEPLAN_SMS_FORMAT", "json").strip().lower() or "json"
        if fmt not in ("json", "twilio"):
            raise ConfigError.one("NEEDLEPLAN_SMS_FORMAT", fmt, "must be json or twilio")
        public = source.get("NEEDLEPLAN_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000"
        if urlsplit(public).scheme not in ("http", "https"):
            raise ConfigError.one("NEEDLEPLAN_PUBLIC_URL", public, "must be an http(s):// URL")
        return cls(
            smtp_url=smtp,
            mail_from=sender,
            sms_url=sms,
            sms_format=fmt,
            sms_from=source.get("NEEDLEPLAN_SMS_FROM", "").strip(),
            public_url=public.rstrip("/"),
        )


def _safe(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


__all__ = ["MessagingConfig"]

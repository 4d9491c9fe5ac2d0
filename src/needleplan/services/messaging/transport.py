"""Delivery: e-mail over SMTP and SMS through an HTTP gateway.

A transport either returns (the server accepted the message) or raises :class:`DeliveryError`
saying whether trying again may help (``permanent=False``: the server is down, busy or timed
out) or not (``permanent=True``: the address is refused, the gateway rejects the request).
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from functools import cache
from urllib.parse import unquote, urlencode, urlsplit

from needleplan.domain.messages import OutboxMessage
from needleplan.services.messaging.config import MessagingConfig, _safe

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@cache
def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context (built once: loading the CA store takes about 0.1 s)."""
    return ssl.create_default_context()


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def build_email(
    message: OutboxMessage,
    config: MessagingConfig,
    clinic_name: str,
    unsubscribe_url: str | None,
) -> EmailMessage:
    """The MIME message: plain text + HTML alternative, attachments, stable Message-ID."""
    assert message.recipient
    assert message.message_id
    assert message.body_text is not None
    mail = EmailMessage()
    mail["From"] = formataddr((clinic_name, config.mail_from))
    mail["To"] = message.recipient
    mail["Subject"] = message.subject or clinic_name
    mail["Message-ID"] = message.message_id
    mail["Date"] = formatdate((message.sent_at or message.created_at).timestamp(), localtime=False)
    if unsubscribe_url:
        mail["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.body_text)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    for a in message.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        mail.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return mail


def send_email(mail: EmailMessage, config: MessagingConfig) -> None:
    """Hand ``mail`` to the SMTP server of ``NEEDLEPLAN_SMTP_URL``."""
    if config.smtp_url is None:
        raise DeliveryError("NEEDLEPLAN_SMTP_URL is not set", permanent=False)
    parts = urlsplit(config.smtp_url)
    host = parts.hostname or "localhost"
    implicit_tls = parts.scheme == "smtps"
    port = parts.port or (465 if implicit_tls else 587)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else ""
    try:
        client: smtplib.SMTP
        if implicit_tls:
            client = smtplib.SMTP_SSL(host, port, timeout=config.timeout_s, context=_tls_context())
        else:
            client = smtplib.SMTP(host, port, timeout=config.timeout_s)
        with client:
            client.ehlo()
            if not implicit_tls:
                if client.has_extn("starttls"):
                    client.starttls(context=_tls_context())
                    client.ehlo()
                elif user is not None and host not in LOOPBACK:
                    raise DeliveryError(
                        f"{_safe(config.smtp_url)} offers no STARTTLS; "
                        "refusing to send the password in clear text",
                        permanent=False,
                    )
            if user is not None:
                client.login(user, password)
            refused = client.send_message(mail)
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"recipient refused: {_first(exc.recipients)}", permanent=True
        ) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {text[:200]}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"SMTP server {host}:{port} unreachable ({exc.__class__.__name__}: {exc})"[:300],
            permanent=False,
        ) from None
    if refused:
        raise DeliveryError(f"recipient refused: {_first(refused)}", permanent=True)


def _first(recipients: dict[str, tuple[int, bytes]]) -> str:
    for address, (code, text) in recipients.items():
        return f"{address} ({code} {text.decode('utf-8', 'replace')[:120]})"
    return "?"


def send_sms(message: OutboxMessage, config: MessagingConfig) -> None:
    """POST the text to ``NEEDLEPLAN_SMS_URL`` (generic JSON, or Twilio's form fields)."""
    if config.sms_url is None:
        raise DeliveryError("NEEDLEPLAN_SMS_URL is not set", permanent=False)
    assert message.recipient
    assert message.body_text is not None
    parts = urlsplit(config.sms_url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    url = parts._replace(netloc=netloc).geturl()
    headers = {"Idempotency-Key": message.message_id or str(message.id)}
    if config.sms_format == "twilio":
        body = urlencode(
            {"To": message.recipient, "From": config.sms_from, "Body": message.body_text}
        ).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(
            {
                "to": message.recipient,
                "from": config.sms_from,
                "text": message.body_text,
                "id": message.message_id,
            }
        ).encode()
        headers["Content-Type"] = "application/json"
    if parts.username:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        retry = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"SMS gateway answered {exc.code}", permanent=not retry) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        raise DeliveryError(
            f"SMS gateway {parts.hostname} unreachable ({exc})"[:300], permanent=False
        ) from None


__all__ = ["DeliveryError", "build_email", "send_email", "send_sms"]

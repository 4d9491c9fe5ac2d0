"""The loopback SMTP server and SMS gateway fixtures (tests/messaging_support.py)."""

from tests.messaging_support import sms_gateway, smtp_server

__all__ = ["sms_gateway", "smtp_server"]

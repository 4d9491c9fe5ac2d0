"""Patient messages: the outbox, rendering, delivery (SMTP, SMS gateway) and the worker.

Import the submodules directly (this package imports nothing itself, so the booking services can
import :mod:`.enqueue` without pulling in rendering and delivery):

* :mod:`.enqueue`: the one call each use-case makes, inside its own transaction;
* :mod:`.config`: ``NEEDLEPLAN_SMTP_URL``, ``NEEDLEPLAN_MAIL_FROM``, ``NEEDLEPLAN_SMS_URL``, ...;
* :mod:`.render`: templates per kind (Jinja2, plain text + HTML + SMS), consent rules, ``.ics``;
* :mod:`.transport`: SMTP (STARTTLS / implicit TLS) and the SMS HTTP gateways;
* :mod:`.worker`: plans reminders and recall outreach, claims due messages, sends, records;
* :mod:`.log`: the message log per patient, resend, one-click unsubscribe.

See docs/messages.md.
"""

"""``needleplan worker``: deliver patient messages (the outbox) by e-mail and SMS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records

if TYPE_CHECKING:
    from datetime import datetime

#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


def parse_now(value: str | None) -> datetime | None:
    """``--now`` as an aware datetime (InputError naming the option otherwise)."""
    from datetime import datetime

    from needleplan.exceptions import InputError

    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError.one(
            "--now", value, "must be an ISO time with its offset, e.g. 2030-08-20T10:00+02:00"
        ) from None
    if at.tzinfo is None:
        raise InputError.one("--now", value, "needs a UTC offset, e.g. +02:00 or Z")
    return at


@app.command("worker")
def worker(
    once: bool = typer.Option(
        False, "--once", help="Deliver what is due now (or at --now), then exit (for cron, tests)."
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        help="With --once: act as if it were this time (ISO 8601 with offset), e.g. for a demo.",
    ),
    interval: float = typer.Option(
        30.0, "--interval", min=1.0, max=3600.0, help="Seconds between passes (without --once)."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Send patient messages: confirmations, change notices, reminders, recall outreach.

    Mail goes to NEEDLEPLAN_SMTP_URL (from NEEDLEPLAN_MAIL_FROM), SMS to NEEDLEPLAN_SMS_URL;
    see docs/messages.md. Several workers may run against one database: each message is sent
    once.
    """
    import os
    import signal
    import threading

    from needleplan.exceptions import InputError
    from needleplan.services.clinic_calendar import effective_clinic
    from needleplan.services.messaging.config import MessagingConfig
    from needleplan.services.messaging.worker import run_forever, run_once

    at = parse_now(now)
    if at is not None and not once:
        raise InputError.one("--now", now, "only works with --once")
    config = MessagingConfig.from_env()
    clinic_file = os.environ.get("NEEDLEPLAN_CLINIC_FILE") or None
    with open_records(database) as db:
        if once:
            report = run_once(db, effective_clinic(db, clinic_file).clinic, now=at, config=config)
            console.print(f"messages: {report.summary()}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        console.print(f"message worker on {db.display_url} every {interval:g} s (Ctrl-C stops)")
        try:
            run_forever(
                db,
                lambda: effective_clinic(db, clinic_file).clinic,
                stop,
                interval_s=interval,
                config=config,
            )
        except KeyboardInterrupt:
            stop.set()

"""Benchmark: the message worker's throughput to a local SMTP server (aiosmtpd on loopback).

Case: delivering 200 queued messages (contact-request acknowledgements, rendered from their
templates) with the worker's batches of 50. Baseline: the same messages one claim per message
(batch 1), i.e. a claim transaction per message.

Figures: messages per second, batches of 50, SQLite, one worker, a new SMTP connection per
message; and the same for visit confirmations, each of which reads her visit and gets its
portal link issued (a stored digest) when it is sent (about half the rate of the plain
acknowledgements on the shared development machine). Printed, never asserted.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from needleplan import services
from needleplan.domain.records import Lead
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import deliver_due
from needleplan.storage import Database

MESSAGES = 200
NOW = datetime(2030, 8, 20, 9, tzinfo=UTC)  # a weekday morning: no quiet hours


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.count += 1
        return "250 OK"


def _port() -> int:
    for port in range(18400, 18500):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18400-18499")


def _queued(n: int) -> tuple[Database, Path]:
    folder = Path(tempfile.mkdtemp(prefix="np-bench-msg-"))
    db = Database.open(f"sqlite:///{folder / 'm.sqlite3'}")
    for i in range(n):
        services.add_lead(
            db,
            Lead(f"b{i:05d}", f"Visitor {i}", f"v{i}@example.org", "", "", "", "ok", NOW),
        )
    return db, folder


def _queued_with_links(n: int) -> tuple[Database, Path]:
    """``n`` visit confirmations to ``n`` patients (each is sent with her portal link)."""
    from datetime import timedelta

    folder = Path(tempfile.mkdtemp(prefix="np-bench-msg-"))
    db = Database.open(f"sqlite:///{folder / 'm.sqlite3'}")
    ids = services.sync_practitioners(db, example_clinic())
    who = next(iter(ids.values()))
    for i in range(n):
        person = services.register_patient(
            db,
            {
                "given_name": "Visitor",
                "family_name": f"N{i:05d}",
                "birth_date": "1975-05-05",
                "email": f"p{i}@example.org",
            },
        )
        start = NOW + timedelta(days=1, minutes=30 * i)
        services.book_appointment(
            db, person.id, (start, start + timedelta(minutes=30), who), kind="review", now=NOW
        )
    return db, folder


def _deliver(batch: int, links: bool = False) -> float:
    """Seconds to deliver MESSAGES messages (fresh database and SMTP server each time)."""
    from aiosmtpd.controller import Controller

    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_port())
    controller.start()
    db, folder = _queued_with_links(MESSAGES) if links else _queued(MESSAGES)
    try:
        config = MessagingConfig(smtp_url=f"smtp://127.0.0.1:{controller.port}")
        t = time.perf_counter()
        report = deliver_due(db, example_clinic(), config, NOW, batch=batch)
        elapsed = time.perf_counter() - t
        assert report.sent == MESSAGES == sink.count
        return elapsed
    finally:
        controller.stop()
        db.dispose()
        shutil.rmtree(folder)


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        (f"deliver {MESSAGES} messages over SMTP", lambda: _deliver(50), lambda: _deliver(1)),
        (
            f"deliver {MESSAGES} messages with portal links (vs. without)",
            lambda: _deliver(50, links=True),
            lambda: _deliver(50),
        ),
    ]


def figures() -> list[tuple[str, str, str, bool]]:
    best = min(_deliver(50) for _ in range(3))
    rate = MESSAGES / best
    linked = MESSAGES / min(_deliver(50, links=True) for _ in range(3))
    return [
        (
            "worker throughput to local SMTP [messages/s]",
            f"{rate:.0f}",
            ">= 20",
            rate >= 20,
        ),
        (
            "worker throughput, each message with its portal link issued [messages/s]",
            f"{linked:.0f}",
            ">= 10",
            linked >= 10,
        ),
    ]

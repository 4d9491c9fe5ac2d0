"""Loopback servers for the message delivery tests (tests/services/messaging, tests/cli): a real SMTP server (aiosmtpd) and an HTTP SMS
gateway (http.server), on ports 18400-18499 of 127.0.0.1. Nothing talks to anything else."""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

PORTS = range(18400, 18500)
_lock = threading.Lock()
_next = 0


def free_port() -> int:
    """A port of this task's range that nothing listens on right now."""
    # Each pytest-xdist worker probes its own slice of the range, so two workers never both
    # find a port free and then race to listen on it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slot = int(worker) % 4 if worker.isdigit() else 0
    share = len(PORTS) // 4
    mine = PORTS[slot * share : (slot + 1) * share]
    with _lock:
        # start after the port handed out last, so a sender left over from an earlier test
        # (a retry in flight) never reaches the next test's server on a reused port
        global _next
        order = [*mine[_next % len(mine) :], *mine[: _next % len(mine)]]
        for port in order:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                # as the servers bind (SO_REUSEADDR): a port whose last connections wait out
                # TIME_WAIT is free for them; one with a listener is not
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                _next = mine.index(port) + 1
                return port
    raise RuntimeError("no free port in 18400-18499")


@dataclass
class MailSink:
    """What the SMTP server received (parsed messages, in arrival order)."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[MailSink]:
    sink = MailSink(free_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class SmsGateway:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://user:secret@127.0.0.1:{self.port}/send"


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            kind = self.headers.get("Content-Type", "")
            parsed: Any = (
                json.loads(body)
                if kind.startswith("application/json")
                else {k: v[0] for k, v in parse_qs(body.decode()).items()}
            )
            gateway.requests.append(
                {
                    "path": self.path,
                    "type": kind,
                    "auth": self.headers.get("Authorization"),
                    "key": self.headers.get("Idempotency-Key"),
                    "body": parsed,
                }
            )
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", gateway.port), Handler)
    gateway.server = server
    # Polled every 20 ms for shutdown (the default 0.5 s is waited out at every test's end).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


#: A weekday morning in Berlin (outside the default quiet hours), years ahead of the clock.
MORNING = datetime(2030, 8, 20, 8, 0, tzinfo=UTC)

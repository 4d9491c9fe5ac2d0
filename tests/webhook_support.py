"""A loopback webhook receiver for the webhook tests: a real HTTP server on 127.0.0.1, ports
18200-18299, that checks each request's HMAC-SHA256 signature against the endpoint's secret and
answers with the status codes the test scripts."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PORTS = range(18200, 18300)
_lock = threading.Lock()


def free_port() -> int:
    with _lock:
        for port in PORTS:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                # as the servers bind (SO_REUSEADDR): a port whose last connections wait out
                # TIME_WAIT is free for them; one with a listener is not
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port in 18200-18299")


SECRET = "s3cret-for-the-webhook-tests"


@dataclass
class Receiver:
    port: int
    secret: str = SECRET
    #: status codes to answer, in order; when used up, 200
    answers: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.received]


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = (
                "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
            )
            signature = self.headers.get("X-Needleplan-Signature", "")
            receiver.received.append(
                {
                    "body": json.loads(raw),
                    "raw": raw,
                    "signed": hmac.compare_digest(signature, expected),
                    "timestamp": self.headers.get("X-Needleplan-Timestamp"),
                    "event": self.headers.get("X-Needleplan-Event"),
                    "delivery": self.headers.get("X-Needleplan-Delivery"),
                    "type": self.headers.get("Content-Type"),
                }
            )
            code = receiver.answers.pop(0) if receiver.answers else 200
            if not hmac.compare_digest(signature, expected):
                code = 401
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    # Polled every 20 ms for shutdown (the default 0.5 s is waited out at every test's end).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

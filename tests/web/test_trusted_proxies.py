"""Issue 17 L1: X-Forwarded-For is believed only from the proxies the clinic configured
(``NEEDLEPLAN_TRUSTED_PROXIES``); by default no proxy is trusted, so a local process cannot pick
the client address rate limits and logs see. A real uvicorn server on loopback (ports
18700-18799) runs with the options ``needleplan serve`` passes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from needleplan.cli.serve import proxy_options
from needleplan.exceptions import ConfigError
from needleplan.web.settings import load_settings


async def _echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering with the client address the server gave it."""
    if scope["type"] != "http":
        return
    host = scope["client"][0] if scope.get("client") else "none"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": host.encode()})


def _free_port() -> int:
    for port in range(18700, 18800):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 18700-18799")


@contextlib.contextmanager
def _serve(trusted: str) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        _echo_client, host="127.0.0.1", port=port, log_level="warning", **proxy_options(trusted)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):  # at most 10 s
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


SPOOF = {"X-Forwarded-For": "203.0.113.9"}


def test_by_default_a_local_process_cannot_spoof_its_address() -> None:
    with _serve("") as url:
        assert httpx.get(url, headers=SPOOF).text == "127.0.0.1"


def test_a_configured_proxy_passes_the_real_client_address() -> None:
    with _serve("127.0.0.1") as url:
        assert httpx.get(url, headers=SPOOF).text == "203.0.113.9"
    with _serve("10.0.0.0/8") as url:  # a proxy elsewhere: loopback is not it
        assert httpx.get(url, headers=SPOOF).text == "127.0.0.1"


def test_a_bad_proxy_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_TRUSTED_PROXIES", "127.0.0.1, caddy.local")
    with pytest.raises(ConfigError) as err:
        load_settings()
    problem = err.value.problems[0]
    assert problem.field == "NEEDLEPLAN_TRUSTED_PROXIES"
    assert "caddy.local" in problem.rule

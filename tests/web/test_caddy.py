"""The shipped deploy/Caddyfile in front of a production ``needleplan serve``, over real HTTPS.

The Caddyfile is adapted only where a test must differ from a clinic's server: loopback ports in
18800-18899 instead of 80/443, Caddy's internal CA (``local_certs``, ``tls internal``) instead
of a public one, no admin endpoint. needleplan runs as in deploy/needleplan.service: production
settings, two worker processes, ``NEEDLEPLAN_TRUSTED_PROXIES=127.0.0.1`` and prometheus-client's
multiprocess folder. The client connects from 127.0.0.2 so its address differs from the proxy's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from needleplan import services
from needleplan.storage import Database
from tests.cli_support import migrated_sqlite

from .conftest import csrf_from

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(
    CADDY is None,
    reason="caddy is not on PATH (Debian: apt-get install caddy; .ci/run installs it)",
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "caddy-test-secret-0123456789-abcdefghijklmnop"
METRICS_TOKEN = "caddy-test-metrics-token-0123456789"
PASSWORD = "admin-password-for-the-caddy-test"
CLIENT_ADDRESS = "127.0.0.2"  # the client's own loopback address; Caddy connects from 127.0.0.1
SPOOFED = "203.0.113.7"
HSTS = "max-age=63072000; includeSubDomains"


def _free_ports(count: int) -> list[int]:
    found: list[int] = []
    for port in range(18800, 18900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    pytest.skip("not enough free ports in 18800-18899")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/Caddyfile changed shape: {old!r} is not there once"
    return text.replace(old, new)


def adapt_caddyfile(shipped: str, *, http_port: int, https_port: int, upstream: int) -> str:
    """The shipped Caddyfile on loopback ports with Caddy's internal CA."""
    text = _replace_once(
        shipped,
        "\temail admin@clinic.example.org\n",
        f"\tlocal_certs\n\tskip_install_trust\n\tadmin off\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n",
    )
    text = _replace_once(
        text,
        "\nclinic.example.org {\n",
        f"\nhttps://127.0.0.1:{https_port} {{\n\tbind 127.0.0.1\n\ttls internal\n",
    )
    return _replace_once(
        text, "reverse_proxy 127.0.0.1:8000", f"reverse_proxy 127.0.0.1:{upstream}"
    )


@dataclass
class Stack:
    https_url: str
    app_url: str
    server_log: Path
    ca_file: Path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEEDLEPLAN_", "PROMETHEUS_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("caddy")
    http_port, https_port, app_port = _free_ports(3)
    # A copy of the session's migrated SQLite file (0600), so nobody runs the migrations again.
    database = migrated_sqlite(_sqlite_template, tmp / "clinic.sqlite3")
    env = _clean_env(tmp)
    # The first admin, in this process (`needleplan user add` has its own tests).
    records = Database.open(database, upgrade=False)
    try:
        services.create_user(records, "admin", PASSWORD, "admin")
    finally:
        records.dispose()
    (tmp / "metrics").mkdir()
    server_env = {
        **env,
        "NEEDLEPLAN_ENVIRONMENT": "production",
        "NEEDLEPLAN_SECRET_KEY": SECRET,
        "NEEDLEPLAN_TRUSTED_PROXIES": "127.0.0.1",
        "NEEDLEPLAN_METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    }
    server_log = tmp / "serve.log"
    caddyfile = tmp / "Caddyfile"
    shipped = (ROOT / "deploy" / "Caddyfile").read_text()
    caddyfile.write_text(
        adapt_caddyfile(shipped, http_port=http_port, https_port=https_port, upstream=app_port)
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with server_log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "needleplan",
                        "serve",
                        "--database",
                        database,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(app_port),
                        "--workers",
                        "2",
                    ],
                    env=server_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        with (tmp / "caddy.log").open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [str(CADDY), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        https_url = f"https://127.0.0.1:{https_port}"
        deadline = time.monotonic() + 90
        status = None
        # Waiting only: the certificate is checked against Caddy's root by the tests below.
        with httpx.Client(verify=False, timeout=5) as probe:
            while time.monotonic() < deadline:
                for process in processes:
                    assert process.poll() is None, (
                        f"{process.args[0]} exited: {server_log.read_text()[-2000:]}"
                        f"{(tmp / 'caddy.log').read_text()[-2000:]}"
                    )
                try:
                    status = probe.get(f"{https_url}/readyz").status_code
                except httpx.HTTPError:
                    status = None
                if status == 200:
                    break
                time.sleep(0.2)
        assert status == 200, (
            f"no answer through Caddy in 90 s: {server_log.read_text()[-2000:]}"
            f"{(tmp / 'caddy.log').read_text()[-2000:]}"
        )
        ca_file = tmp / "xdg-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        yield Stack(https_url, f"http://127.0.0.1:{app_port}", server_log, ca_file)
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    """A client on 127.0.0.2 that trusts Caddy's internal root certificate only."""
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=context)
    with httpx.Client(base_url=stack.https_url, transport=transport, timeout=20) as c:
        yield c


def _logged_request(log: Path, request_id: str) -> dict[str, object]:
    """The app's ``request`` line (the access log) of the request that sent ``request_id``
    (bounded wait: a worker writes it after answering)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                entry: dict[str, object] = json.loads(line)
                if entry.get("event") == "request" and entry.get("request_id") == request_id:
                    return entry
        time.sleep(0.1)
    raise AssertionError(f"no request line with id {request_id} in the server log")


def test_the_page_answers_over_https_with_one_hsts_header_and_compression(
    client: httpx.Client,
) -> None:
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.url.scheme == "https"
    assert "csrf_token" in response.text
    assert response.headers.get_list("strict-transport-security") == [HSTS]
    assert response.headers["content-encoding"] == "gzip"
    assert "server" not in response.headers


def test_the_session_cookie_is_secure_behind_the_proxy(client: httpx.Client) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/app/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    cookies = [c for c in response.headers.get_list("set-cookie") if "needleplan_session=" in c]
    assert len(cookies) == 1
    attributes = {part.strip().lower() for part in cookies[0].split(";")}
    assert {"secure", "httponly"} <= attributes
    assert client.get("/app/").status_code == 200  # the cookie works over HTTPS


def test_the_real_client_address_passes_through_and_a_spoofed_one_does_not(
    client: httpx.Client, stack: Stack
) -> None:
    request_id = f"probe-{uuid.uuid4().hex}"
    headers = {"X-Forwarded-For": SPOOFED, "X-Request-ID": request_id}
    assert client.get("/no-such-page", headers=headers).status_code == 404
    entry = _logged_request(stack.server_log, request_id)
    assert entry["client"] == CLIENT_ADDRESS  # Caddy's X-Forwarded-For, believed from 127.0.0.1
    assert SPOOFED not in json.dumps(entry)


def test_a_client_calling_the_app_directly_cannot_spoof_its_address(stack: Stack) -> None:
    request_id = f"direct-{uuid.uuid4().hex}"
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    with httpx.Client(transport=transport, timeout=20) as direct:
        answer = direct.get(
            stack.app_url + "/no-such-page",
            headers={"X-Forwarded-For": SPOOFED, "X-Request-ID": request_id},
        )
    assert answer.status_code == 404
    entry = _logged_request(stack.server_log, request_id)
    assert entry["client"] == CLIENT_ADDRESS
    assert SPOOFED not in json.dumps(entry)


def _healthz_count(client: httpx.Client) -> float:
    body = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    pattern = re.compile(
        r'^needleplan_http_requests_total\{(?=[^}]*route="/healthz")(?=[^}]*status="200")'
        r"[^}]*\} (\S+)$",
        re.MULTILINE,
    )
    return sum(float(v) for v in pattern.findall(body))


def test_metrics_through_the_proxy_need_the_token_and_sum_both_workers(
    client: httpx.Client,
) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/readyz").json()["status"] == "ready"
    before = _healthz_count(client)
    for _ in range(8):
        assert client.get("/healthz").status_code == 200
    assert _healthz_count(client) - before == 8

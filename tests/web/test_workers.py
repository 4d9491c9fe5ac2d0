"""`needleplan serve --workers 2`: two real uvicorn worker processes on one database share the
public API's rate limit and the sign-in throttle, so a limit allows exactly as many requests as
with one process. Runs on SQLite and on PostgreSQL (pgserver); the servers listen on loopback
ports 18100-18199 and every loop is bounded by a request count."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .conftest import REFERENCE, csrf_from

PORTS = range(18100, 18200)
STARTED = re.compile(r"Started server process \[(\d+)\]")


def free_port(avoid: set[int] | frozenset[int] = frozenset()) -> int:
    # The other modules of this range (live servers) scan it from its start; the worker tests
    # scan from its far end, per pytest-xdist worker, so a port found free is not taken by a
    # neighbour before uvicorn binds it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    shift = 10 * (int(worker) % 4) if worker.isdigit() else 0
    ordered = list(reversed(PORTS))
    for port in ordered[shift:] + ordered[:shift]:
        if port in avoid:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 18100-18199")


@contextlib.contextmanager
def serve_workers(
    database_url: str, workers: int, **settings: str
) -> Iterator[tuple[str, set[str]]]:
    """Run ``needleplan serve --workers N``; yield its address and the worker process ids.

    A port found free can still be taken by another process before the server binds it (the
    server needs a second or two to start): then the start is tried again on another port, three
    times at most.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEDLEPLAN_")}
    env.update({"PYTHONUNBUFFERED": "1", "NEEDLEPLAN_ENVIRONMENT": "test"})
    env.update({f"NEEDLEPLAN_{k.upper()}": v for k, v in settings.items()})
    exe = Path(sys.executable).with_name("needleplan")
    taken: set[int] = set()
    for _attempt in range(3):
        port = free_port(avoid=taken)
        command = [str(exe), "serve", "--workers", str(workers), "--port", str(port)]
        proc = subprocess.Popen(
            [*command, "--database", database_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stderr is not None
        pids: set[str] = set()
        ready = 0
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if found := STARTED.search(line):
                pids.add(found.group(1))
            ready += "Application startup complete" in line
            if ready == workers:
                break
        if ready == workers:
            break
        proc.terminate()
        proc.communicate(timeout=30)
        proc.stderr.close()
        if not any("Address already in use" in line for line in seen):
            pytest.fail("the workers did not start:\n" + "".join(seen[-30:]))
        taken.add(port)
    else:
        pytest.fail(f"ports {sorted(taken)} were all taken before the server could bind them")
    drain = threading.Thread(target=proc.stderr.read, daemon=True)  # keep the pipe flowing
    drain.start()
    try:
        yield f"http://127.0.0.1:{port}", pids
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        drain.join(timeout=30)
        proc.stderr.close()


def _plan_status(base: str) -> int:
    # A new connection per request, so the kernel hands requests to either worker.
    return httpx.post(f"{base}/api/v1/plan", json=REFERENCE, timeout=30).status_code


def test_two_workers_share_the_api_limit_and_the_sign_in_throttle(database_url: str) -> None:
    """API: a burst of 12 (refill 1 per minute) gives exactly 12 answers out of 36 concurrent
    requests, the rest 429. Sign-in: three attempts per user name, the fourth wrong password is
    refused with 429 whichever worker answers it. (One process: tests/web/test_ratelimit.py.)"""
    burst = 12
    settings = {"api_burst": str(burst), "api_per_minute": "1"}
    settings |= {"login_burst": "3", "login_per_minute": "1"}
    with serve_workers(database_url, 2, **settings) as (base, pids):
        assert len(pids) == 2
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: _plan_status(base), range(3 * burst)))
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each request
        with httpx.Client(base_url=base, limits=limits, timeout=30) as client:
            token = csrf_from(client.get("/login").text)
            form = {"username": "nobody", "password": "wrong-password", "csrf_token": token}
            logins = [client.post("/login", data=form).status_code for _ in range(6)]
    assert statuses.count(200) == burst
    assert statuses.count(429) == 2 * burst
    assert logins == [401, 401, 401, 429, 429, 429]

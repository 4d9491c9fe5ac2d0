"""API throughput against real uvicorn processes on loopback, measured by ``wrk``.

Side by side, with the same server settings (``needleplan.cli.serve.run_server``: uvicorn with
httptools, one log line per request: uvicorn's access line for the baseline, the app's
``request`` line for needleplan; 8 connections, one ``wrk`` thread): a trivial FastAPI endpoint
taking a small pydantic body (the
framework's ceiling, the baseline) and ``POST /api/v1/plan`` served by ``needleplan serve`` on a
SQLite clinic (rate limit counted on every request in the bucket table shared by the workers,
with a limit too high to refuse). At 1 and 2 worker processes (2 workers: the best of
``TRIALS`` runs of each server, as one run may load one worker only). Also ``POST /api/v1/forecast`` (300 draws, weekly points)
and the HTTP + JSON cost of the forecast with the daily curve over the library call: requests on
one keep-alive connection (a plain socket client, so the client costs what ``wrk``'s does)
alternating with library calls in this process, the median of the paired differences, so a
host whose speed drifts during the run (a shared machine) slows both sides of each pair alike.

``wrk`` is installed with apt-get when absent (root only); without it the rows say so. Ports
18100-18199 on 127.0.0.1; every run lasts a few seconds. Timings are printed, never asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

HERE = Path(__file__).resolve().parent
PORTS = range(18150, 18200)
SECONDS = 5
CONNECTIONS = 8
PAIRS = 300
#: Runs of each server with 2 workers; the best counts (see ``figures``).
TRIALS = 3
START_TIMEOUT_S = 120


# --- the baseline: a trivial endpoint with a small pydantic body ---------------------------------
class _Small(BaseModel):
    name: str
    age: int


def trivial_app() -> FastAPI:
    """The baseline app (a factory, served like needleplan's)."""
    app = FastAPI()

    @app.post("/echo")
    def _echo(body: _Small) -> dict[str, object]:
        return {"name": body.name, "age": body.age}

    return app


# --- servers and the load generator --------------------------------------------------------------
def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            capture_output=True,
            timeout=300,
        )
        found = shutil.which("wrk")
    return found


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18150-18199")


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start in {START_TIMEOUT_S} s")


@contextlib.contextmanager
def _server(argv: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=HERE
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEDLEPLAN_")}
    env.update({f"NEEDLEPLAN_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.contextmanager
def trivial_server(workers: int) -> Iterator[str]:
    port = _free_port()
    # The same runner and options as `needleplan serve` (cli/serve.py); the server runs in this
    # folder, so `bench_api` imports from it (spawned workers get the same sys.path).
    code = (
        "import sys; sys.path.insert(0, ''); "
        "from needleplan.cli.serve import run_server, log_config; "
        f"run_server('bench_api:trivial_app', workers={workers}, factory=True, host='127.0.0.1', "
        f"port={port}, proxy_headers=True, server_header=False, "
        "log_level='info', log_config=log_config())"
    )
    with _server([sys.executable, "-c", code], port, _env()) as base:
        yield base


@contextlib.contextmanager
def needleplan_server(workers: int, database: Path) -> Iterator[str]:
    port = _free_port()
    exe = str(Path(sys.executable).with_name("needleplan"))
    argv = [exe, "serve", "--workers", str(workers), "--port", str(port)]
    argv += ["--database", str(database)]
    env = _env(environment="test", api_burst=str(10**9), api_per_minute=str(1e12))
    with _server(argv, port, env) as base:
        yield base


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _rps(measured: dict[str, float]) -> float:
    return measured.get("rps", 0.0)


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    wrk: str, url: str, body: object, *, connections: int = CONNECTIONS, seconds: int = SECONDS
) -> dict[str, float]:
    """Requests/s, p50 and p99 latency [s] of POSTing ``body`` as JSON; errors counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        payload = json.dumps(body)
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{payload}]==]\n"
        )
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    # The latency distribution's own lines ("     99%    3.21ms"), not a "+/- Stdev" column
    # that happens to end in 99% ("68.99%" before the next line's "Req/Sec").
    p50 = re.search(r"^\s*50%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p50 is None or p99 is None or rps is None:
        raise RuntimeError(f"wrk gave no latency figures:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "p50": _seconds(p50.group(1)),
        "p99": _seconds(p99.group(1)),
        "errors": float(bad.group(1)) if bad else 0.0,
    }


def paired_cost(
    url: str, body: object, library: Callable[[], object], pairs: int = PAIRS
) -> tuple[float, float, float, float]:
    """The served request's time minus the library call's, measured in alternation: ``pairs``
    times one POST of ``body`` on one keep-alive connection (raw socket, the answer read to its
    last byte) then one ``library()`` call. Returns the median difference, its lower and upper
    quartiles [s] and the median library time [s]."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def served() -> float:
            t0 = time.perf_counter()
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(262144)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the server answered {head.splitlines()[0]!r}")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(rest) < length:
                chunk = sock.recv(262144)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                rest += chunk
            return time.perf_counter() - t0

        for _ in range(10):  # warm-up: both sides' caches
            served()
            library()
        differences, libraries = [], []
        for _ in range(pairs):
            request_time = served()
            t0 = time.perf_counter()
            library()
            library_time = time.perf_counter() - t0
            differences.append(request_time - library_time)
            libraries.append(library_time)
    q1, median, q3 = statistics.quantiles(differences, n=4)
    return median, q1, q3, statistics.median(libraries)


def _median_time(fn: Callable[[], object], rounds: int = 21) -> float:
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --- the bench -----------------------------------------------------------------------------------
def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return []  # everything here runs against real servers: see figures()


Row = tuple[str, str, str, bool, str, str]


def _throughput_row(name: str, got: dict[str, float], base: dict[str, float], need: float) -> Row:
    ratio = got["rps"] / base["rps"]
    errors = f", {got['errors']:.0f} errors" if got["errors"] else ""
    return (
        name,
        f"{got['rps']:,.0f} req/s (p50 {got['p50'] * 1e3:.1f} ms, p99 {got['p99'] * 1e3:.1f} ms"
        f"{errors})",
        f">= {need:.0%} of baseline",
        ratio >= need and not got["errors"],
        f"{base['rps']:,.0f} req/s (p50 {base['p50'] * 1e3:.1f} ms, p99 {base['p99'] * 1e3:.1f} ms)",
        f"{ratio:.0%}",
    )


def _json_row(library: Callable[[], object]) -> Row:
    """The daily-curve answer's own cost in the process: the document with its numpy curves
    and its orjson encoding (what the route adds to the library call besides HTTP)."""
    from needleplan.forecasting.result import ForecastResult
    from needleplan.web.routes.api import FastJSONResponse, forecast_document

    result = library()
    assert isinstance(result, ForecastResult)
    encode = _median_time(lambda: FastJSONResponse(forecast_document(result)).body)

    def per_element() -> object:  # the baseline: a Python float per point, stdlib json
        return json.dumps(result.to_json()).encode()

    baseline = _median_time(per_element)
    size = len(FastJSONResponse(forecast_document(result)).body)
    return (
        f"daily-curve forecast answer: document + JSON encoding in process ({size:,} bytes; "
        "baseline: to_json() + json.dumps)",
        f"{encode * 1e3:.2f} ms",
        "<= 2 ms",
        encode <= 0.002,
        f"{baseline * 1e3:.2f} ms",
        f"{baseline / encode:.1f}x",
    )


def _gzip_row(library: Callable[[], object]) -> Row:
    """What a browser's ``Accept-Encoding: gzip`` adds: compressing the daily-curve answer at the
    API's level against Starlette's default level 9 (the baseline)."""
    import gzip
    import inspect

    from needleplan.forecasting.result import ForecastResult
    from needleplan.web.routes.api import FastJSONResponse, forecast_document
    from needleplan.web.security import SelectiveGZip

    result = library()
    assert isinstance(result, ForecastResult)
    body = FastJSONResponse(forecast_document(result)).body
    level = inspect.signature(SelectiveGZip).parameters["api_level"].default
    ours = _median_time(lambda: gzip.compress(body, compresslevel=level))
    default = _median_time(lambda: gzip.compress(body, compresslevel=9))
    size, size9 = len(gzip.compress(body, level)), len(gzip.compress(body, 9))
    return (
        f"gzip of the daily-curve answer (what a browser asks for): level {level}, "
        f"{size:,} bytes (baseline: level 9, {size9:,} bytes)",
        f"{ours * 1e3:.2f} ms",
        "(informative)",
        True,
        f"{default * 1e3:.2f} ms",
        f"{default / ours:.1f}x",
    )


def figures() -> list[Row]:
    from needleplan.domain import reference_assessment
    from needleplan.forecasting.chain import forecast, series_days
    from needleplan.guideline import make_protocol
    from needleplan.web.routes.api import default_guideline

    wrk = _wrk()
    if wrk is None:
        return [("API throughput", "not measured: wrk is absent", "-", False, "-", "-")]
    ref = reference_assessment()
    plan_body = ref.to_json_dict()
    small = {"name": "Jane", "age": 50}
    weekly = {"assessment": plan_body, "draws": 300, "curve_step_days": 7}
    daily = {"assessment": plan_body, "draws": 300}

    def library() -> object:
        """What the route computes: the plan, its schedule, the forecast (no HTTP, no JSON)."""
        p = make_protocol(ref, default_guideline())
        days = series_days(p.initial_sessions, p.recommended_interval_days, years=10.0)
        return forecast(ref, days, years=10.0, draws=300, n_initial=p.initial_sessions)

    rows: list[Row] = [_json_row(library), _gzip_row(library)]
    folder = Path(tempfile.mkdtemp(prefix="needleplan-bench-api-"))
    try:
        measured: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
        for workers in (1, 2):
            database = folder / f"clinic-{workers}.sqlite3"
            trivial: dict[str, float] = {}
            plan: dict[str, float] = {}
            # Several workers: which worker accepts which of wrk's keep-alive connections is up
            # to the kernel and asyncio (an event loop accepts every connection waiting when it
            # wakes), so one run may load one worker only. The best of TRIALS runs, both sides.
            for _ in range(1 if workers == 1 else TRIALS):
                with trivial_server(workers) as base:
                    trivial = max(trivial, run_wrk(wrk, base + "/echo", small), key=_rps)
                with needleplan_server(workers, database) as base:
                    plan = max(plan, run_wrk(wrk, base + "/api/v1/plan", plan_body), key=_rps)
                    if workers == 1:
                        fc = run_wrk(wrk, base + "/api/v1/forecast", weekly)
                        cost, q1, q3, lib = paired_cost(base + "/api/v1/forecast", daily, library)
            measured[workers] = (plan, trivial)
            rows.append(
                _throughput_row(
                    f"POST /api/v1/plan, {workers} worker(s), {CONNECTIONS} connections "
                    "(baseline: trivial FastAPI endpoint, same settings"
                    + (f"; best of {TRIALS} runs each)" if workers > 1 else ")"),
                    plan,
                    trivial,
                    0.5,
                )
            )
            if workers == 1:
                rows.append(
                    (
                        "POST /api/v1/forecast, 300 draws, weekly points, 1 worker",
                        f"{fc['rps']:,.1f} req/s (p50 {fc['p50'] * 1e3:.1f} ms, "
                        f"p99 {fc['p99'] * 1e3:.1f} ms)",
                        "(measured before: 84 req/s)",
                        not fc["errors"],
                        f"{trivial['rps']:,.0f} req/s (trivial)",
                        f"{fc['rps'] / trivial['rps']:.1%}",
                    )
                )
                rows.append(
                    (
                        "HTTP + JSON cost of /api/v1/forecast with the daily curve "
                        f"(300 draws, 10 y; one connection, {PAIRS} requests each followed by "
                        "the library call: median of the paired differences, quartiles "
                        f"{q1 * 1e3:.1f}-{q3 * 1e3:.1f} ms)",
                        f"{cost * 1e3:.1f} ms",
                        "<= 2 ms",
                        cost <= 0.002,
                        f"library call {lib * 1e3:.1f} ms",
                        f"{(lib + cost) / lib:.2f}x",
                    )
                )
        one, two = measured[1][0], measured[2][0]
        rows.append(
            (
                "POST /api/v1/plan: 2 workers vs 1 (2 cores, load generator on the same cores)",
                f"{two['rps']:,.0f} req/s",
                "(informative)",
                True,
                f"{one['rps']:,.0f} req/s",
                f"{two['rps'] / one['rps']:.2f}x",
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in figures():
        print(" | ".join(str(x) for x in row))

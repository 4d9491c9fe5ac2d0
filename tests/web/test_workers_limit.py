"""A limit means the same with one worker and with four: `needleplan serve --workers N` shares
the public API's rate limit in the database, so a burst of B allows exactly B answers whatever N.
Real uvicorn servers on loopback ports 18500-18599; every loop is bounded by a request count.
(Four workers share the machine's two cores here: the run is short, 3 x B requests.) The four
workers are a subprocess; the one worker is the same command run in this process
(tests/cli_support.py's ``serve_in_this_process``: the same settings, database and app, served
by uvicorn in a thread; one worker is one process either way)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cli_support import serve_in_this_process

from . import test_workers
from .test_workers import _plan_status, free_port, serve_workers


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL: test_workers.py (2 workers)
@pytest.mark.parametrize("workers", [1, 4])
def test_the_api_limit_is_the_same_with_one_and_four_workers(
    database_url: str,
    workers: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(test_workers, "PORTS", range(18500, 18600))
    burst = 8
    settings = {"api_burst": str(burst), "api_per_minute": "1"}

    def burst_statuses(base: str) -> list[int]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(lambda _: _plan_status(base), range(3 * burst)))

    if workers == 1:
        port = free_port()
        env = {"NEEDLEPLAN_ENVIRONMENT": "test"}
        env |= {f"NEEDLEPLAN_{k.upper()}": v for k, v in settings.items()}
        args = ["--workers", "1", "--port", str(port), "--database", database_url]
        with serve_in_this_process(args, monkeypatch, capsys, env=env):
            statuses = burst_statuses(f"http://127.0.0.1:{port}")
    else:
        with serve_workers(database_url, workers, **settings) as (base, pids):
            assert len(pids) == workers
            statuses = burst_statuses(base)
    assert statuses.count(200) == burst
    assert statuses.count(429) == 2 * burst

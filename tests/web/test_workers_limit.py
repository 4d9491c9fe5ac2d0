"""A limit means the same with one worker and with four: `needleplan serve --workers N` shares
the public API's rate limit in the database, so a burst of B allows exactly B answers whatever N.
Real uvicorn processes on loopback ports 18500-18599; every loop is bounded by a request count.
(Four workers share the machine's two cores here: the run is short, 3 x B requests.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from . import test_workers
from .test_workers import _plan_status, serve_workers


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL: test_workers.py (2 workers)
@pytest.mark.parametrize("workers", [1, 4])
def test_the_api_limit_is_the_same_with_one_and_four_workers(
    database_url: str, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_workers, "PORTS", range(18500, 18600))
    burst = 8
    settings = {"api_burst": str(burst), "api_per_minute": "1"}
    with serve_workers(database_url, workers, **settings) as (base, pids):
        assert len(pids) == workers
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: _plan_status(base), range(3 * burst)))
    assert statuses.count(200) == burst
    assert statuses.count(429) == 2 * burst

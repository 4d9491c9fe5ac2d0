"""Cohort simulation at scale: a million patients of the example population over 10 years.

Each run is a separate process (``benchmarks/cohort_job.py``), so its peak resident memory is
its own and every run starts cold:

- the engine on 100,000 and 1,000,000 patients, serially (time per patient should stay flat:
  linear in patients), wall and CPU time and peak memory;
- the same 1,000,000 in 2 local worker processes (``--processes 2``: forked, the plans made
  once for the run) and on a 2-worker ``dask.distributed`` LocalCluster (cluster start-up timed
  apart), and whether each gives the very same result; CPU time counts every process of a run
  (the parent's and its finished children's);
- the baselines, each exported with ``git archive`` into a temporary folder: the engine of the
  previous round (commit ``LAST``) on the same 100,000 and 1,000,000 patients, and the engine
  before the million-patient rewrite (commit ``BASELINE``) on the 100,000;
- the 1-minute load average at each run (the machine is shared: CPU time is the figure to
  compare, wall time shows the load).

``NEEDLEPLAN_BENCH_COHORT=N`` replaces the million by N (e.g. 200000 on a slow machine).
The side-by-side case times the engine against the per-patient loop
(:func:`needleplan.cohort.naive.simulate_cohort_naive`) on 300 patients over 5 years; the two
give the same result (``tests/cohort`` checks it). ``python benchmarks/run.py cohort`` runs only
this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

from needleplan.cohort import load_population_spec, make_settings, simulate_cohort
from needleplan.cohort.naive import simulate_cohort_naive
from needleplan.forecasting.optimise import load_prices

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JOB = HERE / "cohort_job.py"
#: The engine before the million-patient rewrite (issue 16, point 1).
BASELINE = "e93f060"
#: The engine before the last round of work on it (float32 status, Philox draws, plans
#: broadcast to Dask workers): the "old engine" of the 100k and 1M comparisons.
LAST = "af7f6c3"
SPEC = load_population_spec()
PRICES = load_prices()
START = date(2026, 1, 1)


def _engine(patients: int) -> Callable[[], object]:
    settings = make_settings(start=START, years=5, seed=1)

    def run() -> object:
        return simulate_cohort(SPEC, settings, patients=patients, prices=PRICES)

    return run


def _naive(patients: int) -> Callable[[], object]:
    settings = make_settings(start=START, years=5, seed=1)

    def run() -> object:
        return simulate_cohort_naive(SPEC, settings, patients=patients, prices=PRICES)

    return run


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [("300 patients, 5 y: engine vs per-patient loop", _engine(300), _naive(300))]


def _job(patients: int, *args: str, src: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    out = subprocess.run(
        [sys.executable, str(JOB), str(patients), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _baseline_src(commit: str, folder: Path) -> Path | None:
    """The ``src`` folder of an older commit, or None outside a git checkout."""
    try:
        tar = subprocess.run(
            ["git", "archive", commit, "src"], cwd=ROOT, check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(folder, filter="data")
    return folder / "src"


def _wc(run: dict[str, Any]) -> str:
    return f"{run['cpu']:.1f} / {run['wall']:.1f}"


def figures() -> list[tuple[str | bool, ...]]:
    big = int(os.environ.get("NEEDLEPLAN_BENCH_COHORT", "1000000"))
    small = 100_000
    rows: list[tuple[str, ...]] = []
    label = f"{big:,}"
    with tempfile.TemporaryDirectory() as tmp:
        last = _baseline_src(LAST, Path(tmp) / "last")
        first = _baseline_src(BASELINE, Path(tmp) / "first")
        s100 = _job(small)
        s1m = _job(big)
        p1m = _job(big, "--processes", "2")
        d1m = _job(big, "--dask", "local:2")
        old1m = _job(big, src=last) if last is not None else None
        old100 = _job(small, src=last) if last is not None else None
        first100 = _job(small, src=first) if first is not None else None
    runs = [r for r in (s100, s1m, p1m, d1m, old1m, old100, first100) if r is not None]
    loads = [r["load"] for r in runs]
    rows.append(
        (
            f"{label} patients x 10 y, serial: CPU / wall (s); baseline: engine {LAST}",
            _wc(s1m),
            "<= 9 CPU",
            str(s1m["cpu"] <= 9.0),
            _wc(old1m) if old1m else "-",
            f"{old1m['cpu'] / s1m['cpu']:.2f}x CPU" if old1m else "-",
        )
    )
    rows.append(
        (
            f"{label} patients x 10 y, 2 local processes (--processes 2): CPU / wall (s)",
            _wc(p1m),
            "<= 10 wall, <= 14 CPU",
            str(p1m["wall"] <= 10.0 and p1m["cpu"] <= 14.0),
            f"serial {_wc(s1m)}",
            f"{s1m['wall'] / p1m['wall']:.2f}x wall",
        )
    )
    rows.append(
        (
            f"{label} patients x 10 y, 2-worker Dask: CPU / wall (s)",
            _wc(d1m),
            "<= 10 wall",
            str(d1m["wall"] <= 10.0),
            f"serial {_wc(s1m)}",
            f"{s1m['wall'] / d1m['wall']:.2f}x wall",
        )
    )
    rows.append(
        (
            "  the cluster's start-up, not included (s)",
            f"{d1m['startup']:.1f}",
            "-",
            "True",
        )
    )
    peak = max(s1m["rss_mib"], p1m["rss_mib"], d1m.get("worker_rss_mib", 0.0))
    rows.append(
        (
            f"{label} patients: peak resident memory of a process (MiB)",
            f"{peak:.0f}",
            "<= 1024",
            str(peak <= 1024),
            f"{old1m['rss_mib']:.0f} ({LAST}, serial)" if old1m else "-",
        )
    )
    per_small = s100["cpu"] / small * 1e6
    per_big = s1m["cpu"] / big * 1e6
    rows.append(
        (
            f"CPU per patient, 100k vs {label} (us)",
            f"{per_small:.1f} vs {per_big:.1f}",
            "linear (big <= small)",
            str(per_big <= per_small * 1.1),
        )
    )
    same = s1m["digest"] == d1m["digest"]
    rows.append((f"{label}: Dask result identical to serial", str(same), "True", str(same)))
    same = s1m["digest"] == p1m["digest"]
    rows.append((f"{label}: 2-process result identical to serial", str(same), "True", str(same)))
    if old100 is not None:
        rows.append(
            (
                f"100k patients x 10 y, serial: this engine CPU / wall (s), baseline {LAST}",
                _wc(s100),
                "-",
                "True",
                _wc(old100),
                f"{old100['cpu'] / s100['cpu']:.2f}x CPU",
            )
        )
    if first100 is not None:
        rows.append(
            (
                f"100k patients x 10 y, serial: this engine wall (s), baseline {BASELINE}",
                f"{s100['wall']:.1f}",
                "-",
                "True",
                f"{first100['wall']:.1f}",
                f"{first100['wall'] / s100['wall']:.1f}x",
            )
        )
    rows.append(
        (
            "load average (1 min) during these runs: min - max (2 cores)",
            f"{min(loads):.1f} - {max(loads):.1f}",
            "-",
            "True",
        )
    )
    return [(r[0], r[1], r[2], r[3] == "True", *r[4:]) for r in rows]

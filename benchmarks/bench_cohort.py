"""Cohort simulation at scale: a million patients of the example population over 10 years.

Each run is a separate process (``benchmarks/cohort_job.py``), so its peak resident memory is
its own and every run starts cold:

- the engine on 100,000 and 1,000,000 patients, serially (time per patient should stay flat:
  linear in patients), wall and CPU time and peak memory;
- the same 1,000,000 in 2 local worker processes (``--processes 2``: forked, the plans made
  once for the run) and on a 2-worker ``dask.distributed`` LocalCluster (cluster start-up timed
  apart), and whether each gives the very same result; CPU time counts every process of a run
  (the parent's and its finished children's);
- the baseline: the engine before this rewrite (commit ``BASELINE``, exported with
  ``git archive`` into a temporary folder) on the same 100,000 patients.

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


def _baseline_src(folder: Path) -> Path | None:
    """The baseline commit's ``src`` folder, or None outside a git checkout."""
    try:
        tar = subprocess.run(
            ["git", "archive", BASELINE, "src"], cwd=ROOT, check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(folder, filter="data")
    return folder / "src"


def figures() -> list[tuple[str, ...]]:
    big = int(os.environ.get("NEEDLEPLAN_BENCH_COHORT", "1000000"))
    small = 100_000
    rows: list[tuple[str, ...]] = []
    s100 = _job(small)
    s1m = _job(big)
    p1m = _job(big, "--processes", "2")
    d1m = _job(big, "--dask", "local:2")
    label = f"{big:,}"
    rows.append(
        (
            f"{label} patients x 10 y, 2 local processes (--processes 2): wall / CPU (s)",
            f"{p1m['wall']:.1f} / {p1m['cpu']:.1f}",
            "<= 10 wall",
            str(p1m["wall"] <= 10.0),
            f"serial {s1m['wall']:.1f} / {s1m['cpu']:.1f}",
            f"{s1m['wall'] / p1m['wall']:.2f}x",
        )
    )
    rows.append(
        (
            f"{label} patients x 10 y, 2-worker Dask: wall (s)",
            f"{d1m['wall']:.1f}",
            "<= 10",
            str(d1m["wall"] <= 10.0),
            f"serial {s1m['wall']:.1f}",
            f"{s1m['wall'] / d1m['wall']:.2f}x",
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
    rows.append(
        (
            f"{label} patients x 10 y, serial: wall / CPU (s)",
            f"{s1m['wall']:.1f} / {s1m['cpu']:.1f}",
            "<= 10 wall",
            str(s1m["wall"] <= 10.0),
        )
    )
    peak = max(s1m["rss_mib"], p1m["rss_mib"], d1m.get("worker_rss_mib", 0.0))
    rows.append(
        (
            f"{label} patients: peak resident memory of a process (MiB)",
            f"{peak:.0f}",
            "<= 1024",
            str(peak <= 1024),
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
    with tempfile.TemporaryDirectory() as tmp:
        src = _baseline_src(Path(tmp))
        if src is not None:
            old = _job(small, src=src)
            rows.append(
                (
                    f"100k patients x 10 y, serial: this engine (s), baseline {BASELINE}",
                    f"{s100['wall']:.1f}",
                    "-",
                    "True",
                    f"{old['wall']:.1f}",
                    f"{old['wall'] / s100['wall']:.1f}x",
                )
            )
    return [(r[0], r[1], r[2], r[3] == "True", *r[4:]) for r in rows]

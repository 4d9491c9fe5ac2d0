"""One cohort run in its own process, for ``bench_cohort.py``: prints a JSON line.

``python benchmarks/cohort_job.py PATIENTS [--dask local:2 | --processes 2] [--chunk N]``
simulates PATIENTS
patients of the bundled example population over 10 years (seed 1) and prints the wall and CPU
time of the run (CPU of every process of the run: this one, its finished children and, with
Dask, the workers'), the process's peak resident memory, the machine's load average and a
digest of the result, so runs of different engines or with and without Dask can be compared.
With ``--dask`` the cluster is started before the clock starts; its start-up time is printed
separately. It sets glibc's allocator as ``needleplan cohort simulate`` does
(:mod:`needleplan.cohort.allocator`) where that module exists. Run with an older
checkout's ``src`` on ``PYTHONPATH`` it measures that engine (its default chunk size).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time
from datetime import date
from typing import Any


def _cpu() -> float:
    """CPU time [s] of this process and its finished child processes (user + system)."""
    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + kids.ru_utime + kids.ru_stime


def _workers_cpu(client: Any) -> float:
    """CPU time [s] of the Dask workers' processes so far (0 without Dask)."""
    if client is None:
        return 0.0

    def own() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime

    return float(sum(client.run(own).values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("patients", type=int)
    ap.add_argument("--dask", default=None)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--years", type=int, default=10)
    args = ap.parse_args()

    from needleplan.cohort import load_population_spec, make_settings, simulate_cohort
    from needleplan.forecasting.optimise import load_prices

    try:  # as `needleplan cohort simulate` does (an older engine has no such module)
        from needleplan.cohort.allocator import keep_freed_memory

        keep_freed_memory()
    except ImportError:
        pass

    spec, prices = load_population_spec(), load_prices()
    extra: dict[str, Any] = {} if args.chunk is None else {"chunk_size": args.chunk}
    run: dict[str, Any] = {} if args.processes == 1 else {"processes": args.processes}
    settings = make_settings(start=date(2026, 1, 1), years=args.years, seed=1, **extra)
    client: Any = None
    startup = 0.0
    if args.dask:
        import logging

        from distributed import Client, LocalCluster

        t = time.perf_counter()
        workers = int(args.dask.removeprefix("local:"))
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        startup = time.perf_counter() - t
    load = os.getloadavg()[0]
    workers_before = _workers_cpu(client)
    wall, cpu = time.perf_counter(), _cpu()
    result = simulate_cohort(
        spec, settings, patients=args.patients, prices=prices, dask=client, **run
    )
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    cpu += _workers_cpu(client) - workers_before
    digest = result.model_dump_json(exclude={"chunk_size"})
    out = {
        "patients": args.patients,
        "load": max(load, os.getloadavg()[0]),  # 1-minute load average, start or end
        "wall": wall,
        "cpu": cpu,
        "startup": startup,
        "rss_mib": max(
            resource.getrusage(who).ru_maxrss / 1024
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ),
        "digest": hashlib.sha256(digest.encode()).hexdigest()[:16],
        "sessions": result.summary.sessions.mean,
    }
    if client is not None:
        workers_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        out["worker_rss_mib"] = max(workers_rss.values())
        client.close()
        cluster.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""A long CSV import on SQLite while staff keep writing (issue 16, point 6).

A patients CSV of ``NEEDLEPLAN_BENCH_IMPORT_ROWS`` rows (default 20,000; the issue's figure is
100,000) is imported into a fresh SQLite file in a background thread while the main thread
registers a patient every 0.2 s through a second connection, as a front desk would. Candidate:
the batched import (1,000 rows per transaction and a 0.15 s pause between batches on SQLite,
the product's defaults). Baseline: the same import
in one transaction (one batch of all rows), the behaviour before. Figures: the import's wall
time, and the longest and median wait of the desk's writes during the import (with one
transaction the desk waits for the whole import, up to SQLite's 30 s busy timeout, then fails).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from needleplan import services
from needleplan.exceptions import NeedleplanError
from needleplan.interop import csv_io
from needleplan.services.imports import BATCH_ROWS, BATCH_SECONDS
from needleplan.storage import Database

HEADER = "mrn,given_name,family_name,birth_date,sex,email,consent_contact\n"


def cases() -> list[tuple[str, Any, Any]]:
    return []


def _csv(rows: int) -> str:
    return HEADER + "".join(
        f"I{i:07d},Given{i},Family{i},19{50 + i % 50}-0{1 + i % 9}-1{i % 9},,,\n"
        for i in range(rows)
    )


def _run(rows: int, *, one_transaction: bool) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="np-bench-import-"))
    url = f"sqlite:///{folder / 'i.sqlite3'}"
    importer, desk = Database.open(url), Database.open(url)
    parsed = csv_io.parse_csv("patients", _csv(rows))
    done = threading.Event()
    took: list[float] = []

    def run() -> None:
        t = time.perf_counter()
        try:
            services.import_rows(
                importer,
                parsed.rows,
                csv_io._APPLIERS[csv_io.Kind.PATIENTS],
                batch_rows=rows if one_transaction else BATCH_ROWS,
                batch_seconds=1e9 if one_transaction else BATCH_SECONDS,
            )
        finally:
            took.append(time.perf_counter() - t)
            done.set()

    waits: list[float] = []
    failed = 0
    worker = threading.Thread(target=run)
    try:
        worker.start()
        while not done.wait(0.2):
            t = time.perf_counter()
            try:
                # A different walk-in each time: the same name and birth date twice is refused
                # as a likely duplicate, which is not the failure counted here.
                born = (date(1980, 1, 1) + timedelta(days=len(waits))).isoformat()
                services.register_patient(
                    desk, {"given_name": "Walk", "family_name": "In", "birth_date": born}
                )
            except NeedleplanError:  # "database busy" after the busy timeout
                failed += 1
            waits.append(time.perf_counter() - t)
        worker.join()
    finally:
        importer.dispose()
        desk.dispose()
        shutil.rmtree(folder)
    return {
        "seconds": took[0],
        "max_wait": max(waits, default=0.0),
        "median_wait": statistics.median(waits) if waits else 0.0,
        "writes": float(len(waits)),
        "failed": float(failed),
    }


def figures() -> list[tuple[Any, ...]]:
    rows = int(os.environ.get("NEEDLEPLAN_BENCH_IMPORT_ROWS", "20000"))
    new = _run(rows, one_transaction=False)
    old = _run(rows, one_transaction=True)
    label = f"{rows:,}-row patients import on SQLite"
    return [
        (
            f"{label}: time (s), batches vs one transaction",
            f"{new['seconds']:.1f}",
            "-",
            True,
            f"{old['seconds']:.1f}",
            f"{old['seconds'] / new['seconds']:.2f}x",
        ),
        (
            f"{label}: longest wait of a desk write during it (s)",
            f"{new['max_wait']:.2f}",
            "< 1",
            new["max_wait"] < 1.0,
            f"{old['max_wait']:.1f}",
            f"{old['max_wait'] / max(new['max_wait'], 1e-6):.0f}x",
        ),
        (
            f"{label}: desk writes done / failed ('database busy')",
            f"{new['writes'] - new['failed']:.0f} / {new['failed']:.0f}",
            "none failed",
            new["failed"] == 0,
            f"{old['writes'] - old['failed']:.0f} / {old['failed']:.0f}",
        ),
    ]

"""Killing the process in the middle of a burst of writes loses no committed record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from needleplan import services
from needleplan.storage import Database

WRITER = r"""
import sys
from needleplan import services
from needleplan.storage import Database

db = Database.open(sys.argv[1], upgrade=False)
i = 0
while True:
    p = services.register_patient(
        db, {"consent_treatment": True, "given_name": "Burst", "family_name": f"W{i}", "birth_date": "1985-02-03"}
    )
    services.record_measurement(
        db, p.id, {"scale": "satisfaction", "value": i % 11, "measured_at": "2025-01-01T10:00Z"}
    )
    print(p.id, flush=True)
    i += 1
"""


def test_sigkill_during_writes_loses_no_committed_record(database_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    committed: list[int] = []
    try:
        assert proc.stdout is not None
        while len(committed) < 40:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            committed.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    db = Database.open(database_url)
    try:
        stored = {p.id for p in services.list_patients(db, limit=10_000)}
        assert set(committed) <= stored
        for pid in committed:
            assert len(services.measurements_for(db, pid)) == 1  # both halves or neither
    finally:
        db.dispose()

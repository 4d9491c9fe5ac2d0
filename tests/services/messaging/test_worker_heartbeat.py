"""The worker's heartbeat and its daily retention run (issue 17): every pass records when it
finished (``/readyz`` reads it), and the loop applies the retention rules once a day."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from needleplan import services
from needleplan.scheduling import example_clinic
from needleplan.services import data_rights
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import last_heartbeat, run_forever, run_once


def test_a_pass_records_the_heartbeat(db: Any) -> None:
    assert last_heartbeat(db) is None
    run_once(db, example_clinic(), config=MessagingConfig())
    first = last_heartbeat(db)
    assert first is not None
    run_once(db, example_clinic(), config=MessagingConfig(), worker="worker-b")
    second = last_heartbeat(db)
    assert second is not None
    assert second >= first


def test_the_worker_loop_anonymises_records_past_retention(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.ensure_clinic(db, "Test clinic", "Europe/London")
    old = services.register_patient(
        db,
        {
            "given_name": "Olga",
            "family_name": "Longago",
            "birth_date": "1950-03-04",
            "email": "olga@example.org",
            "consent_treatment": True,
        },
    )
    # the worker runs 12 years later: her record (no activity since) is past the 10 years
    monkeypatch.setenv("NEEDLEPLAN_NOW", "2039-01-01T09:00+00:00")
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever,
        args=(db, example_clinic, stop),
        kwargs={"interval_s": 0.05, "config": MessagingConfig()},
    )
    worker.start()
    try:
        for _ in range(400):
            if data_rights.anonymised_at(db, old.id) is not None:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert data_rights.anonymised_at(db, old.id) is not None
    gone = services.get_patient(db, old.id)
    assert gone.family_name == f"Patient {old.id}"
    assert gone.email is None
    events, _ = services.search_audit(db, action="patient.anonymise")
    assert [(e.username, e.patient_id) for e in events] == [("system", old.id)]

"""Two workers on one database send every message exactly once (leases, SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from needleplan.domain.records import Lead
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import WorkerReport, deliver_due
from needleplan.storage import Database
from tests.messaging_support import MORNING, MailSink

MESSAGES = 60


@pytest.mark.slow
def test_two_workers_send_each_message_once(
    database_url: str, backend: str, smtp_server: MailSink
) -> None:
    from needleplan import services

    db = Database.open(database_url, upgrade=False)
    try:
        for i in range(MESSAGES):
            services.add_lead(
                db,
                Lead(
                    public_id=f"lead{i:04d}",
                    name=f"Visitor {i}",
                    email=f"visitor{i}@example.org",
                    phone="",
                    message="",
                    estimate_summary="",
                    consent_text="contact me",
                    consented_at=MORNING,
                ),
            )
    finally:
        db.dispose()
    config = MessagingConfig(smtp_url=smtp_server.url)
    reports: list[WorkerReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        worker_db = Database.open(database_url, upgrade=False)
        try:
            start.wait()
            reports.append(
                deliver_due(worker_db, example_clinic(), config, MORNING, batch=5, worker=name)
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            worker_db.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    visitors = {f"visitor{i}@example.org" for i in range(MESSAGES)}
    ours = [m for m in smtp_server.messages if str(m["To"]) in visitors]
    ids = [str(m["Message-ID"]) for m in ours]
    assert len(ids) == MESSAGES
    assert max(Counter(ids).values()) == 1
    assert sum(r.sent for r in reports) == MESSAGES
    assert sorted({str(m["To"]) for m in ours}) == sorted(
        f"visitor{i}@example.org" for i in range(MESSAGES)
    )

"""Double booking is impossible under concurrency: the database refuses the second claim.

50 attempts to book the same practitioner slot, from threads and from separate processes, on
SQLite and PostgreSQL: exactly one wins, every other gets ConflictError, nothing else changes.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from needleplan import services
from needleplan.exceptions import ConflictError
from needleplan.storage import Database
from needleplan.storage.repositories import slot_starts
from needleplan.storage.tables import metadata

ATTEMPTS = 50
START = datetime(2032, 2, 2, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=45)


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def _prepare(clinic: Any) -> list[int]:
    return [
        services.register_patient(
            clinic.db,
            {
                "consent_treatment": True,
                "given_name": f"P{i}",
                "family_name": "Race",
                "birth_date": "1980-01-01",
            },
        ).id
        for i in range(ATTEMPTS)
    ]


def _attempt(db: Database, patient_id: int, practitioner_id: int, protocol: Any) -> str:
    try:
        services.book_course(db, patient_id, protocol, [(START, END, practitioner_id)])
    except ConflictError:
        return "conflict"
    return "won"


def _check(clinic: Any, before: dict[str, int], outcomes: list[str]) -> None:
    assert outcomes.count("won") == 1, outcomes
    assert outcomes.count("conflict") == ATTEMPTS - 1
    after = _counts(clinic.db)
    claims = len(slot_starts(START, END))
    expected = dict(before)
    expected.update(
        courses=before["courses"] + 1,
        course_ledger=before["course_ledger"] + 1,
        appointments=before["appointments"] + 1,
        slot_claims=before["slot_claims"] + claims,
        outbox=before["outbox"] + 1,  # the winner's booking confirmation, none for the losers
    )
    assert after == expected
    booked = services.appointments_between(clinic.db, START, END, practitioner_id=clinic.alice.id)
    assert len(booked) == 1


def test_fifty_threads_one_booking_wins(clinic: Any, protocol: Any, make_protocol: Any) -> None:
    patients = _prepare(clinic)
    one_session = make_protocol(1)
    before = _counts(clinic.db)
    gate = threading.Barrier(ATTEMPTS)

    def run(patient_id: int) -> str:
        gate.wait()
        return _attempt(clinic.db, patient_id, clinic.alice.id, one_session)

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(run, patients))
    _check(clinic, before, outcomes)


# ----- processes: the worker functions must be importable by name in the spawned children

_worker_db: Database | None = None


def _worker_init(url: str) -> None:
    global _worker_db
    _worker_db = Database.open(url, upgrade=False)


def _worker_attempt(args: tuple[int, int, dict[str, Any]]) -> str:
    from needleplan.domain import Protocol

    patient_id, practitioner_id, protocol_json = args
    assert _worker_db is not None
    return _attempt(_worker_db, patient_id, practitioner_id, Protocol.model_validate(protocol_json))


def test_fifty_processes_one_booking_wins(
    clinic: Any, database_url: str, make_protocol: Any
) -> None:
    patients = _prepare(clinic)
    protocol_json = make_protocol(1).model_dump(mode="json")
    before = _counts(clinic.db)
    # forkserver: children are separate processes forked from a clean server that imported
    # needleplan once (no engine or connection is ever inherited across the fork).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["needleplan.services", "sqlalchemy.dialects.postgresql.psycopg"])
    with ctx.Pool(processes=5, initializer=_worker_init, initargs=(database_url,)) as pool:
        outcomes = pool.map(
            _worker_attempt, [(p, clinic.alice.id, protocol_json) for p in patients], chunksize=1
        )
    _check(clinic, before, outcomes)

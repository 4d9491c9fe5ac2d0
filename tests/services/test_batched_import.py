"""Batched CSV imports: short transactions, still all or nothing, and other writers get in."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import PatientDraft
from needleplan.exceptions import InputError
from needleplan.interop.csv_io import export_csv, import_csv
from needleplan.storage import Database

HEADER = "mrn,given_name,family_name,birth_date,sex,email,consent_contact\n"


def _patients(n: int, start: int = 1) -> str:
    return HEADER + "".join(
        f"B{i},Name{i},Family{i},1970-01-{1 + i % 28:02d},,,\n" for i in range(start, start + n)
    )


def _count(db: Any) -> int:
    import io

    return export_csv(db, "patients", io.StringIO())


def test_rows_are_committed_in_batches_each_audited(db: Any) -> None:
    seen: list[tuple[int, int]] = []
    report = services.import_rows(
        db,
        [(i + 2, i) for i in range(5)],
        lambda uow, i: uow.patients.add(
            PatientDraft(given_name=f"P{i}", family_name="X", birth_date=date(1970, 1, 1)),
            services.utc_now(),
        ),
        batch_rows=2,
        batch_seconds=600,
        progress=lambda done, total: seen.append((done, total)),
        username="importer",
        detail="patients",
    )
    assert report.imported == 5
    assert report.batches == 3
    assert seen == [(2, 5), (4, 5), (5, 5)]
    events = [e for e in services.audit_log(db) if e.action == "import"]
    assert sorted(e.detail for e in events) == [
        "patients lines 2-3",
        "patients lines 4-5",
        "patients lines 6-6",
    ]


def test_a_bad_row_in_a_late_batch_removes_what_earlier_batches_added(db: Any) -> None:
    """All or nothing for the user: the duplicate in the last batch takes out the first ones."""
    text = _patients(7) + "B3,Again,Dup,1980-01-01,,,\n"
    with pytest.raises(InputError) as info:
        import_csv_batched(db, text, batch_rows=3)
    assert "line 9: mrn" in str(info.value)
    assert "nothing imported" in str(info.value)
    assert _count(db) == 0
    removal = [e for e in services.audit_log(db) if e.action == "import" and "refused" in e.detail]
    assert [e.detail for e in removal] == ["patients refused, removed 7 rows"]


def import_csv_batched(db: Any, text: str, *, batch_rows: int, batch_seconds: float = 600) -> Any:
    from needleplan.interop import csv_io

    parsed = csv_io.parse_csv("patients", text)
    return services.import_rows(
        db,
        parsed.rows,
        csv_io._APPLIERS[csv_io.Kind.PATIENTS],
        bad=parsed.problems,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
        detail="patients",
    )


def test_a_batch_also_ends_when_its_time_is_up(db: Any) -> None:
    """With no time per batch, each batch takes one row (and always at least one)."""
    report = import_csv_batched(db, _patients(3), batch_rows=1000, batch_seconds=0.0)
    assert report.batches == 3
    assert _count(db) == 3


def test_skip_bad_keeps_the_good_rows_of_every_batch(db: Any) -> None:
    text = _patients(5) + "B2,Again,Dup,1980-01-01,,,\n" + _patients(2, start=10)[len(HEADER) :]
    from needleplan.interop import csv_io

    parsed = csv_io.parse_csv("patients", text)
    report = services.import_rows(
        db,
        parsed.rows,
        csv_io._APPLIERS[csv_io.Kind.PATIENTS],
        skip_bad=True,
        batch_rows=2,
    )
    assert report.imported == 7
    assert [p.line for p in report.skipped] == [7]
    assert _count(db) == 7


def test_an_import_inside_a_transaction_is_one_unit(db: Any) -> None:
    with db.transaction():
        report = import_csv(db, "patients", _patients(3))
    assert report.batches == 1
    assert _count(db) == 3


def test_another_connection_writes_while_an_import_runs(database_url: str, backend: str) -> None:
    """Between two batches the import holds no lock: a second connection registers a patient
    while the import is paused after its first batch (bounded waits, no sleeping)."""
    importer_db = Database.open(database_url, upgrade=False)
    other_db = Database.open(database_url, upgrade=False)
    first_batch_done = threading.Event()
    other_wrote = threading.Event()
    errors: list[BaseException] = []

    def progress(done: int, total: int) -> None:
        if done < total and not first_batch_done.is_set():
            first_batch_done.set()
            assert other_wrote.wait(60), "the other connection never got to write"

    def run() -> None:
        try:
            from needleplan.interop import csv_io

            parsed = csv_io.parse_csv("patients", _patients(6))
            services.import_rows(
                importer_db,
                parsed.rows,
                csv_io._APPLIERS[csv_io.Kind.PATIENTS],
                batch_rows=2,
                batch_seconds=600,
                progress=progress,
            )
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert first_batch_done.wait(60), "the import did not finish its first batch"
        # This write would wait for the lock (and fail after the busy timeout) if the import
        # held it across batches.
        services.register_patient(
            other_db, {"given_name": "Walk", "family_name": "In", "birth_date": "1980-05-05"}
        )
        assert _count(other_db) == 3  # two imported so far and hers: the import is mid-way
        other_wrote.set()
        worker.join(60)
        assert not worker.is_alive()
        assert errors == []
        assert _count(other_db) == 7
    finally:
        other_wrote.set()
        worker.join(60)
        importer_db.dispose()
        other_db.dispose()

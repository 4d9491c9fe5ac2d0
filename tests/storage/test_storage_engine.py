"""Engine factory, connection settings, timezone-aware datetimes and foreign keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from needleplan import services
from needleplan.exceptions import ConflictError, InputError
from needleplan.storage import engine as engine_mod
from needleplan.storage.database import on_sqlite_connect_pragmas
from needleplan.storage.tables import AppointmentRow


def test_default_url_is_sqlite_file_in_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv(engine_mod.ENV_VAR, raising=False)
    url = engine_mod.resolve_url()
    assert url.startswith("sqlite:///")
    assert url.endswith("/needleplan.sqlite3")
    assert str(Path(platformdirs.user_data_dir("needleplan", appauthor=False))) in url


def test_env_var_selects_postgresql_with_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(engine_mod.ENV_VAR, "postgresql://clinic@db.example/needleplan")
    assert engine_mod.resolve_url() == "postgresql+psycopg://clinic@db.example/needleplan"
    assert engine_mod.resolve_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_bare_path_means_sqlite_file(tmp_path: Path) -> None:
    assert engine_mod.resolve_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


@pytest.mark.parametrize("url", ["mysql://u@h/d", "nonsense://"])
def test_unsupported_or_bad_url_is_input_error(url: str) -> None:
    with pytest.raises(InputError, match="database_url"):
        engine_mod.make_engine(url)


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    eng = engine_mod.make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        pragmas = on_sqlite_connect_pragmas(eng)
    finally:
        eng.dispose()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] == engine_mod.SQLITE_BUSY_TIMEOUT_MS


def test_datetimes_come_back_aware_in_utc_and_same_instant(clinic: Any) -> None:
    paris = timezone(timedelta(hours=2))
    start = datetime(2030, 6, 1, 10, 0, tzinfo=paris)
    appt = services.book_appointment(
        clinic.db, clinic.patient.id, (start, start + timedelta(minutes=30), clinic.alice.id)
    )
    stored = services.patient_file(clinic.db, clinic.patient.id).appointments[0]
    assert stored.start.tzinfo is not None
    assert stored.start.utcoffset() == timedelta(0)
    assert stored.start == start == appt.start
    assert stored.start.hour == 8


def test_naive_datetime_never_reaches_the_database(clinic: Any) -> None:
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    appt = services.book_appointment(
        clinic.db, clinic.patient.id, (start, start + timedelta(hours=1), clinic.alice.id)
    )

    def make_naive() -> None:
        with clinic.db.transaction() as uow:
            uow.session.get(AppointmentRow, appt.id).start_at = datetime(2030, 1, 1, 8)
            uow.flush()

    with pytest.raises(StatementError, match="naive datetime"):
        make_naive()
    assert services.patient_file(clinic.db, clinic.patient.id).appointments[0].start == start


def test_foreign_keys_are_enforced_by_the_database(clinic: Any) -> None:
    now = datetime.now(UTC)

    def insert_orphan() -> None:
        with clinic.db.transaction() as uow:
            uow.session.add(
                AppointmentRow(
                    patient_id=98765,
                    practitioner_id=clinic.alice.id,
                    kind="treatment",
                    start_at=now,
                    end_at=now + timedelta(hours=1),
                    status="booked",
                    note="",
                    created_at=now,
                )
            )
            uow.flush()

    with pytest.raises(ConflictError, match="referenced record does not exist"):
        insert_orphan()


def test_no_patient_data_in_logs_even_with_sql_logging_on(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        p = services.register_patient(
            db,
            {
                "given_name": "Zelda",
                "consent_treatment": True,
                "family_name": "Uniquename",
                "birth_date": "1970-01-01",
                "notes": "private-note",
            },
        )
        services.list_patients(db, "Uniquename")
        with pytest.raises(ConflictError):
            services.register_patient(
                db,
                {
                    "mrn": p.mrn,
                    "given_name": "Zelda",
                    "consent_treatment": True,
                    "family_name": "Uniquename",
                    "birth_date": "1970-01-01",
                },
            )
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "INSERT INTO patients" in caplog.text  # SQL logging really was on
    for secret in ("Zelda", "Uniquename", "private-note"):
        assert secret not in caplog.text

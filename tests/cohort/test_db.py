"""The clinic-database population: every patient's newest assessment, nothing else, read only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from needleplan import services
from needleplan.cohort import fixed_population, simulate_cohort
from needleplan.cohort.naive import simulate_cohort_naive
from needleplan.domain import reference_assessment
from needleplan.forecasting.optimise import Prices
from needleplan.guideline import load_guideline

from .conftest import Runner
from .conftest import settings as cohort_settings

REF = reference_assessment().model_dump(mode="json")


def _patient(db: Any, name: str, born: str = "1974-06-01") -> int:
    """A patient born on ``born`` (her assessments' ages must agree with it)."""
    p = services.register_patient(
        db,
        {"consent_treatment": True, "given_name": name, "family_name": "Test", "birth_date": born},
    )
    return int(p.id)


def _assess(db: Any, pid: int, when: datetime, **changes: Any) -> None:
    services.record_assessment(db, pid, {**REF, **changes}, assessed_at=when)


def test_latest_assessment_per_patient(db: Any) -> None:
    """The newest by assessment time (not by insertion order), one per patient, in patient
    order; patients without an assessment are not in it."""
    a, b, _c = (
        _patient(db, "Ann", "1984-03-01"),
        _patient(db, "Bea", "1965-06-01"),
        _patient(db, "Cat"),
    )
    _assess(db, a, datetime(2025, 1, 1, tzinfo=UTC), age=40)
    _assess(db, a, datetime(2025, 6, 1, tzinfo=UTC), age=41, smoking="current")
    _assess(db, b, datetime(2025, 9, 1, tzinfo=UTC), age=60)
    _assess(db, b, datetime(2025, 3, 1, tzinfo=UTC), age=59)  # recorded later, assessed earlier
    found, invalid = services.latest_assessments(db)
    assert invalid == 0
    assert [(x.age, x.smoking.value) for x in found] == [(41, "current"), (60, "never")]


def test_a_clinic_database_cohort_equals_the_loop(db: Any, prices: Prices) -> None:
    for i, age in enumerate((35, 48, 52, 66, 71)):
        pid = _patient(db, f"P{i}", f"{2024 - age}-06-01")
        _assess(db, pid, datetime(2025, 1, 1, tzinfo=UTC), age=age, sun_exposure="high")
    blocked = _patient(db, "Q")
    _assess(db, blocked, datetime(2025, 1, 1, tzinfo=UTC), contraindications=["pregnancy"])
    found, _ = services.latest_assessments(db)
    pop = fixed_population(found, load_guideline(), description="clinic database")
    assert pop.size == 5
    assert pop.excluded == {"blocked by an absolute contraindication": 1}
    s = cohort_settings(years=4, seed=8, chunk_size=64)
    assert simulate_cohort(pop, s, prices=prices) == simulate_cohort_naive(pop, s, prices=prices)


def test_cli_from_db_reads_without_writing(db: Any, database_url: str, cli: Runner) -> None:
    """`--from-db` simulates the stored patients, prints no name, and changes nothing."""
    for i in range(4):
        pid = _patient(db, f"Secretname{i}", f"{2024 - 45 - i}-06-01")
        _assess(db, pid, datetime(2025, 2, 1, tzinfo=UTC), age=45 + i)
    before = services.list_patients(db), services.latest_assessments(db)
    done = cli(
        "cohort", "simulate", "--from-db", "--database", database_url,
        "--years", "2", "--start", "2026-01", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Secretname" not in done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["population"] == "clinic database"
    assert out["summary"]["patients"] == 4
    assert (services.list_patients(db), services.latest_assessments(db)) == before


def test_cli_from_db_refuses_a_missing_file_and_creates_none(cli: Runner, tmp_path: Any) -> None:
    target = tmp_path / "absent.sqlite3"
    done = cli("cohort", "simulate", "--from-db", "--database", str(target))
    assert done.returncode == 2
    assert "--database: no such database file" in done.stderr
    assert not target.exists()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_cli_from_db_refuses_an_old_schema(cli: Runner, empty_database_url: str) -> None:
    from needleplan.storage import migrate
    from needleplan.storage.engine import make_engine

    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, migrate.revisions()[0])
    engine.dispose()
    done = cli("cohort", "simulate", "--from-db", "--database", empty_database_url)
    assert done.returncode == 2
    assert "run `needleplan db upgrade` first" in done.stderr


def test_cli_from_db_with_no_assessment(cli: Runner, database_url: str) -> None:
    done = cli("cohort", "simulate", "--from-db", "--database", database_url)
    assert done.returncode == 2
    assert "the database holds no assessment" in done.stderr


def test_demo_clinic_population(demo_clinic: Any, prices: Prices) -> None:
    """The shared demo clinic (tests/demo_support.py) read back as a cohort population."""
    n = demo_clinic.spec.patients
    found, invalid = services.latest_assessments(demo_clinic.db)
    assert invalid == 0
    assert len(found) == n
    pop = fixed_population(found, load_guideline(), description="demo")
    r = simulate_cohort(pop, cohort_settings(years=2), prices=prices)
    assert r.summary.patients + sum(r.summary.excluded.values()) == n

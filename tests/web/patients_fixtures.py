"""A web app over a real SQLite clinic database: one account per role and a treated patient."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from needleplan import services
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from tests.consent_support import sign_treatment

from .conftest import TEST_SECRET, FakeClock, Filled, csrf_from

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

DB_PASSWORDS = {
    "admin": "admin-password-1",
    "prac": "practitioner-password-1",
    "desk": "front-desk-password-1",
}
ROLES = {"admin": "admin", "prac": "practitioner", "desk": "front_desk"}


def _age_today(born: date) -> int:
    today = date.today()
    return today.year - born.year - int((today.month, today.day) < (born.month, born.day))


#: Jane Doe's age today (born 1976-04-02): an assessment recorded now must state it.
JANE_AGE = _age_today(date(1976, 4, 2))


@dataclass
class ClinicApp:
    app: FastAPI
    db: Database
    user_ids: dict[str, int]
    patient_id: int
    course_id: int
    practitioner_id: int


def fill(db: Database) -> tuple[dict[str, int], int, int, int]:
    """Accounts per role, a practitioner, and Jane Doe with an assessment, a course of two
    sessions (one performed), a measurement and clinical notes."""
    from datetime import UTC, datetime, timedelta

    from tests.conftest import make_protocol_value

    services.ensure_clinic(db, "Test clinic", "Europe/London")
    alice = services.add_practitioner(db, "Alice Practitioner")
    ids = {
        name: services.create_user(
            db,
            name if name != "prac" else "prac",
            DB_PASSWORDS[name],
            ROLES[name],
            practitioner_id=alice.id if name == "prac" else None,
        ).id
        for name in DB_PASSWORDS
    }
    jane = services.register_patient(
        db,
        {
            "given_name": "Jane",
            "family_name": "Doe",
            "birth_date": "1976-04-02",
            "email": "jane@example.org",
            "phone": "+44 20 7946 0001",
            "consent_treatment": True,
            "consent_contact": True,
            "notes": "SECRET-CLINICAL-NOTE",
        },
    )
    t0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
    record = services.record_assessment(
        db,
        jane.id,
        {
            "age": jane.age_on((t0 - timedelta(days=7)).date()),
            "severity": "moderate",
            "areas": ["full_face"],
            "smoking": "current",
        },
        assessed_at=t0 - timedelta(days=7),
    )
    booking = services.book_course(
        db,
        jane.id,
        make_protocol_value(2),
        [
            (t0 + timedelta(days=30 * k), t0 + timedelta(days=30 * k, minutes=45), alice.id)
            for k in range(2)
        ],
        assessment_id=record.id,
    )
    first = booking.appointments[0]
    sign_treatment(db, jane.id)
    services.record_session(
        db,
        {
            "performed_at": first.start.isoformat(),
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.5},
            "passes": 2,
            "practitioner_id": alice.id,
        },
        appointment_id=first.id,
    )
    services.record_measurement(
        db,
        jane.id,
        {"scale": "gais", "value": 2, "measured_at": first.start.isoformat()},
        now=first.start + timedelta(hours=1),  # measured at that (future) visit
    )
    return ids, jane.id, booking.course.id, alice.id


def open_clinic_app(path: Path, template: Path, **settings: Any) -> ClinicApp:
    shutil.copyfile(template, path)
    db = Database.open(f"sqlite:///{path}", upgrade=False)
    ids, patient_id, course_id, practitioner_id = fill(db)
    base: dict[str, Any] = {"environment": "test", "secret_key": TEST_SECRET}
    base.update(settings)
    app = create_app(Settings(**base), database=db, clock=FakeClock())
    return ClinicApp(app, db, ids, patient_id, course_id, practitioner_id)


@pytest.fixture
def clinic_app(
    tmp_path: Path, _filled_clinic: tuple[Path, Filled], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClinicApp]:
    template, (ids, patient_id, course_id, practitioner_id) = _filled_clinic
    path = tmp_path / "clinic.sqlite3"
    shutil.copyfile(template, path)
    db = Database.open(f"sqlite:///{path}", upgrade=False)
    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET), database=db, clock=FakeClock()
    )
    env = ClinicApp(app, db, dict(ids), patient_id, course_id, practitioner_id)
    try:
        yield env
    finally:
        env.db.dispose()


@pytest.fixture
def web(clinic_app: ClinicApp) -> Iterator[TestClient]:
    with TestClient(clinic_app.app, base_url="http://testserver") as c:
        yield c


def sign_in(client: TestClient, username: str) -> TestClient:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": DB_PASSWORDS[username],
            "csrf_token": token,
            "next": "/app/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def bearer(clinic_app: ClinicApp, username: str) -> dict[str, str]:
    token, _ = services.issue_api_token(clinic_app.db, clinic_app.user_ids[username], "tests")
    return {"Authorization": f"Bearer {token}"}


def audit_actions(db: Database, patient_id: int | None = None) -> list[tuple[str, str, Any]]:
    events, _ = services.search_audit(db, patient_id=patient_id, limit=1000)
    return [(e.username, e.action, e.patient_id) for e in events]

"""Shared set-up for the booking, calendar and recall tests: an app over a real database.

The app gets the in-memory staff accounts of ``conftest.py`` and a real
:class:`~needleplan.storage.Database` from the storage fixtures (SQLite by default; the tests
that also run on PostgreSQL parametrise ``backend``), plus a small clinic calendar: open
Monday-Friday 09:00-18:00, two practitioners, 60-minute sessions, no holidays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from needleplan import services
from needleplan.domain.records import Patient
from needleplan.scheduling import ClinicConfig, parse_clinic
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from .conftest import REFERENCE, TEST_SECRET, TestClient, csrf_from, login

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2031, 3, 3)

CLINIC: dict[str, Any] = {
    "name": "Test Skin Clinic",
    "timezone": "Europe/Berlin",
    "location": "Teststraße 1, Berlin",
    "opening_hours": {
        day: ["09:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    },
    "practitioners": [{"name": "Alice Practitioner"}, {"name": "Bob Practitioner"}],
    "session_minutes": {"default": 60},
}


def born_aged(age: int, on: date | None = None) -> str:
    """A birth date that makes her ``age`` years old on ``on`` (default today) and for about
    six months either side (her birthday is half a year away), so the consultation's age check
    agrees whatever the date the suite runs on and whichever clock (UTC or the clinic's) asks."""
    shifted = (on or date.today()) - timedelta(days=182)
    try:
        return shifted.replace(year=shifted.year - age).isoformat()
    except ValueError:  # 29 February
        return shifted.replace(year=shifted.year - age, day=28).isoformat()


def clinic_config(**changes: Any) -> ClinicConfig:
    return parse_clinic(CLINIC | changes, source="test clinic")


@dataclass
class Clinic:
    app: FastAPI
    db: Database
    clinic: ClinicConfig
    practitioners: dict[str, int]

    def patient(self, given: str = "Jane", family: str = "Doe", **extra: Any) -> Patient:
        data = {
            "given_name": given,
            "family_name": family,
            "birth_date": born_aged(REFERENCE["age"]),  # agrees with the reference assessment
            "consent_treatment": True,
        }
        # Tests make several patients with the fixture's name and birth date on purpose.
        return services.register_patient(self.db, data | extra, confirm_duplicate=True)


def make_clinic(users: InMemoryUserStore, db: Database, **clinic_changes: Any) -> Clinic:
    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=users,
        database=db,
    )
    config = clinic_config(**clinic_changes)
    app.state.clinic = config
    ids = services.sync_practitioners(db, config)
    return Clinic(app, db, config, ids)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test parametrises it (indirectly) with "postgresql"."""
    value: str = getattr(request, "param", "sqlite")
    return value


@pytest.fixture
def site(user_store: InMemoryUserStore, db: Database) -> Clinic:
    return make_clinic(user_store, db)


@pytest.fixture
def web(site: Clinic) -> Iterator[TestClient]:
    with TestClient(site.app, base_url="http://testserver") as c:
        yield c


def signed_in(client: TestClient, username: str) -> str:
    """Sign ``username`` in and return a CSRF token for this client's forms."""
    login(client, username)
    return csrf_from(client.get("/app/").text)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def book_json(client: TestClient, token: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/app/booking/course", json=body, headers={"X-CSRF-Token": token, **headers})


def new_patient_body(start: date | str = MONDAY, **extra: Any) -> dict[str, Any]:
    return {
        "new_patient": {
            "given_name": "Nora",
            "family_name": "Newcomer",
            "birth_date": born_aged(REFERENCE["age"]),
            "consent_treatment": True,
        },
        "assessment": REFERENCE,
        "start": start if isinstance(start, str) else start.isoformat(),
        "practitioner_id": "any",
    } | extra

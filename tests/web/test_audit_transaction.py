"""The web app writes a change and its audit event in one transaction."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.storage import Database
from needleplan.storage.repositories import UserRepository

from .patients_fixtures import ClinicApp, bearer, clinic_app

__all__ = ["clinic_app"]

JANE = {"given_name": "Jane", "family_name": "Audit", "birth_date": "1980-05-06"}


def _family_names(db: Database) -> list[str]:
    return sorted(p.family_name for p in services.list_patients(db))


def _break_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: UserRepository, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr(UserRepository, "add_audit", refuse)


def test_the_api_stores_no_patient_when_its_audit_row_cannot_be_written(
    clinic_app: ClinicApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _family_names(clinic_app.db)
    headers = bearer(clinic_app, "desk")
    _break_audit(monkeypatch)
    with TestClient(clinic_app.app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/patients", json=JANE, headers=headers)
    monkeypatch.undo()
    assert response.status_code == 500
    assert _family_names(clinic_app.db) == before


def test_the_api_stores_the_patient_and_its_audit_row_together(
    clinic_app: ClinicApp,
) -> None:
    with TestClient(clinic_app.app) as client:
        response = client.post("/api/v1/patients", json=JANE, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 201
    created = response.json()["id"]
    actions = [e.action for e in services.audit_log(clinic_app.db, patient_id=created)]
    assert actions == ["patient.create"]

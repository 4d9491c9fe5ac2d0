"""A staff page learns who is asking (session, account, kiosk lock, pending setup) in one
transaction before its own work, and each of those still decides what the page does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.services import two_factor
from needleplan.storage.database import Database

from .patients_fixtures import ClinicApp, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


@contextmanager
def _outer_transactions() -> Iterator[list[str]]:
    """The functions that opened each outermost transaction while the block ran."""
    import traceback

    opened: list[str] = []
    original = Database.transaction

    @contextmanager
    def counting(self: Database) -> Any:
        if not self.in_transaction:
            opened.append(traceback.extract_stack(limit=3)[0].name)
        with original(self) as uow:
            yield uow

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "transaction", counting)
        yield opened


def test_the_patient_list_opens_one_transaction_for_who_asks_and_one_for_its_work(
    web: TestClient,
) -> None:
    sign_in(web, "desk").get("/app/patients")
    with _outer_transactions() as opened:
        response = web.get("/app/patients")
    assert response.status_code == 200
    assert opened == ["identify", "audited"]  # who asks; the audited list


def test_a_signed_out_request_reads_no_account(web: TestClient) -> None:
    with _outer_transactions() as opened:
        response = web.get("/app/patients", follow_redirects=False)
    assert response.status_code == 303
    assert opened == []


def test_a_second_factor_the_clinic_requires_still_comes_first(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    admin = services.find_user(clinic_app.db, clinic_app.user_ids["admin"])
    assert admin is not None
    sign_in(web, "prac")
    two_factor.set_two_factor_required(clinic_app.db, True, actor=admin)
    response = web.get("/app/patients", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/account/2fa"

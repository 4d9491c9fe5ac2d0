"""The audit log: who read or changed which patient record, and the admin page to view it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.services._clock import utc_now
from needleplan.services.clinic_calendar import effective_clinic
from needleplan.storage import Database
from needleplan.web.auth import Role, StaffUser
from needleplan.web.db_stores import audit

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, bearer, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def test_audit_records_the_database_user(clinic_app: ClinicApp) -> None:
    user = StaffUser(
        id=clinic_app.user_ids["desk"], username="desk", role=Role.FRONT_DESK, created_at=utc_now()
    )
    audit(clinic_app.db, user, "patient.read", clinic_app.patient_id)
    # the newest of her events (the fixture's own, such as her signed consent, come before)
    event = services.audit_log(clinic_app.db, patient_id=clinic_app.patient_id)[0]
    assert (event.user_id, event.username, event.action) == (
        clinic_app.user_ids["desk"],
        "desk",
        "patient.read",
    )


def test_audit_names_a_user_outside_the_database(db: Database) -> None:
    visitor = StaffUser(id=4242, username="visitor", role=Role.ADMIN, created_at=utc_now())
    audit(db, visitor, "patient.list")
    [event] = services.audit_log(db)
    assert event.user_id is None
    assert "user=visitor" in event.detail


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admin_sees_the_audit_page(web: TestClient, who: str) -> None:
    assert sign_in(web, who).get("/app/admin/audit").status_code == 403


def test_audit_page_signed_out_redirects(web: TestClient) -> None:
    response = web.get("/app/admin/audit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_admin_views_and_filters_the_audit_log(web: TestClient, clinic_app: ClinicApp) -> None:
    pid = clinic_app.patient_id
    other = services.register_patient(
        clinic_app.db,
        {
            "consent_treatment": True,
            "given_name": "O",
            "family_name": "Other",
            "birth_date": "1960-01-01",
        },
    )
    _, before = services.search_audit(clinic_app.db, limit=1)
    sign_in(web, "prac").get(f"/app/patients/{pid}")
    web.get(f"/app/patients/{other.id}")
    web.get("/app/patients")
    web.cookies.clear()
    sign_in(web, "admin")
    everything = web.get("/app/admin/audit")
    assert everything.status_code == 200
    total = int(re.findall(r"(\d+) events?\b", everything.text)[0])
    assert total >= before + 3  # her page also records what it showed (consents, intake...)
    reads = web.get("/app/admin/audit", params={"action": "patient.read", "username": "prac"})
    assert "2 events" in reads.text
    one = web.get("/app/admin/audit", params={"patient": str(other.id), "action": "patient.read"})
    assert "1 event " in one.text
    assert f'href="/app/patients/{other.id}"' in one.text
    lists = web.get("/app/admin/audit", params={"action": "patient.list", "username": "prac"})
    assert "1 event " in lists.text
    nobody = web.get("/app/admin/audit", params={"username": "desk"})
    assert "0 events" in nobody.text
    # the filters are the clinic's days (its time zone), not the test machine's
    today = datetime.now(effective_clinic(clinic_app.db).clinic.tz).date()
    in_range = web.get(
        "/app/admin/audit", params={"since": today.isoformat(), "until": today.isoformat()}
    )
    assert f"{total} events" in in_range.text  # every event of this test is today's
    later = web.get("/app/admin/audit", params={"since": (today + timedelta(days=1)).isoformat()})
    assert "0 events" in later.text


def test_audit_page_names_bad_filters(web: TestClient) -> None:
    sign_in(web, "admin")
    response = web.get("/app/admin/audit", params={"since": "yesterday", "patient": "x"})
    assert response.status_code == 422
    assert "since" in response.text
    assert "a patient id" in response.text


def test_admin_lists_and_revokes_api_tokens(web: TestClient, clinic_app: ClinicApp) -> None:
    headers = bearer(clinic_app, "prac")
    assert web.get("/api/v1/patients", headers=headers).status_code == 200
    page = sign_in(web, "admin").get("/app/admin/tokens")
    assert page.status_code == 200
    assert "tests" in page.text
    assert "np_" not in page.text  # the token itself is never shown again
    [info] = services.list_api_tokens(clinic_app.db)
    no_csrf = web.post(f"/app/admin/tokens/{info.id}/revoke")
    assert no_csrf.status_code == 403
    done = web.post(
        f"/app/admin/tokens/{info.id}/revoke",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert web.get("/api/v1/patients", headers=headers).status_code == 401
    assert "revoked" in web.get("/app/admin/tokens").text


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admin_manages_tokens(web: TestClient, clinic_app: ClinicApp, who: str) -> None:
    page = sign_in(web, who).get("/app/patients")
    assert web.get("/app/admin/tokens").status_code == 403
    response = web.post("/app/admin/tokens/1/revoke", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 403


def test_admin_issues_tokens_only_for_accounts_without_clinical_access(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """Issue 17 H1: an admin could give itself clinical access with a practitioner's token."""
    page = sign_in(web, "admin").get("/app/admin/users")
    assert "only prac issues tokens" in page.text
    form = {"csrf_token": csrf_from(page.text), "label": "lab"}
    refused = web.post(
        "/app/admin/tokens", data={**form, "user_id": str(clinic_app.user_ids["prac"])}
    )
    assert refused.status_code == 403
    assert "has clinical access, so only its owner may issue one" in refused.text
    assert services.list_api_tokens(clinic_app.db) == []
    response = web.post(
        "/app/admin/tokens",
        data={**form, "user_id": str(clinic_app.user_ids["desk"]), "scope": "read", "days": "30"},
    )
    assert response.status_code == 200
    [info] = services.list_api_tokens(clinic_app.db)
    assert (info.username, info.label, info.scope, info.issued_by) == (
        "desk",
        "lab",
        "read",
        "admin",
    )
    bad = web.post(
        "/app/admin/tokens",
        data={**form, "user_id": str(clinic_app.user_ids["desk"]), "days": "\u0663\u0660"},
    )
    assert bad.status_code == 422
    assert "days: must be a whole number of days from 1 to 365" in bad.text


def test_audit_times_and_day_filters_are_on_the_clinic_wall_clock(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """20:30 UTC on 10 January is 07:30 on 11 January in Sydney (AEDT): shown and filtered so."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from needleplan.storage.tables import AuditRow

    from .booking_support import clinic_config

    clinic_app.app.state.clinic = clinic_config(timezone="Australia/Sydney")
    event = services.record_audit(
        clinic_app.db, None, "patient.read", clinic_app.patient_id, detail="zone probe"
    )
    with clinic_app.db.engine.begin() as conn:
        conn.execute(
            update(AuditRow)
            .where(AuditRow.id == event.id)
            .values(at=datetime(2027, 1, 10, 20, 30, tzinfo=UTC))
        )
    sign_in(web, "admin")
    page = web.get("/app/admin/audit", params={"action": "patient.read"}).text
    assert "Australia/Sydney (AEDT/AEST)" in page
    assert "2027-01-11 07:30:00" in page
    assert "2027-01-10 20:30" not in page
    same_day = web.get("/app/admin/audit", params={"since": "2027-01-11", "until": "2027-01-11"})
    assert "zone probe" in same_day.text
    utc_day = web.get("/app/admin/audit", params={"since": "2027-01-10", "until": "2027-01-10"})
    assert "zone probe" not in utc_day.text

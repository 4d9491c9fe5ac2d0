"""API tokens on the web (issue 17, H1): staff issue and revoke their own from My account, a
read-only token cannot change records, a token acts on the record as itself, and a new password
ends every token."""

from __future__ import annotations

from fastapi.testclient import TestClient

from needleplan import services

from .conftest import csrf_from
from .patients_fixtures import DB_PASSWORDS, ClinicApp, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]

NEW_PATIENT = {"given_name": "Tia", "family_name": "Token", "birth_date": "1980-05-06"}


def _issue(web: TestClient, scope: str, label: str = "tablet") -> str:
    page = web.get("/app/account")
    assert 'id="my-tokens"' in page.text
    answer = web.post(
        "/app/account/tokens",
        data={"csrf_token": csrf_from(page.text), "label": label, "scope": scope, "days": "7"},
    )
    assert answer.status_code == 200, answer.text
    start = answer.text.index('<code class="token">') + len('<code class="token">')
    return answer.text[start : answer.text.index("</code>", start)]


def test_a_practitioner_issues_her_own_tokens_and_a_read_token_only_reads(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "prac")
    reader = {"Authorization": f"Bearer {_issue(web, 'read', 'reader')}"}
    writer = {"Authorization": f"Bearer {_issue(web, 'write', 'writer')}"}
    assert web.get("/api/v1/patients", headers=reader).status_code == 200
    refused = web.post("/api/v1/patients", headers=reader, json=NEW_PATIENT)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "scope"
    created = web.post("/api/v1/patients", headers=writer, json=NEW_PATIENT)
    assert created.status_code == 201, created.text
    [writer_info] = [t for t in services.list_api_tokens(clinic_app.db) if t.label == "writer"]
    events, _ = services.search_audit(clinic_app.db, patient_id=created.json()["id"], limit=10)
    assert [(e.username, e.action) for e in events] == [("prac", "patient.create")]
    assert events[0].detail.endswith(f"token={writer_info.id}")
    issued = [
        e for e in services.search_audit(clinic_app.db, limit=50)[0] if e.action == "token.issue"
    ]
    assert len(issued) == 2
    assert {e.username for e in issued} == {"prac"}


def test_revoking_my_token_and_changing_my_password_end_tokens(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    first = {"Authorization": f"Bearer {_issue(web, 'read', 'first')}"}
    second = {"Authorization": f"Bearer {_issue(web, 'read', 'second')}"}
    [info, _] = services.list_api_tokens(clinic_app.db)
    page = web.get("/app/account")
    revoked = web.post(
        f"/app/account/tokens/{info.id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert revoked.status_code == 200
    assert 'id="token-revoked"' in revoked.text
    assert web.get("/api/v1/whoami", headers=first).status_code == 401
    assert web.get("/api/v1/whoami", headers=second).status_code == 200
    page = web.get("/app/account")
    changed = web.post(
        "/app/account/password",
        data={
            "csrf_token": csrf_from(page.text),
            "current_password": DB_PASSWORDS["desk"],
            "new_password": "a-brand-new-password",
            "confirm_password": "a-brand-new-password",
        },
    )
    assert changed.status_code == 200, changed.text
    assert web.get("/api/v1/whoami", headers=second).status_code == 401


def test_nobody_revokes_another_accounts_token_from_my_account(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    _token, theirs = services.issue_api_token(clinic_app.db, clinic_app.user_ids["prac"], "theirs")
    sign_in(web, "desk")
    page = web.get("/app/account")
    answer = web.post(
        f"/app/account/tokens/{theirs.id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 404
    assert [t.active for t in services.list_api_tokens(clinic_app.db)] == [True]

"""Database-backed user, token and lead stores (SQLite and PostgreSQL), and the app using them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.storage import Database
from needleplan.storage.backup import backup, restore, snapshot
from needleplan.web import Settings, create_app
from needleplan.web.auth import Role, token_digest
from needleplan.web.db_stores import DbLeadStore, DbTokenStore, DbUserStore
from needleplan.web.leads import CONSENT_TEXT, make_lead

from .conftest import TEST_SECRET, csrf_from


def test_user_store_authenticates_and_finds_active_users(db: Database) -> None:
    users = DbUserStore(db)
    made = users.add_user("Pia", "practitioner-password-1", "practitioner")
    assert (made.username, made.role) == ("pia", Role.PRACTITIONER)
    assert users.authenticate("pia", "practitioner-password-1") == made
    assert users.authenticate("PIA ", "practitioner-password-1") == made
    assert users.authenticate("pia", "wrong-password-123") is None
    assert users.authenticate("nobody", "practitioner-password-1") is None
    assert users.get_user(made.id) == made
    assert users.get_user("999") is None
    assert users.get_user("not-a-number") is None
    assert [u.username for u in users.list_users()] == ["pia"]
    services.deactivate_user(db, int(made.id))
    assert users.get_user(made.id) is None
    assert users.authenticate("pia", "practitioner-password-1") is None
    assert users.list_users() == []


def test_token_store_keeps_only_digests_and_revokes(db: Database) -> None:
    users = DbUserStore(db)
    desk = users.add_user("desk", "front-desk-password-1", "front_desk")
    tokens = DbTokenStore(db)
    token = tokens.issue_token(desk.id, "  booking system ")
    assert token.startswith("np_")
    assert tokens.user_for_token(token) == desk.model_copy(update={"via_token": 1})
    assert tokens.user_for_token(token + "x") is None
    assert tokens.user_for_token("") is None
    stored = snapshot(db.engine)["tables"]["api_tokens"]
    row = dict(zip(stored["columns"], stored["rows"][0], strict=True))
    assert row["digest"] == token_digest(token)
    assert token not in str(stored)
    [info] = tokens.list_tokens()
    assert (info.label, info.username, info.active) == ("booking system", "desk", True)
    revoked = tokens.revoke_token(info.id)
    assert not revoked.active
    assert tokens.user_for_token(token) is None
    assert tokens.revoke_token(info.id).revoked_at == revoked.revoked_at  # idempotent


def test_token_store_refuses_unknown_users_and_bad_labels(db: Database) -> None:
    from needleplan.exceptions import InputError, NotFoundError

    tokens = DbTokenStore(db)
    with pytest.raises(NotFoundError):
        tokens.issue_token("999", "x")
    with pytest.raises(NotFoundError):
        tokens.issue_token("abc", "x")
    user = DbUserStore(db).add_user("admin", "admin-password-1", "admin")
    with pytest.raises(InputError) as info:
        tokens.issue_token(user.id, "   ")
    assert info.value.problems[0].field == "label"


def test_lead_store_keeps_the_consent_text_and_time(db: Database) -> None:
    leads = DbLeadStore(db)
    at = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    lead = make_lead(
        name="Vera Visitor",
        email="vera@example.org",
        phone="",
        message="call me",
        estimate_summary="3 sessions",
        consent=True,
        now=at,
    )
    leads.add_lead(lead)
    assert leads.list_leads() == [lead]
    assert leads.list_leads()[0].consent_text == CONSENT_TEXT


def test_create_app_with_a_database_uses_the_database_stores(db: Database, tmp_path: Path) -> None:
    services.create_user(db, "prac", "practitioner-password-1", "practitioner")
    app = create_app(Settings(environment="test", secret_key=TEST_SECRET), database=db)
    assert isinstance(app.state.user_store, DbUserStore)
    assert isinstance(app.state.token_store, DbTokenStore)
    assert isinstance(app.state.lead_store, DbLeadStore)
    with TestClient(app) as client:
        page = client.get("/estimate")
        response = client.post(
            "/estimate/contact",
            data={
                "csrf_token": csrf_from(page.text),
                "name": "Vera",
                "email": "vera@example.org",
                "consent": "on",
            },
        )
        assert response.status_code == 200
        refused = client.post(
            "/estimate/contact",
            data={"csrf_token": csrf_from(page.text), "name": "No Consent", "phone": "0123456"},
        )
        assert refused.status_code == 422
        form = client.get("/login")
        signed_in = client.post(
            "/login",
            data={
                "csrf_token": csrf_from(form.text),
                "username": "prac",
                "password": "practitioner-password-1",
            },
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
    assert [r.name for r in services.list_leads(db)] == ["Vera"]


def test_tokens_and_leads_survive_backup_and_restore(
    db: Database, empty_database_url: str, tmp_path: Path
) -> None:
    user = services.create_user(db, "admin", "admin-password-1", "admin")
    token, _ = services.issue_api_token(db, user.id, "sync")
    services.revoke_api_token(db, services.issue_api_token(db, user.id, "old")[1].id)
    DbLeadStore(db).add_lead(
        make_lead(
            name="Vera",
            email="v@example.org",
            phone="",
            message="",
            estimate_summary="",
            consent=True,
        )
    )
    file = tmp_path / "b.json"
    counts: dict[str, Any] = backup(db.engine, file)
    assert (counts["api_tokens"], counts["leads"]) == (2, 1)
    target = Database.open(empty_database_url)
    try:
        restore(target.engine, file)
        assert snapshot(target.engine)["tables"] == snapshot(db.engine)["tables"]
        restored = services.user_for_api_token(target, token)
        assert restored is not None
        assert restored.username == "admin"
        assert [t.active for t in services.list_api_tokens(target)] == [True, False]
        assert [lead.name for lead in services.list_leads(target)] == ["Vera"]
    finally:
        target.dispose()


@pytest.mark.parametrize("kind", ["memory", "database"])
def test_both_user_stores_apply_the_same_rules_and_role_checks(db: Database, kind: str) -> None:
    """The in-memory and database stores are adapters over one account model: the same
    user-name rule, password rule and role checks, with the same messages."""
    from needleplan.exceptions import InputError, PermissionDeniedError
    from needleplan.web.auth import InMemoryTokenStore, InMemoryUserStore, TokenStore, UserStore

    users: UserStore
    tokens: TokenStore
    if kind == "memory":
        users = InMemoryUserStore()
        tokens = InMemoryTokenStore(users)
    else:
        users, tokens = DbUserStore(db), DbTokenStore(db)
    admin = users.add_user("admin", "admin-password-1", "admin")
    desk = users.add_user("desk", "front-desk-password-1", "front_desk", actor=admin)
    for bad in ("x1", "has space", "émile", "x" * 41):
        with pytest.raises(InputError) as info:
            users.add_user(bad, "long-enough-password", "practitioner", actor=admin)
        assert info.value.problems[0].field == "username"
    with pytest.raises(InputError, match="password: at least 10 characters"):
        users.add_user("pia", "too-short", "practitioner", actor=admin)
    refusals = {
        "create accounts": lambda: users.add_user(
            "sneaky", "sneaky-password-1", "admin", actor=desk
        ),
        "deactivate accounts": lambda: users.deactivate_user(admin.id, actor=desk),
        "set another account's password": lambda: users.set_password(
            admin.id, "taken-over-pass", actor=desk
        ),
        "issue API tokens for other accounts": lambda: tokens.issue_token(
            admin.id, "their tablet", actor=desk
        ),
    }
    for action, attempt in refusals.items():
        with pytest.raises(PermissionDeniedError) as refused:
            attempt()
        assert str(refused.value) == (
            f"desk (front_desk) may not {action}: it needs the users permission"
        )
    assert [u.username for u in users.list_users()] == ["admin", "desk"]
    assert tokens.user_for_token(tokens.issue_token(desk.id, "my tablet", actor=desk))
    assert users.authenticate("admin", "admin-password-1") == admin
    users.set_password(desk.id, "desk-new-password", actor=desk)
    assert users.verify_password(desk.id, "desk-new-password")

"""Sign-in, sessions, CSRF, role-based access to /app/ and bearer tokens for the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import Depends

from needleplan.web.auth import (
    InMemoryTokenStore,
    InMemoryUserStore,
    Permission,
    Role,
    StaffUser,
    token_digest,
)
from needleplan.web.security import SESSION_COOKIE, require_token

from .conftest import PASSWORDS, Env, TestClient, csrf_from, login, make_env


@pytest.mark.parametrize("path", ["/app/", "/app/consult", "/app/admin/users", "/app/leads"])
def test_unauthenticated_staff_pages_redirect_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_login_page_has_a_csrf_field_and_sets_the_csrf_cookie(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    csrf_from(response.text)
    cookie = response.headers["set-cookie"]
    assert "needleplan_csrf=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_login_sets_a_signed_httponly_lax_session_cookie(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "prac", "password": PASSWORDS["prac"], "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/app/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie, "plain http in test mode"
    assert "Dr Pia Practitioner" in client.get("/app/").text


def test_session_cookie_is_secure_in_production(user_store: InMemoryUserStore) -> None:
    env = make_env(user_store, environment="production")
    with TestClient(env.app, base_url="https://testserver") as c:
        token = csrf_from(c.get("/login").text)
        response = c.post(
            "/login",
            data={"username": "desk", "password": PASSWORDS["desk"], "csrf_token": token},
            follow_redirects=False,
        )
        assert "Secure" in response.headers["set-cookie"]
        assert "max-age" in c.get("/login").headers["strict-transport-security"]


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient,
) -> None:
    token = csrf_from(client.get("/login").text)
    for username in ("prac", "nobody"):
        response = client.post(
            "/login",
            data={"username": username, "password": "wrong-password", "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"username": "prac", "password": PASSWORDS["prac"]}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "reload the page" in response.text


def test_csrf_token_from_another_visitor_is_refused(env: Env) -> None:
    with TestClient(env.app) as attacker, TestClient(env.app) as victim:
        foreign = csrf_from(attacker.get("/login").text)
        victim.get("/login")
        response = victim.post(
            "/login",
            data={"username": "prac", "password": PASSWORDS["prac"], "csrf_token": foreign},
            follow_redirects=False,
        )
        assert response.status_code == 403


def test_login_is_rate_limited_per_user_name(env: Env, client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    burst = env.app.state.settings.login_burst
    statuses = [
        client.post(
            "/login",
            data={"username": "prac", "password": f"guess-{i}", "csrf_token": token},
        ).status_code
        for i in range(burst + 1)
    ]
    assert statuses == [401] * burst + [429]
    # Even the right password waits until the bucket refills; then it works.
    right = {"username": "prac", "password": PASSWORDS["prac"], "csrf_token": token}
    assert client.post("/login", data=right).status_code == 429
    env.clock.advance(60)
    assert client.post("/login", data=right, follow_redirects=False).status_code == 303


def test_login_redirects_to_the_page_asked_for_but_never_off_site(client: TestClient) -> None:
    token = csrf_from(client.get("/login?next=/app/consult").text)
    ok = client.post(
        "/login",
        data={
            "username": "prac",
            "password": PASSWORDS["prac"],
            "csrf_token": token,
            "next": "/app/consult",
        },
        follow_redirects=False,
    )
    assert ok.headers["location"] == "/app/consult"
    client.cookies.delete(SESSION_COOKIE)
    for evil in ("https://evil.example/", "//evil.example/app", "/\\evil.example"):
        response = client.post(
            "/login",
            data={
                "username": "prac",
                "password": PASSWORDS["prac"],
                "csrf_token": token,
                "next": evil,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/app/", evil
        client.cookies.delete(SESSION_COOKIE)


def test_a_tampered_session_cookie_counts_as_signed_out(client: TestClient) -> None:
    login(client, "admin")
    value = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
    assert client.get("/app/", follow_redirects=False).status_code == 303


def test_an_expired_session_counts_as_signed_out(user_store: InMemoryUserStore) -> None:
    env = make_env(user_store, session_max_age_s=600, idle_timeout_s=3600)
    with TestClient(env.app) as c:
        login(c, "prac")
        env.wall.advance(599)
        assert c.get("/app/", follow_redirects=False).status_code == 200
        env.wall.advance(1)
        assert c.get("/app/", follow_redirects=False).status_code == 303


def test_logout_clears_the_session_and_needs_csrf(client: TestClient) -> None:
    login(client, "prac")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    token = csrf_from(client.get("/app/").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/app/", follow_redirects=False).status_code == 303


# Role-based access: (user, path, expected status)
ACCESS = [
    ("admin", "/app/", 200),
    ("prac", "/app/", 200),
    ("desk", "/app/", 200),
    ("prac", "/app/consult", 200),
    ("desk", "/app/consult", 403),
    ("admin", "/app/consult", 403),
    ("admin", "/app/admin/users", 200),
    ("prac", "/app/admin/users", 403),
    ("desk", "/app/admin/users", 403),
    ("admin", "/app/leads", 200),
    ("prac", "/app/leads", 200),
    ("desk", "/app/leads", 200),
]


@pytest.mark.parametrize(("username", "path", "status"), ACCESS)
def test_each_role_reaches_only_its_pages(
    as_user: Callable[[str], TestClient], username: str, path: str, status: int
) -> None:
    response = as_user(username).get(path, follow_redirects=False)
    assert response.status_code == status
    if status == 403:
        assert "does not give access" in response.text


def test_front_desk_home_does_not_offer_the_consultation(
    as_user: Callable[[str], TestClient],
) -> None:
    page = as_user("desk").get("/app/").text
    assert "/app/consult" not in page
    assert "front desk" in page


def test_an_admin_issues_a_token_for_an_integration_account(
    env: Env, as_user: Callable[[str], TestClient]
) -> None:
    client = as_user("admin")
    page = client.get("/app/admin/users").text
    token = csrf_from(page)
    desk = env.staff["desk"]
    response = client.post(
        "/app/admin/tokens",
        data={"user_id": desk.id, "label": "booking site", "csrf_token": token, "scope": "write"},
    )
    assert response.status_code == 200
    issued = response.text.split('<code class="token">')[1].split("</code>")[0]
    assert issued.startswith("np_")
    who = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {issued}"})
    assert who.status_code == 200
    assert who.json()["username"] == "desk"
    assert who.json()["role"] == "front_desk"
    # a practitioner's token would give the admin clinical access: refused (in memory too)
    refused = client.post(
        "/app/admin/tokens",
        data={"user_id": env.staff["prac"].id, "label": "backdoor", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert "only its owner may issue one" in refused.text


def test_issuing_a_token_needs_csrf_and_the_admin_role(
    env: Env, as_user: Callable[[str], TestClient]
) -> None:
    client = as_user("prac")
    token = csrf_from(client.get("/app/").text)
    denied = client.post(
        "/app/admin/tokens",
        data={"user_id": env.staff["prac"].id, "label": "x", "csrf_token": token},
    )
    assert denied.status_code == 403
    login(client, "admin")
    no_csrf = client.post("/app/admin/tokens", data={"user_id": env.staff["prac"].id, "label": "x"})
    assert no_csrf.status_code == 403


def test_bearer_token_is_required_and_checked(env: Env, client: TestClient) -> None:
    missing = client.get("/api/v1/whoami")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json() == {
        "errors": [{"field": "authorization", "value": None, "rule": "a bearer token is required"}]
    }
    wrong = client.get("/api/v1/whoami", headers={"Authorization": "Bearer np_not-a-token"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["rule"] == "unknown, expired or revoked token"
    basic = client.get("/api/v1/whoami", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert basic.status_code == 401


def test_a_session_cookie_does_not_authenticate_token_routes(
    as_user: Callable[[str], TestClient],
) -> None:
    assert as_user("admin").get("/api/v1/whoami").status_code == 401


def test_token_routes_deny_roles_without_the_permission(env: Env, client: TestClient) -> None:
    @env.app.get("/api/v1/test-clinical")
    def _clinical(user: StaffUser = Depends(require_token(Permission.CLINICAL))) -> dict[str, str]:
        return {"user": user.username}

    desk = env.tokens.issue_token(env.staff["desk"].id, "front desk tablet")
    prac = env.tokens.issue_token(env.staff["prac"].id, "practitioner tablet")
    denied = client.get("/api/v1/test-clinical", headers={"Authorization": f"Bearer {desk}"})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["field"] == "role"
    assert denied.json()["errors"][0]["value"] == "front_desk"
    allowed = client.get("/api/v1/test-clinical", headers={"Authorization": f"Bearer {prac}"})
    assert allowed.json() == {"user": "prac"}


def test_tokens_are_stored_only_as_digests(env: Env) -> None:
    store = InMemoryTokenStore(env.users)
    token = store.issue_token(env.staff["admin"].id, "ci")
    assert token not in repr(store.__dict__)
    assert token_digest(token) in store._tokens


def test_passwords_are_stored_as_argon2id_hashes() -> None:
    store = InMemoryUserStore()
    user = store.add_user("Someone", "a-long-password", Role.FRONT_DESK)
    stored = store._users[user.id][1]
    assert stored.startswith("$argon2id$")
    assert "a-long-password" not in stored
    assert store.authenticate("SOMEONE ", "a-long-password") == user
    assert store.authenticate("someone", "a-long-passworD") is None


def test_add_user_rejects_bad_accounts() -> None:
    from needleplan.exceptions import ConflictError, InputError

    store = InMemoryUserStore()
    store.add_user("pia", "long-enough-password", "practitioner")
    with pytest.raises(InputError, match="password"):
        store.add_user("short", "tiny", Role.ADMIN)
    with pytest.raises(InputError, match="role"):
        store.add_user("ghost", "long-enough-password", "owner")
    with pytest.raises(InputError, match="username"):
        store.add_user("   ", "long-enough-password", Role.ADMIN)
    with pytest.raises(ConflictError):
        store.add_user("PIA", "long-enough-password", Role.ADMIN)


def test_demo_store_has_one_account_per_role_with_random_passwords() -> None:
    from needleplan.web.auth import demo_user_store

    store, passwords = demo_user_store()
    _, again = demo_user_store()
    assert {u.role for u in store.list_users()} == set(Role)
    assert passwords != again
    for username, password in passwords.items():
        assert store.authenticate(username, password) is not None

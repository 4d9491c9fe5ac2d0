"""My account (change my password, my sessions) and the admin's session and password actions.

Every test runs on the in-memory stores and on the database stores (SQLite and PostgreSQL); with
a database the audit rows are checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from needleplan import services
from needleplan.services.staff_sessions import SessionPolicy
from needleplan.web import Settings, create_app
from needleplan.web.auth import SessionStore, UserStore
from needleplan.web.db_stores import DbSessionStore
from tests.conftest import BACKENDS

from .conftest import (
    PASSWORDS,
    TEST_SECRET,
    FakeClock,
    FakeWallClock,
    TestClient,
    csrf_from,
    fresh_user_store,
    login,
    make_env,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
NEW_PASSWORD = "a-brand-new-password-7"


@pytest.fixture(params=[pytest.param("memory", id="memory"), *BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """In-memory stores, or the database stores on SQLite and PostgreSQL."""
    value: str = request.param
    return value


@dataclass
class Site:
    """An app with one account per role (admin, prac, desk) and browsers to open on it."""

    app: Any
    users: UserStore
    sessions: SessionStore
    ids: dict[str, int]
    clock: FakeClock
    db: Any = None
    stack: ExitStack = field(default_factory=ExitStack)

    def browser(self, user_agent: str = "testclient") -> TestClient:
        client = TestClient(
            self.app, base_url="http://testserver", headers={"User-Agent": user_agent}
        )
        return self.stack.enter_context(client)

    def signed_in(self, username: str, user_agent: str = "testclient") -> TestClient:
        client = self.browser(user_agent)
        self.clock.advance(60)  # a fresh sign-in allowance for each browser
        login(client, username)
        return client

    def audit(self) -> list[tuple[str, str, int | None, str]]:
        """(user name, action, patient id, detail) of the account rows, oldest first."""
        events = services.audit_log(self.db, limit=1000)
        events = [e for e in events if e.action.startswith(("account.", "user."))]
        return [(e.username, e.action, e.patient_id, e.detail) for e in reversed(events)]


@pytest.fixture
def site(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    if backend == "memory":
        env = make_env(fresh_user_store())
        made = Site(
            env.app, env.users, env.sessions, {k: u.id for k, u in env.staff.items()}, env.clock
        )
    else:
        db = request.getfixturevalue("db")
        roles = {"admin": "admin", "prac": "practitioner", "desk": "front_desk"}
        ids = {n: services.create_user(db, n, PASSWORDS[n], r).id for n, r in roles.items()}
        settings = Settings(environment="test", secret_key=TEST_SECRET)  # type: ignore[call-arg]
        policy = SessionPolicy(settings.session_max_age_s, settings.idle_timeout_s)
        clock = FakeClock()
        app = create_app(
            settings,
            database=db,
            session_store=DbSessionStore(db, policy, now=FakeWallClock()),
            clock=clock,
        )
        made = Site(app, app.state.user_store, app.state.session_store, ids, clock, db)
    with made.stack:
        yield made


def signed_out(client: TestClient) -> bool:
    return client.get("/app/", follow_redirects=False).status_code == 303


def change_password(client: TestClient, current: str, new: str, again: str | None = None) -> Any:
    token = csrf_from(client.get("/app/account").text)
    return client.post(
        "/app/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if again is None else again,
        },
    )


def admin_post(client: TestClient, path: str, **form: str) -> Any:
    token = csrf_from(client.get("/app/admin/users").text)
    return client.post(path, data={"csrf_token": token, **form})


# --------------------------------------------------------------------------- my account


def test_my_account_lists_my_sessions_and_marks_this_browser(site: Site) -> None:
    here = site.signed_in("prac", FIREFOX)
    site.signed_in("prac", ANDROID)
    site.signed_in("desk", "Desk/1.0")
    home = here.get("/app/").text
    assert '<a href="/app/account">My account</a>' in home
    page = here.get("/app/account")
    assert page.status_code == 200
    assert "Firefox 128 on Linux <strong>(this browser)</strong>" in page.text
    assert "Chrome 126 on Android" in page.text
    assert "Desk/1.0" not in page.text
    assert "Sign out everywhere else" in page.text
    assert "30 minutes without use" in page.text


def test_changing_my_password_keeps_this_session_and_ends_the_others(site: Site) -> None:
    here, elsewhere = site.signed_in("prac"), site.signed_in("prac")
    desk = site.signed_in("desk")
    response = change_password(here, PASSWORDS["prac"], NEW_PASSWORD)
    assert response.status_code == 200
    assert "Password changed. 1 other session signed out." in response.text
    assert not signed_out(here)
    assert signed_out(elsewhere)
    assert not signed_out(desk)
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is None
    assert site.users.authenticate("prac", NEW_PASSWORD) is not None
    if site.db is not None:
        assert site.audit() == [
            (
                "prac",
                "account.password",
                None,
                f"user {site.ids['prac']} other_sessions_ended=1",
            )
        ]


def test_a_wrong_current_password_is_refused_and_changes_nothing(site: Site) -> None:
    here, elsewhere = site.signed_in("prac"), site.signed_in("prac")
    response = change_password(here, "not-my-password", NEW_PASSWORD)
    assert response.status_code == 422
    assert "Your password was not changed" in response.text
    assert (
        '<li data-field="current_password"><strong>current_password</strong>: '
        "is not your current password</li>"
    ) in response.text
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is not None
    assert not signed_out(elsewhere)
    if site.db is not None:
        assert site.audit() == []


@pytest.mark.parametrize(
    ("new", "again", "field_name", "rule"),
    [
        ("short", "short", "new_password", "at least 10 characters"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "confirm_password", "must repeat the new password"),
        (PASSWORDS["prac"], PASSWORDS["prac"], "new_password", "must differ from the current"),
        ("x" * 1025, "x" * 1025, "new_password", "at most 1024 characters"),
    ],
)
def test_a_bad_new_password_is_named_and_nothing_changes(
    site: Site, new: str, again: str, field_name: str, rule: str
) -> None:
    here = site.signed_in("prac")
    response = change_password(here, PASSWORDS["prac"], new, again)
    assert response.status_code == 422
    assert f'<li data-field="{field_name}"><strong>{field_name}</strong>: {rule}' in response.text
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is not None


def test_guessing_the_current_password_is_rate_limited(site: Site) -> None:
    here = site.signed_in("prac")
    statuses = [
        change_password(here, f"guess-{i}-xxxxx", NEW_PASSWORD).status_code for i in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    refused = change_password(here, PASSWORDS["prac"], NEW_PASSWORD)
    assert refused.status_code == 429
    assert "too many attempts" in refused.text
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is not None
    site.clock.advance(60)
    assert change_password(here, PASSWORDS["prac"], NEW_PASSWORD).status_code == 200


def test_sign_out_everywhere_else(site: Site) -> None:
    here, second, third = (site.signed_in("prac") for _ in range(3))
    response = here.post(
        "/app/account/sessions/end-others", data={"csrf_token": csrf_from(here.get("/app/").text)}
    )
    assert response.status_code == 200
    assert "Signed out everywhere else: 2 other sessions ended." in response.text
    assert "You are signed in on this browser only." in response.text
    assert not signed_out(here)
    assert signed_out(second)
    assert signed_out(third)
    if site.db is not None:
        assert site.audit() == [
            ("prac", "account.sessions.revoke", None, f"user {site.ids['prac']} others ended=2")
        ]


def test_signed_out_visitors_are_sent_to_the_login(site: Site) -> None:
    browser = site.browser()
    response = browser.get("/app/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/app/account"
    token = csrf_from(browser.get("/login").text)
    posted = browser.post(
        "/app/account/sessions/end-others", data={"csrf_token": token}, follow_redirects=False
    )
    assert posted.status_code == 303


# --------------------------------------------------------------------------- admin actions


def test_admin_sees_session_counts_and_ends_another_users_sessions(site: Site) -> None:
    prac_one, prac_two = site.signed_in("prac"), site.signed_in("prac")
    admin = site.signed_in("admin")
    page = admin.get("/app/admin/users").text
    prac_cell = page.split('data-user="prac">')[1].split("</td>")[0]
    assert "2 active" in prac_cell
    assert f'action="/app/admin/users/{site.ids["prac"]}/sessions/end"' in prac_cell
    assert "0 active" in page.split('data-user="desk">')[1].split("</td>")[0]
    response = admin_post(admin, f"/app/admin/users/{site.ids['prac']}/sessions/end")
    assert response.status_code == 200
    assert "Ended 2 sessions of <strong>prac</strong>" in response.text
    assert signed_out(prac_one)
    assert signed_out(prac_two)
    assert not signed_out(admin)
    assert "0 active" in response.text.split('data-user="prac">')[1].split("</td>")[0]
    if site.db is not None:
        assert site.audit() == [
            ("admin", "account.sessions.revoke", None, f"user {site.ids['prac']} ended=2")
        ]


def test_admin_sets_a_new_password_for_another_user(site: Site) -> None:
    prac = site.signed_in("prac")
    admin = site.signed_in("admin")
    path = f"/app/admin/users/{site.ids['prac']}/password"
    mismatch = admin_post(admin, path, new_password=NEW_PASSWORD, confirm_password="different-1234")
    assert mismatch.status_code == 422
    assert "confirm_password: must repeat the new password exactly" in mismatch.text
    short = admin_post(admin, path, new_password="short", confirm_password="short")
    assert short.status_code == 422
    assert "new_password: at least 10 characters" in short.text
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is not None
    assert not signed_out(prac)
    done = admin_post(admin, path, new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert done.status_code == 200
    assert "New password set for <strong>prac</strong>; 1 session ended." in done.text
    assert signed_out(prac)
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is None
    site.clock.advance(60)
    login(prac, "prac", NEW_PASSWORD)
    if site.db is None:
        assert not signed_out(prac)
    else:  # a password an admin set must be changed first (issue 17, accounts)
        sent = prac.get("/app/", follow_redirects=False)
        assert sent.headers["location"] == "/app/account"
        assert 'id="must-change-password"' in prac.get("/app/account").text
        assert site.audit() == [
            ("admin", "account.password.reset", None, f"user {site.ids['prac']} sessions_ended=1")
        ]


def test_an_admin_cannot_lock_themselves_out(site: Site) -> None:
    admin = site.signed_in("admin")
    site.signed_in("admin")
    me = site.ids["admin"]
    page = admin.get("/app/admin/users").text
    own_cell = page.split('data-user="admin">')[1].split("</td>")[0]
    assert "2 active" in own_cell
    assert "End sessions" not in own_cell
    assert f"/app/admin/users/{me}/password" not in page
    ended = admin_post(admin, f"/app/admin/users/{me}/sessions/end")
    assert ended.status_code == 409
    assert "Sign out everywhere else" in ended.text
    reset = admin_post(
        admin,
        f"/app/admin/users/{me}/password",
        new_password=NEW_PASSWORD,
        confirm_password=NEW_PASSWORD,
    )
    assert reset.status_code == 409
    assert "Change your own password under My account" in reset.text
    assert not signed_out(admin)
    assert site.sessions.active_counts()[me] == 2
    assert site.users.authenticate("admin", PASSWORDS["admin"]) is not None
    for path in ("/app/admin/users/999999/sessions/end", "/app/admin/users/nobody/password"):
        assert admin_post(admin, path, new_password=NEW_PASSWORD).status_code == 404
    if site.db is not None:
        assert site.audit() == []


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_other_roles_cannot_end_sessions_or_set_passwords(site: Site, who: str) -> None:
    admin = site.signed_in("admin")
    client = site.signed_in(who)
    token = csrf_from(client.get("/app/").text)
    target = site.ids["admin"]
    for path, form in (
        (f"/app/admin/users/{target}/sessions/end", {}),
        (
            f"/app/admin/users/{target}/password",
            {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ),
    ):
        response = client.post(path, data={"csrf_token": token, **form})
        assert response.status_code == 403
        assert "does not give access" in response.text
    assert not signed_out(admin)
    assert site.users.authenticate("admin", PASSWORDS["admin"]) is not None


def test_every_account_form_needs_the_csrf_token(site: Site) -> None:
    prac = site.signed_in("prac")
    admin = site.signed_in("admin")
    desk = site.ids["desk"]
    site.signed_in("desk")
    posts: list[tuple[TestClient, str, dict[str, str]]] = [
        (
            prac,
            "/app/account/password",
            {
                "current_password": PASSWORDS["prac"],
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        ),
        (prac, "/app/account/sessions/end-others", {}),
        (admin, f"/app/admin/users/{desk}/sessions/end", {}),
        (
            admin,
            f"/app/admin/users/{desk}/password",
            {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ),
    ]
    foreign = csrf_from(site.browser().get("/login").text)
    for client, path, form in posts:
        for extra in ({}, {"csrf_token": foreign}):
            response = client.post(path, data={**form, **extra})
            assert response.status_code == 403, path
            assert "reload the page" in response.text
    assert site.users.authenticate("prac", PASSWORDS["prac"]) is not None
    assert site.users.authenticate("desk", PASSWORDS["desk"]) is not None
    assert site.sessions.active_counts() == {site.ids[n]: 1 for n in ("prac", "admin", "desk")}


def test_deactivating_an_account_ends_its_sessions(site: Site) -> None:
    desk_one, desk_two = site.signed_in("desk"), site.signed_in("desk")
    prac = site.signed_in("prac")
    admin = site.signed_in("admin")
    desk = site.ids["desk"]
    response = admin_post(admin, f"/app/admin/users/{desk}/deactivate")
    assert response.status_code == 200
    assert signed_out(desk_one)
    assert signed_out(desk_two)
    assert desk not in site.sessions.active_counts()
    assert not signed_out(prac)
    if site.db is not None:
        assert site.audit() == [("admin", "user.deactivate", None, f"user {desk} sessions_ended=2")]
        # An account closed behind the web app's back (services.deactivate_user) is refused
        # at once even though its session was never revoked.
        services.deactivate_user(site.db, int(site.ids["prac"]))
        assert signed_out(prac)

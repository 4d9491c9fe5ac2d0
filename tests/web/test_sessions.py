"""Server-side staff sessions: revocation, rotation, idle and absolute expiry, throttled writes.

The store contract runs against the in-memory store and the database store on both backends
(this module adds "memory" to the ``backend`` parameters); the app tests sign in through HTTP.
Time comes from a wall clock the tests move, never from sleeping.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from needleplan import services
from needleplan.exceptions import ConfigError
from needleplan.services.staff_sessions import SessionPolicy, session_digest
from needleplan.storage.tables import StaffSessionRow
from needleplan.web.auth import InMemorySessionStore, SessionStore
from needleplan.web.db_stores import DbSessionStore
from needleplan.web.routes.account import AGENT_SHORT, describe_user_agent
from needleplan.web.security import SESSION_COOKIE
from needleplan.web.settings import load_settings
from tests.conftest import BACKENDS
from tests.strategies import examples

from .conftest import (
    PASSWORDS,
    Env,
    FakeWallClock,
    TestClient,
    csrf_from,
    fresh_user_store,
    login,
    make_env,
)

POLICY = SessionPolicy(max_age_s=8 * 3600, idle_timeout_s=30 * 60)


# --------------------------------------------------------------------------- the store contract


@pytest.fixture(params=[pytest.param("memory", id="memory"), *BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """The stores under test: in memory, or the database on SQLite and PostgreSQL."""
    value: str = request.param
    return value


@dataclass
class Stores:
    store: SessionStore
    wall: FakeWallClock
    alice: int
    bob: int
    db: Any


@pytest.fixture
def stores(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Stores:
    wall = FakeWallClock()
    if backend == "memory":
        return Stores(InMemorySessionStore(POLICY, now=wall), wall, 1, 2, None)
    db = request.getfixturevalue("db")
    alice = services.create_user(db, "alice", "alice-password-1", "practitioner")
    bob = services.create_user(db, "bob", "bob-password-12", "front_desk")
    return Stores(DbSessionStore(db, POLICY, now=wall), wall, alice.id, bob.id, db)


def stored_digests(s: Stores) -> list[str]:
    """Every session digest the store keeps, live or not."""
    if s.db is None:
        assert isinstance(s.store, InMemorySessionStore)
        return sorted(s.store._entries)
    with s.db.engine.connect() as conn:
        return sorted(conn.execute(select(StaffSessionRow.digest)).scalars())


def test_a_session_is_found_by_its_token_until_it_is_ended(stores: Stores) -> None:
    s = stores
    started = s.wall.now
    token = s.store.start(s.alice, "Mozilla/5.0 Firefox/128.0")
    assert len(token) == 43  # secrets.token_urlsafe(32)
    found = s.store.find(token)
    assert found is not None
    assert (found.user_id, found.created_at, found.last_seen_at) == (s.alice, started, started)
    assert (found.expires_at - found.created_at).total_seconds() == POLICY.max_age_s
    assert found.user_agent == "Mozilla/5.0 Firefox/128.0"
    for wrong in (token + "x", token[:-1], "", "x" * 500, "a" * 43):
        assert s.store.find(wrong) is None, wrong
    s.store.end(token)
    assert s.store.find(token) is None
    s.store.end(token)  # ending twice is harmless
    s.store.end("never-issued")
    assert s.store.find(token) is None


def test_only_the_sha256_of_the_token_is_stored(stores: Stores) -> None:
    s = stores
    token = s.store.start(s.alice, "")
    assert stored_digests(s) == [hashlib.sha256(token.encode()).hexdigest()]
    assert session_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    if s.db is None:
        assert token not in repr(s.store.__dict__)
    else:
        with s.db.engine.connect() as conn:
            rows = conn.execute(select(StaffSessionRow)).all()
        assert token not in repr(rows)


def test_an_unused_session_ends_after_the_idle_timeout(stores: Stores) -> None:
    s = stores
    token = s.store.start(s.alice, "")
    s.wall.advance(POLICY.idle_timeout_s - 1)
    assert s.store.find(token) is not None  # used: the idle clock restarts
    s.wall.advance(POLICY.idle_timeout_s - 1)
    assert s.store.find(token) is not None
    s.wall.advance(POLICY.idle_timeout_s)
    assert s.store.find(token) is None
    assert s.store.active(s.alice) == []
    assert s.store.active_counts() == {}


def test_a_session_in_use_still_ends_at_its_absolute_lifetime(stores: Stores) -> None:
    s = stores
    token = s.store.start(s.alice, "")
    step = 20 * 60
    for _ in range(POLICY.max_age_s // step - 1):
        s.wall.advance(step)
        assert s.store.find(token) is not None
    s.wall.advance(step)  # exactly max_age_s after sign-in
    assert s.store.find(token) is None


def test_last_seen_is_written_at_most_once_a_minute(stores: Stores) -> None:
    s = stores
    writes: list[str] = []
    if s.db is not None:

        @event.listens_for(s.db.engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE STAFF_SESSIONS"):
                writes.append(statement)

    t0 = s.wall.now
    token = s.store.start(s.alice, "")
    for _ in range(59):
        s.wall.advance(1)
        assert s.store.find(token) is not None
    assert [x.last_seen_at for x in s.store.active(s.alice)] == [t0]
    assert writes == []
    s.wall.advance(1)
    found = s.store.find(token)
    assert found is not None
    assert [x.last_seen_at for x in s.store.active(s.alice)] == [s.wall.now]
    for _ in range(30):
        s.wall.advance(1)
        s.store.find(token)
    assert [(x.last_seen_at - t0).total_seconds() for x in s.store.active(s.alice)] == [60]
    if s.db is not None:
        assert len(writes) == 1
        event.remove(s.db.engine, "before_cursor_execute", _count)


def test_ending_every_session_of_a_user_but_one(stores: Stores) -> None:
    s = stores
    a1, a2, a3 = (s.store.start(s.alice, f"browser {i}") for i in range(3))
    b1 = s.store.start(s.bob, "")
    keep = s.store.find(a1)
    assert keep is not None
    assert s.store.active_counts() == {s.alice: 3, s.bob: 1}
    assert s.store.end_all(s.alice, keep=keep.id) == 2
    assert s.store.find(a1) is not None
    assert s.store.find(a2) is None
    assert s.store.find(a3) is None
    assert s.store.find(b1) is not None
    assert [x.id for x in s.store.active(s.alice)] == [keep.id]
    assert s.store.end_all(s.alice) == 1
    assert s.store.active_counts() == {s.bob: 1}
    assert s.store.end_all(s.alice) == 0
    assert s.store.end_all("999999") == 0


def test_active_sessions_are_listed_most_recently_used_first(stores: Stores) -> None:
    s = stores
    first = s.store.start(s.alice, "Mozilla\x00/5.0\n ")
    s.wall.advance(120)
    second = s.store.start(s.alice, "x" * 500)
    s.wall.advance(120)
    s.store.find(first)
    listed = s.store.active(s.alice)
    one, two = s.store.find(first), s.store.find(second)
    assert one is not None
    assert two is not None
    assert [x.id for x in listed] == [one.id, two.id]
    assert listed[0].user_agent == "Mozilla/5.0"
    assert listed[1].user_agent == "x" * 200
    assert s.store.active(s.bob) == []


def test_purge_forgets_ended_expired_and_idle_sessions_only(stores: Stores) -> None:
    s = stores
    idle = s.store.start(s.alice, "")
    s.wall.advance(1000)
    live = s.store.start(s.alice, "")
    ended = s.store.start(s.bob, "")
    s.store.end(ended)
    s.wall.advance(1000)  # `idle` was last seen 2000 s ago, `live` 1000 s ago
    assert s.store.purge() == 2
    assert stored_digests(s) == [session_digest(live)]
    assert s.store.find(live) is not None
    assert s.store.find(idle) is None
    assert s.store.purge() == 0


# --------------------------------------------------------------------------- through the app


@pytest.fixture
def fresh_env() -> Env:
    """An app with its own accounts, so deactivating one does not leak into other tests."""
    return make_env(fresh_user_store())


@pytest.fixture
def clients(fresh_env: Env) -> Iterator[list[TestClient]]:
    """Three separate browsers on the same app."""
    with (
        TestClient(fresh_env.app, base_url="http://testserver") as a,
        TestClient(fresh_env.app, base_url="http://testserver") as b,
        TestClient(fresh_env.app, base_url="http://testserver") as c,
    ):
        yield [a, b, c]


def plant(client: TestClient, value: str) -> None:
    """Put ``value`` in the browser's session cookie, replacing the one the server set."""
    client.cookies.delete(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, value, domain="testserver.local")


def _sign_out(client: TestClient) -> None:
    token = csrf_from(client.get("/app/").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_the_cookie_is_a_random_token_living_as_long_as_the_session(
    fresh_env: Env, clients: list[TestClient]
) -> None:
    client = clients[0]
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "prac", "password": PASSWORDS["prac"], "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    value = client.cookies[SESSION_COOKIE]
    assert len(value) == 43
    assert str(fresh_env.staff["prac"].id) not in value
    assert "Max-Age=28800" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie


def test_signing_out_revokes_the_session_so_a_copied_cookie_is_refused(
    fresh_env: Env, clients: list[TestClient]
) -> None:
    owner, thief = clients[0], clients[1]
    login(owner, "prac")
    stolen = owner.cookies[SESSION_COOKIE]
    plant(thief, stolen)
    assert thief.get("/app/", follow_redirects=False).status_code == 200
    _sign_out(owner)
    replay = thief.get("/app/consult", follow_redirects=False)
    assert replay.status_code == 303
    assert replay.headers["location"] == "/login?next=/app/consult"
    assert fresh_env.sessions.active(fresh_env.staff["prac"].id) == []


def test_signing_in_rotates_the_session_so_a_planted_cookie_is_never_promoted(
    fresh_env: Env, clients: list[TestClient]
) -> None:
    victim, attacker = clients[0], clients[1]
    plant(victim, "planted-by-someone-else")
    login(victim, "prac")
    assert victim.cookies[SESSION_COOKIE] != "planted-by-someone-else"
    assert fresh_env.sessions.find("planted-by-someone-else") is None
    # The attacker's own valid session planted in the victim's browser is ended by her sign-in.
    login(attacker, "desk")
    planted = attacker.cookies[SESSION_COOKIE]
    plant(victim, planted)
    login(victim, "prac")
    assert victim.cookies[SESSION_COOKIE] != planted
    assert "Dr Pia Practitioner" in victim.get("/app/").text
    assert attacker.get("/app/", follow_redirects=False).status_code == 303


def test_deactivating_an_account_ends_all_its_sessions(
    fresh_env: Env, clients: list[TestClient]
) -> None:
    admin, desk_one, desk_two = clients
    login(desk_one, "desk")
    login(desk_two, "desk")
    login(admin, "admin")
    desk = fresh_env.staff["desk"]
    assert fresh_env.sessions.active_counts()[desk.id] == 2
    token = csrf_from(admin.get("/app/admin/users").text)
    done = admin.post(f"/app/admin/users/{desk.id}/deactivate", data={"csrf_token": token})
    assert done.status_code == 200
    assert "its sessions ended" in done.text
    for browser in (desk_one, desk_two):
        assert browser.get("/app/", follow_redirects=False).status_code == 303
    assert fresh_env.sessions.active(desk.id) == []


def test_an_idle_session_sends_pages_back_to_the_login(user_store: Any) -> None:
    env = make_env(user_store, idle_timeout_s=600)
    with TestClient(env.app) as client:
        login(client, "prac")
        for _ in range(3):
            env.wall.advance(599)
            assert client.get("/app/", follow_redirects=False).status_code == 200
        env.wall.advance(600)
        response = client.get("/app/patients?q=x", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/app/patients%3Fq%3Dx"
        assert client.get("/login", follow_redirects=False).status_code == 200  # signed out


def test_signing_in_purges_ended_sessions(fresh_env: Env, clients: list[TestClient]) -> None:
    first, second = clients[0], clients[1]
    login(first, "prac")
    _sign_out(first)
    login(second, "desk")
    fresh_env.wall.advance(3600)  # second's session goes idle
    login(first, "admin")
    assert len(fresh_env.sessions._entries) == 1  # only admin's new session is left
    assert fresh_env.sessions.active_counts() == {fresh_env.staff["admin"].id: 1}


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=st.text(alphabet=string.ascii_letters + string.digits + "-_.", max_size=120))
def test_any_made_up_cookie_counts_as_signed_out(client: TestClient, value: str) -> None:
    client.cookies.set(SESSION_COOKIE, value)
    response = client.get("/app/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/app/"


# --------------------------------------------------------------------------- settings and display


def test_idle_timeout_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).idle_timeout_s == 1800
    monkeypatch.setenv("NEEDLEPLAN_IDLE_TIMEOUT_S", "900")
    assert load_settings(_env_file=None).idle_timeout_s == 900
    for bad in ("10", "soon", str(8 * 24 * 3600)):
        monkeypatch.setenv("NEEDLEPLAN_IDLE_TIMEOUT_S", bad)
        with pytest.raises(ConfigError) as info:
            load_settings(_env_file=None)
        assert info.value.problems[0].field == "NEEDLEPLAN_IDLE_TIMEOUT_S"


@pytest.mark.parametrize(
    ("agent", "short"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
            "Edge 126 on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.5 Safari/605.1.15",
            "Safari 17 on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome 126 on Android",
        ),
        ("", "unknown browser"),
        ("testclient", "testclient"),
        ("curl/8.5.0 " + "x" * 80, "curl/8.5.0 " + "x" * (AGENT_SHORT - 12) + "…"),
    ],
)
def test_user_agents_are_shortened_to_browser_and_system(agent: str, short: str) -> None:
    assert describe_user_agent(agent) == short


@given(st.text(max_size=300))
def test_any_user_agent_gets_a_short_description(agent: str) -> None:
    short = describe_user_agent(agent)
    assert 0 < len(short) <= max(AGENT_SHORT, 60)

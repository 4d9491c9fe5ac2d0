"""Fixtures for the web tests: an app with in-memory stores and one user per role."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from needleplan.services.staff_sessions import SessionPolicy
from needleplan.web import Settings, create_app
from needleplan.web.auth import (
    InMemorySessionStore,
    InMemoryTokenStore,
    InMemoryUserStore,
    Role,
    StaffUser,
)
from needleplan.web.leads import InMemoryLeadStore

with warnings.catch_warnings():
    # starlette asks for the httpx2 fork; the pinned httpx works the same for these tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each Schemathesis operation its own node id (``test[POST /api/v1/plan]``).

    Schemathesis names the items per API operation, but on pytest 9 their node id is the test
    function's for all of them; pytest-xdist schedules by node id and would run one operation per
    function.
    """
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and type(item).__name__ == "SchemathesisFunction"
            and item.parent is not None
            and item.name.startswith(f"{item.originalname}[")
            and not item.nodeid.endswith("]")
        ):
            label = item.name[len(item.originalname) + 1 : -1]
            item._id = item.parent.id.child(item.originalname).with_params(label)


PASSWORDS = {
    "admin": "admin-password-1",
    "prac": "practitioner-password-1",
    "desk": "front-desk-password-1",
}
TEST_SECRET = "test-secret-that-is-long-enough-for-production-use-123"
REFERENCE = {"age": 50, "severity": "moderate", "areas": ["full_face"]}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeWallClock:
    """A wall clock (aware UTC datetimes) the test moves by hand, for session lifetimes."""

    def __init__(self, start: datetime = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Env:
    app: FastAPI
    users: InMemoryUserStore
    tokens: InMemoryTokenStore
    leads: InMemoryLeadStore
    clock: FakeClock
    staff: dict[str, StaffUser]
    sessions: InMemorySessionStore
    wall: FakeWallClock


def cheap_hasher() -> PasswordHasher:
    """argon2id with small costs: the same code path, fast enough for many tests."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def fresh_user_store() -> InMemoryUserStore:
    """One account per role (admin, prac, desk) with the passwords in PASSWORDS."""
    store = InMemoryUserStore()
    store.add_user("admin", PASSWORDS["admin"], Role.ADMIN, "Ada Admin")
    store.add_user("prac", PASSWORDS["prac"], Role.PRACTITIONER, "Dr Pia Practitioner")
    store.add_user("desk", PASSWORDS["desk"], Role.FRONT_DESK, "Finn Frontdesk")
    return store


@pytest.fixture(scope="session")
def user_store() -> InMemoryUserStore:
    """Shared by many tests: never change its accounts (use ``fresh_user_store()`` for that)."""
    return fresh_user_store()


def make_env(users: InMemoryUserStore, **settings: object) -> Env:
    clock = FakeClock()
    tokens = InMemoryTokenStore(users)
    leads = InMemoryLeadStore()
    base: dict[str, object] = {"environment": "test", "secret_key": TEST_SECRET}
    base.update(settings)
    config = Settings(**base)  # type: ignore[arg-type]
    wall = FakeWallClock()
    sessions = InMemorySessionStore(
        SessionPolicy(max_age_s=config.session_max_age_s, idle_timeout_s=config.idle_timeout_s),
        now=wall,
    )
    app = create_app(
        config,
        user_store=users,
        token_store=tokens,
        lead_store=leads,
        session_store=sessions,
        clock=clock,
    )
    staff = {u.username: u for u in users.list_users()}
    return Env(app, users, tokens, leads, clock, staff, sessions, wall)


Filled = tuple[dict[str, int], int, int, int]


@pytest.fixture(scope="session")
def _filled_clinic(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> tuple[Path, Filled]:
    """The migrated template with ``patients_fixtures.fill`` applied once per session, and fill's ids (each
    ``clinic_app`` copies the file: the same rows and ids as filling a fresh copy per test)."""
    from needleplan.storage import Database

    from .patients_fixtures import fill

    path = tmp_path_factory.mktemp("clinic-template") / "clinic.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    db = Database.open(f"sqlite:///{path}", upgrade=False)
    try:
        filled = fill(db)
    finally:
        db.dispose()  # closing the last connection checkpoints the WAL into the file
    return path, filled


@pytest.fixture
def env(user_store: InMemoryUserStore) -> Env:
    return make_env(user_store)


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(env.app, base_url="http://testserver") as c:
        yield c


CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, username: str, password: str | None = None) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password or PASSWORDS[username],
            "csrf_token": token,
            "next": "/app/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def as_user(client: TestClient) -> Callable[[str], TestClient]:
    def _login(username: str) -> TestClient:
        login(client, username)
        return client

    return _login


@pytest.fixture(scope="session")
def _shared_chromium() -> Iterator[object]:
    """One Playwright driver and Chromium per test process, started by the first browser test
    (tests/web/browser_support.py)."""
    from .browser_support import SharedChromium

    shared = SharedChromium()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def browser(_shared_chromium: object) -> Iterator[object]:
    """The process's headless Chromium for this test: open contexts with ``new_page``; every
    context left open is closed after the test."""
    from .browser_support import SharedChromium

    assert isinstance(_shared_chromium, SharedChromium)
    with _shared_chromium.in_use() as chromium:
        yield chromium

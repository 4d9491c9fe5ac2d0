"""Admins create and deactivate staff accounts in the web app; nobody else can."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from needleplan.domain.records import Role
from needleplan.web.auth import InMemoryUserStore
from tests.web.conftest import PASSWORDS, TestClient, csrf_from, login, make_env


@pytest.fixture
def fresh() -> Iterator[tuple[TestClient, InMemoryUserStore]]:
    """An app with its own user store, so created accounts do not leak into other tests."""
    store = InMemoryUserStore()
    store.add_user("admin", PASSWORDS["admin"], Role.ADMIN, "Ada Admin")
    store.add_user("prac", PASSWORDS["prac"], Role.PRACTITIONER, "Dr Pia Practitioner")
    store.add_user("desk", PASSWORDS["desk"], Role.FRONT_DESK, "Finn Frontdesk")
    env = make_env(store)
    with TestClient(env.app, base_url="http://testserver") as client:
        yield client, store


def _create(client: TestClient, **form: str) -> object:
    token = csrf_from(client.get("/app/admin/users").text)
    return client.post("/app/admin/users", data={"csrf_token": token, **form})


def test_admin_creates_an_account_that_can_sign_in(
    fresh: tuple[TestClient, InMemoryUserStore],
) -> None:
    client, store = fresh
    login(client, "admin")
    response = _create(
        client, username="Nina.Nurse", password="a-long-password-9", role="practitioner"
    )
    assert response.status_code == 201  # type: ignore[attr-defined]
    assert "Account <strong>nina.nurse</strong> (practitioner) created" in response.text  # type: ignore[attr-defined]
    assert store.authenticate("nina.nurse", "a-long-password-9") is not None
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/app/").text)})
    login(client, "nina.nurse", "a-long-password-9")
    assert client.get("/app/consult").status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"username": "x1", "password": "short", "role": "practitioner"}, 422, "password"),
        ({"username": "newbie", "password": "a-long-password-9", "role": "boss"}, 422, "role"),
        ({"username": "prac", "password": "a-long-password-9", "role": "admin"}, 409, "taken"),
    ],
)
def test_bad_account_form_names_the_problem_and_creates_nothing(
    fresh: tuple[TestClient, InMemoryUserStore], form: dict[str, str], status: int, message: str
) -> None:
    client, store = fresh
    login(client, "admin")
    before = [u.username for u in store.list_users()]
    response = _create(client, **form)
    assert response.status_code == status  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]
    assert [u.username for u in store.list_users()] == before


def test_deactivated_account_cannot_sign_in_and_admin_cannot_close_their_own(
    fresh: tuple[TestClient, InMemoryUserStore],
) -> None:
    client, store = fresh
    login(client, "admin")
    desk = next(u for u in store.list_users() if u.username == "desk")
    admin = next(u for u in store.list_users() if u.username == "admin")
    token = csrf_from(client.get("/app/admin/users").text)
    assert (
        client.post(
            f"/app/admin/users/{desk.id}/deactivate", data={"csrf_token": token}
        ).status_code
        == 200
    )
    assert store.authenticate("desk", PASSWORDS["desk"]) is None
    own = client.post(f"/app/admin/users/{admin.id}/deactivate", data={"csrf_token": token})
    assert own.status_code == 409
    assert "cannot deactivate your own account" in own.text
    assert store.authenticate("admin", PASSWORDS["admin"]) is not None
    assert (
        client.post("/app/admin/users/nope/deactivate", data={"csrf_token": token}).status_code
        == 404
    )


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_manage_accounts(fresh: tuple[TestClient, InMemoryUserStore], who: str) -> None:
    client, store = fresh
    login(client, who)
    token = csrf_from(client.get("/app/").text)
    response = client.post(
        "/app/admin/users",
        data={
            "csrf_token": token,
            "username": "sneaky",
            "password": "a-long-password-9",
            "role": "admin",
        },
    )
    assert response.status_code == 403
    assert all(u.username != "sneaky" for u in store.list_users())


def test_account_forms_need_the_csrf_token(fresh: tuple[TestClient, InMemoryUserStore]) -> None:
    client, store = fresh
    login(client, "admin")
    response = client.post(
        "/app/admin/users",
        data={"username": "nocsrf", "password": "a-long-password-9", "role": "admin"},
    )
    assert response.status_code in (400, 403)
    assert all(u.username != "nocsrf" for u in store.list_users())

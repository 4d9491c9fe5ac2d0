"""Staff accounts carry a display name and link to a practitioner (admin users page); a linked
practitioner's calendar opens on her own column; the database store audits the change in the
same transaction."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from needleplan import services
from needleplan.exceptions import InputError, NotFoundError, PermissionDeniedError
from needleplan.services import clinic_calendar
from needleplan.services.accounts import set_staff_profile
from needleplan.storage import Database
from needleplan.web.auth import InMemoryUserStore

from . import booking_support
from .booking_support import MONDAY, signed_in
from .conftest import TestClient, csrf_from, fresh_user_store, login
from .test_clinic_admin import BASE, Site, make_app

backend = booking_support.backend


@pytest.fixture
def users() -> InMemoryUserStore:
    """Accounts of this test only (the profiles change)."""
    return fresh_user_store()


@pytest.fixture
def site(users: InMemoryUserStore, db: Database) -> Site:
    ids = services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    clinic_calendar.save_clinic_config(db, BASE, "setup")
    return Site(make_app(users, db), db, ids)


@pytest.fixture
def web(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, base_url="http://testserver") as client:
        yield client


def account(users: InMemoryUserStore, name: str) -> int:
    return next(u.id for u in users.list_users() if u.username == name)


def set_profile(web: TestClient, user_id: int, token: str, **form: str) -> object:
    return web.post(
        f"/app/admin/users/{user_id}/profile",
        data={"csrf_token": token, **form},
        follow_redirects=False,
    )


def test_an_admin_names_an_account_and_links_it_to_a_practitioner(
    web: TestClient, site: Site, users: InMemoryUserStore
) -> None:
    login(web, "admin")
    page = web.get("/app/admin/users").text
    assert (
        '<option value="{}">Bob Practitioner</option>'.format(site.ids["Bob Practitioner"]) in page
    )
    prac = account(users, "prac")
    response = set_profile(
        web,
        prac,
        csrf_from(page),
        display_name="Dr. Bob P.",
        practitioner=str(site.ids["Bob Practitioner"]),
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "is shown as “Dr. Bob P.”, practitioner Bob Practitioner" in response.text  # type: ignore[attr-defined]
    changed = users.get_user(prac)
    assert changed is not None
    assert (changed.display_name, changed.practitioner_id) == (
        "Dr. Bob P.",
        site.ids["Bob Practitioner"],
    )
    assert any(e.action == "user.profile" for e in services.audit_log(site.db, limit=50))
    cleared = set_profile(web, prac, csrf_from(page), display_name="", practitioner="")
    assert cleared.status_code == 200  # type: ignore[attr-defined]
    again = users.get_user(prac)
    assert again is not None
    assert (again.display_name, again.practitioner_id) == ("prac", None)


@pytest.mark.parametrize(
    ("form", "rule"),
    [
        ({"practitioner": "999"}, "must be one of the clinic's practitioners"),
        ({"practitioner": "x"}, "must be one of the clinic's practitioners"),
        ({"display_name": "a\nb"}, "one line of printable text"),
        ({"display_name": "x" * 121}, "at most 120 characters"),
    ],
)
def test_bad_profiles_are_refused_with_the_field_named(
    web: TestClient, site: Site, users: InMemoryUserStore, form: dict[str, str], rule: str
) -> None:
    login(web, "admin")
    token = csrf_from(web.get("/app/admin/users").text)
    response = set_profile(web, account(users, "prac"), token, **form)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert rule in html.unescape(response.text)  # type: ignore[attr-defined]
    unchanged = users.get_user(account(users, "prac"))
    assert unchanged is not None
    assert unchanged.practitioner_id is None


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_change_profiles(
    web: TestClient, site: Site, users: InMemoryUserStore, who: str
) -> None:
    token = signed_in(web, who)
    response = set_profile(web, account(users, "admin"), token, display_name="Boss")
    assert response.status_code == 403  # type: ignore[attr-defined]
    admin = users.get_user(account(users, "admin"))
    assert admin is not None
    assert admin.display_name == "Ada Admin"


def test_csrf_and_unknown_accounts(web: TestClient, site: Site, users: InMemoryUserStore) -> None:
    login(web, "admin")
    token = csrf_from(web.get("/app/admin/users").text)
    assert set_profile(web, account(users, "prac"), "0" * 64).status_code == 403  # type: ignore[attr-defined]
    assert set_profile(web, 12345, token).status_code == 404  # type: ignore[attr-defined]


def test_a_linked_practitioner_sees_her_own_column_first(
    web: TestClient, site: Site, users: InMemoryUserStore
) -> None:
    alice = site.book(MONDAY, 10, "Alice Practitioner")
    bob = site.book(MONDAY, 11, "Bob Practitioner")
    users.set_profile(account(users, "prac"), "Dr. Bob", site.ids["Bob Practitioner"])
    login(web, "prac")
    own = web.get(f"/app/calendar?date={MONDAY}").text
    assert f'data-appointment="{bob}"' in own
    assert f'data-appointment="{alice}"' not in own
    everyone = web.get(f"/app/calendar?date={MONDAY}&practitioner=all").text
    assert f'data-appointment="{alice}"' in everyone
    home = web.get("/app/").text
    assert "Hello, Dr. Bob" in home
    assert "Your column (Bob Practitioner)" in home
    assert "Everyone's day" in web.get("/app/?everyone=1").text


def test_the_database_store_keeps_and_audits_the_profile(db: Database) -> None:
    services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    owner = services.create_user(db, "owner", "correct horse battery", "admin")
    nurse = services.create_user(db, "nurse", "correct horse battery", "practitioner")
    pid = services.list_practitioners(db)[0].id
    changed = set_staff_profile(
        db, nurse.id, display_name="Nurse Nia", practitioner_id=pid, actor=owner
    )
    assert (changed.display_name, changed.practitioner_id) == ("Nurse Nia", pid)
    found = services.find_user(db, nurse.id)
    assert found is not None
    assert found.display_name == "Nurse Nia"
    event = services.audit_log(db, limit=5)[0]
    assert (event.action, event.username) == ("user.profile", "owner")
    with pytest.raises(InputError, match="practitioner"):
        set_staff_profile(db, nurse.id, display_name="", practitioner_id=9999, actor=owner)
    with pytest.raises(PermissionDeniedError):
        set_staff_profile(db, owner.id, display_name="x", practitioner_id=None, actor=nurse)
    with pytest.raises(NotFoundError):
        set_staff_profile(db, 4242, display_name="x", practitioner_id=None, actor=owner)
    unnamed = set_staff_profile(db, nurse.id, display_name="", practitioner_id=None, actor=owner)
    assert unnamed.display_name == "nurse"

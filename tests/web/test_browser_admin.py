"""Real headless Chromium: an admin closes the clinic for a day from the clinic calendar page and
the booking calendar follows at once; a member of staff changes her password on My account and
her other browser is signed out.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it). Screenshots land in
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from needleplan.services import clinic_calendar
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from .browser_support import BROWSER_MARKS, new_page, serving, shot
from .conftest import PASSWORDS, TEST_SECRET, fresh_user_store

pytestmark = BROWSER_MARKS

CALENDAR = """\
name = "Browser Test Clinic"
timezone = "Europe/Berlin"

[opening_hours]
monday = ["09:00-17:00"]
tuesday = ["09:00-17:00"]
wednesday = ["09:00-17:00"]
thursday = ["09:00-17:00"]
friday = ["09:00-17:00"]

[[practitioners]]
name = "Alice Practitioner"
"""


@pytest.fixture
def live(db: Database) -> Iterator[tuple[str, Database, InMemoryUserStore]]:
    users = fresh_user_store()
    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=users,
        database=db,
    )
    clinic_calendar.save_clinic_config(db, CALENDAR, None, "first version")
    with serving(app) as base:
        yield base, db, users


def _sign_in(page: Any, server: str, path: str, who: str, password: str | None = None) -> None:
    page.goto(server + path)
    page.fill('input[name="username"]', who)
    page.fill('input[name="password"]', password or PASSWORDS[who])
    page.click('button[type="submit"]')
    page.wait_for_url(server + path)


def test_admin_adds_a_closure_and_the_calendar_follows(
    live: tuple[str, Database, InMemoryUserStore], browser: Any
) -> None:
    server, db, _ = live
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
    _sign_in(page, server, "/app/admin/clinic", "admin")
    assert "saved version 1" in page.text_content("#source")
    shot(page, "clinic-admin.png")

    page.fill('#closure-form input[name="start"]', "2027-03-10")
    page.fill('#closure-form input[name="reason"]', "staff training")
    page.click('#closure-form button[type="submit"]')
    page.wait_for_selector("#notice")
    assert "saved version 2" in page.text_content("#source")
    assert "staff training" in page.text_content("#in-force")
    assert "2027-03-10" in page.text_content("#in-force")
    newest = clinic_calendar.current_clinic_config(db)
    assert newest is not None
    version, calendar = newest
    assert version.id == 2
    assert [c.reason for c in calendar.closures] == ["staff training"]
    shot(page, "clinic-admin-closure-added.png")

    page.goto(server + "/app/calendar?view=day&date=2027-03-10")
    assert "staff training" in page.text_content("main")
    shot(page, "calendar-closed-day.png")

    assert errors == []
    # A broken edit is refused (422) with the key and the rule, and what was typed stays.
    page.goto(server + "/app/admin/clinic")
    text = page.input_value("#toml")
    page.fill("#toml", text.replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'))
    page.click('#editor-form button:has-text("Check")')
    page.wait_for_selector("#problem")
    assert "timezone" in page.text_content("#problem")
    assert "Mars/Olympus" in page.input_value("#toml")
    shot(page, "clinic-admin-bad-edit.png")
    assert [e for e in errors if "422" not in e] == []
    page.context.close()


def test_changing_my_password_signs_out_my_other_browser(
    live: tuple[str, Database, InMemoryUserStore], browser: Any
) -> None:
    server, _, _ = live
    errors: list[str] = []
    laptop = new_page(browser, errors, viewport={"width": 1280, "height": 900})
    phone = new_page(browser, errors, viewport={"width": 390, "height": 844})
    _sign_in(laptop, server, "/app/account", "desk")
    _sign_in(phone, server, "/app/calendar", "desk")
    laptop.reload()
    assert laptop.locator("#sessions tbody tr").count() == 2

    new_password = "a much longer new secret"
    laptop.fill('input[name="current_password"]', PASSWORDS["desk"])
    laptop.fill('input[name="new_password"]', new_password)
    laptop.fill('input[name="confirm_password"]', new_password)
    laptop.click('#password-form button[type="submit"]')
    laptop.wait_for_selector("#password-changed")
    assert "1 other session signed out" in laptop.text_content("#password-changed")
    assert laptop.locator("#sessions tbody tr").count() == 1
    shot(laptop, "account-password-changed.png")

    phone.goto(server + "/app/calendar")
    assert phone.url.startswith(server + "/login"), "the other browser is signed out"
    _sign_in(phone, server, "/app/calendar", "desk", new_password)
    assert errors == []
    laptop.context.close()
    phone.context.close()

"""Real headless Chromium: an admin shortens Monday's opening hours on the settings form so a
booked appointment falls outside them, sees it listed, confirms, and the conflict is then what
``needleplan clinic conflicts`` reports.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it). Screenshots land in
test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.services import clinic_calendar
from needleplan.storage import Database
from needleplan.web import Settings, create_app

from ..cli_support import invoke
from .booking_support import MONDAY, ZONE
from .browser_support import BROWSER_MARKS, new_page, serving, shot
from .conftest import TEST_SECRET, fresh_user_store
from .test_browser_admin import CALENDAR, _sign_in

pytestmark = BROWSER_MARKS

#: This suite's loopback ports.
PORTS = range(18400, 18500)


@pytest.fixture
def live(db: Database) -> Iterator[str]:
    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=fresh_user_store(),
        database=db,
    )
    clinic_calendar.save_clinic_config(db, CALENDAR, None, "first version")
    with serving(app, PORTS) as base:
        yield base


def _book_late_monday(db: Database) -> int:
    ids = services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(CALENDAR))
    patient = services.register_patient(
        db, {"given_name": "Lia", "family_name": "Spät", "birth_date": "1972-05-01"}
    )
    start = datetime(MONDAY.year, MONDAY.month, MONDAY.day, 16, 0, tzinfo=ZONE)
    return services.book_appointment(
        db, patient.id, (start, start + timedelta(hours=1), ids["Alice Practitioner"])
    ).id


def test_shorter_hours_list_the_booking_confirm_and_the_cli_reports_it(
    live: str, db: Database, browser: Any
) -> None:
    appointment = _book_late_monday(db)
    url = db.engine.url.render_as_string(hide_password=False)
    before = invoke(["clinic", "conflicts"], env={"NEEDLEPLAN_DATABASE_URL": url})
    assert before.returncode == 0, before.stderr

    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 820, "height": 1100})  # a tablet
    _sign_in(page, live, "/app/admin/settings", "admin")
    assert page.input_value('#hours-form input[name="monday"]') == "09:00-17:00"
    page.fill('#hours-form input[name="monday"]', "09:00-13:00, 14:00-15:00")
    page.click('#hours-form button[type="submit"]')
    page.wait_for_selector("#problem")
    assert "1 booked appointment would conflict" in page.text_content("#problem")
    listed = page.text_content("#hours-form #settings-conflicts")
    assert str(appointment) in listed
    assert "Lia" in listed
    # What was typed stays; nothing was saved.
    assert page.input_value('#hours-form input[name="monday"]') == "09:00-13:00, 14:00-15:00"
    assert len(clinic_calendar.clinic_config_history(db)) == 1
    shot(page, "settings-hours-conflict.png")

    page.check('#hours-form input[name="confirm"]')
    page.click('#hours-form button[type="submit"]')
    page.wait_for_selector("#notice")
    assert "Saved version 2" in page.text_content("#notice")
    assert "1 booked appointment conflicts with it" in page.text_content("#notice")
    assert page.input_value('#hours-form input[name="monday"]') == "09:00-13:00, 14:00-15:00"
    shot(page, "settings-hours-saved.png")

    # A wrong value is named beside its field.
    page.fill('#visits-form input[name="review"]', "2")
    page.click('#visits-form button[type="submit"]')
    page.wait_for_selector('#visits-form .field-error[data-field="review"]')
    assert "from 5 to 480" in page.text_content('#visits-form .field-error[data-field="review"]')
    assert [e for e in errors if "409" not in e and "422" not in e] == []
    page.context.close()

    after = invoke(["clinic", "conflicts"], env={"NEEDLEPLAN_DATABASE_URL": url, "COLUMNS": "250"})
    assert after.returncode == 5, after.stderr
    assert "1 future booking(s) the calendar does not allow" in after.stdout
    assert str(appointment) in after.stdout
    assert f"{MONDAY} 16:00" in after.stdout

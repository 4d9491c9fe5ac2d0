"""Real headless Chromium: an admin shortens Monday's opening hours on the settings form so a
booked appointment falls outside them, sees it listed, confirms, and the conflict is then what
``needleplan clinic conflicts`` reports.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it). Screenshots land in
test-artifacts/.
"""

from __future__ import annotations

import socket
import threading
import time
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
from .conftest import TEST_SECRET, fresh_user_store
from .test_browser import CHROMIUM, CHROMIUM_ARGS, _page, _shot
from .test_browser_admin import CALENDAR, _sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package)"),
]

#: This suite's loopback ports.
PORTS = range(18400, 18500)


def _port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 18400-18499")


@pytest.fixture
def live(db: Database) -> Iterator[str]:
    import uvicorn

    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=fresh_user_store(),
        database=db,
    )
    clinic_calendar.save_clinic_config(db, CALENDAR, None, "first version")
    config = uvicorn.Config(
        app, host="127.0.0.1", port=_port(), log_level="warning", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:  # readiness wait, not a timing assertion
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


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
    live: str, db: Database, chromium: Any
) -> None:
    appointment = _book_late_monday(db)
    url = db.engine.url.render_as_string(hide_password=False)
    before = invoke(["clinic", "conflicts"], env={"NEEDLEPLAN_DATABASE_URL": url})
    assert before.returncode == 0, before.stderr

    errors: list[str] = []
    page = _page(chromium, errors, viewport={"width": 820, "height": 1100})  # a tablet
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
    _shot(page, "settings-hours-conflict.png")

    page.check('#hours-form input[name="confirm"]')
    page.click('#hours-form button[type="submit"]')
    page.wait_for_selector("#notice")
    assert "Saved version 2" in page.text_content("#notice")
    assert "1 booked appointment conflicts with it" in page.text_content("#notice")
    assert page.input_value('#hours-form input[name="monday"]') == "09:00-13:00, 14:00-15:00"
    _shot(page, "settings-hours-saved.png")

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

"""Headless Chromium runs a visit on a live server over a SQLite clinic: the front desk checks
the patient in from the calendar's day view, the practitioner charts the session, the course
ledger shows it, the course completes and the maintenance recall opens; a visit days ahead
cannot be charted. Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.scheduling import example_clinic

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp
from .visits_support import book_visits

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18400, 18500)


@pytest.fixture(scope="module")
def live_visits(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "visits", PORTS) as live:
        yield live


def _sign_in(page: Any, base: str, path: str, username: str) -> None:
    page.goto(base + path)
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DB_PASSWORDS[username])
    page.click('button[type="submit"]')
    page.wait_for_url(base + path)


def test_check_in_chart_ledger_and_the_recall_opens(
    live_visits: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_visits
    booked = book_visits(env, timedelta(minutes=15), given="Clara")
    appt = booked.appointments[0]
    day = appt.start.astimezone(example_clinic().tz).date().isoformat()
    errors: list[str] = []

    desk = new_page(browser, errors, viewport={"width": 1280, "height": 900})
    _sign_in(desk, base, f"/app/calendar?view=day&date={day}", "desk")
    card = desk.locator(f'article[data-appointment="{appt.id}"]')
    assert card.locator("a.chart").count() == 0  # the front desk does not chart
    card.locator("button.check-in").click()
    desk.wait_for_selector("#checked-in")
    card = desk.locator(f'article[data-appointment="{appt.id}"]')
    assert card.locator(".cal-status").text_content() == "checked in"
    shot(desk, "visit-calendar-checked-in.png")

    prac = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
    _sign_in(prac, base, f"/app/patients/{booked.patient_id}", "prac")
    assert prac.text_content("#course-remaining") == "1"
    prac.click(f'tr[data-appointment="{appt.id}"] a.chart')
    prac.wait_for_selector("#chart-form")
    assert prac.locator("#chart-too-early").count() == 0
    prac.check('input[name="areas"][value="full_face"]')
    prac.fill('input[name="depth_full_face"]', "1.25")
    prac.check('input[name="areas"][value="neck"]')
    prac.fill('input[name="depth_neck"]', "0.5")
    prac.fill('input[name="device"]', "Dermapen 4")
    prac.fill('input[name="passes"]', "3")
    prac.fill('input[name="product"]', "HA serum")
    prac.fill('input[name="lot"]', "LOT-2031-07")
    prac.fill('input[name="ae_kind_0"]', "pinpoint bleeding")
    prac.select_option('select[name="ae_severity_0"]', "mild")
    prac.fill('textarea[name="notes"]', "topical anaesthetic 20 min before")
    shot(prac, "visit-chart-form.png")
    prac.click("#chart-save")
    prac.wait_for_selector("#charted")
    assert prac.text_content("#course-status") == "completed"
    assert prac.text_content("#course-remaining") == "0"
    ledger = prac.locator("#ledger tbody tr")
    assert ledger.count() == 2
    assert "-1" in (ledger.nth(1).text_content() or "")
    sessions = prac.text_content("#sessions") or ""
    assert "full_face 1.25 mm" in sessions
    assert "lot LOT-2031-07" in sessions
    shot(prac, "visit-patient-after-chart.png")

    assert services.get_appointment(env.db, appt.id).status is AppointmentStatus.PERFORMED
    course = services.course_file(env.db, booked.course_id).course
    assert course.status is CourseStatus.COMPLETED
    recalls = [r for r in services.recall_list(env.db) if r.patient_id == booked.patient_id]
    assert len(recalls) == 1
    assert recalls[0].due_date > appt.start.date()
    prac.goto(base + "/app/recall?show=open")
    assert "Clara" in (prac.text_content("main") or "")
    assert errors == []


def test_a_visit_days_ahead_cannot_be_charted(
    live_visits: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_visits
    booked = book_visits(env, timedelta(days=3), given="Fiona")
    appt = booked.appointments[0]
    errors: list[str] = []
    prac = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
    _sign_in(prac, base, f"/app/visits/{appt.id}/chart", "prac")
    assert prac.locator("#chart-too-early").is_visible()
    prac.check('input[name="areas"][value="full_face"]')
    prac.fill('input[name="depth_full_face"]', "1.0")
    prac.fill('input[name="device"]', "Dermapen 4")
    prac.fill('input[name="passes"]', "2")
    prac.click("#chart-save")
    prac.wait_for_selector("#form-problems")
    assert "cannot be charted before" in (prac.text_content("#form-problems") or "")
    assert prac.input_value('input[name="device"]') == "Dermapen 4"
    shot(prac, "visit-chart-refused-too-early.png")
    assert services.get_appointment(env.db, appt.id).status is AppointmentStatus.BOOKED
    assert services.course_file(env.db, booked.course_id).course.remaining_sessions == 1
    assert errors == [] or all("422" in e for e in errors)

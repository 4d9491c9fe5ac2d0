"""Headless Chromium on a live server over a SQLite clinic (the example calendar): find a slot
-> book a consultation in one click, the day grid with a column per practitioner at tablet
width (820 px), a practitioner's week grid, and a move preview naming a change of practitioner.
Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentKind
from needleplan.scheduling import example_clinic

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp
from .visits_support import book_visits

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18300, 18400)
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "grid", PORTS) as live:
        yield live


def _sign_in(page: Any, base: str, path: str, username: str) -> None:
    page.goto(base + path)
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DB_PASSWORDS[username])
    page.click('button[type="submit"]')
    page.wait_for_url(base + path)


def test_find_a_slot_books_a_consultation_shown_in_the_day_and_week_grids(
    live: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live
    clinic = example_clinic()
    patient = services.register_patient(
        env.db,
        {
            "given_name": "Greta",
            "family_name": "Grid",
            "birth_date": "1975-05-05",
            "phone": "+49 30 7654321",
        },
    )
    errors: list[str] = []
    desk = new_page(browser, errors, viewport=TABLET)
    _sign_in(desk, base, f"/app/calendar/find?kind=consultation&patient={patient.id}", "desk")
    first = desk.locator("button.slot").first
    key = first.get_attribute("data-slot")
    assert key
    shot(desk, "calendar-find-slot.png")
    first.click()
    desk.wait_for_selector("#booked")
    (appt,) = [
        a
        for a in services.appointments_between(
            env.db, services.utc_now() - timedelta(days=1), services.utc_now() + timedelta(days=100)
        )
        if a.patient_id == patient.id
    ]
    assert appt.kind is AppointmentKind.CONSULTATION
    assert f"{appt.practitioner_id}@" in key
    # The day grid: a column per practitioner, the block sized by its 30 minutes, no sideways
    # scrolling on a tablet.
    assert desk.locator(".tg-practitioner").count() == len(clinic.practitioners)
    block = desk.locator(f'article[data-appointment="{appt.id}"]')
    assert "Greta Grid" in (block.text_content() or "")
    assert block.locator('a[href^="tel:"]').count() == 1
    box = block.bounding_box()
    assert box is not None
    assert box["height"] > 20
    overflow = desk.evaluate(
        "() => { const s = document.querySelector('.tg-scroll'); return s.scrollWidth - s.clientWidth; }"
    )
    assert overflow <= 1
    shot(desk, "calendar-day-grid-tablet.png")
    # Her practitioner's week as a grid: a column per day.
    day = appt.start.astimezone(clinic.tz).date()
    desk.goto(f"{base}/app/calendar?view=week&date={day}&practitioner={appt.practitioner_id}")
    assert desk.locator(".tg-section").count() == 7
    assert desk.locator(f'article[data-appointment="{appt.id}"]').count() == 1
    assert desk.locator(".tg-off").count() > 0  # the weekend at least is unavailable
    shot(desk, "calendar-week-grid-tablet.png")
    assert errors == []
    desk.context.close()


def _tuesday_morning(min_days: int) -> timedelta:
    """From now to a Tuesday 10:00 clinic time at least ``min_days`` ahead, on no holiday,
    closure or anyone's day off: every example practitioner works then, whatever the time of
    day the suite runs (a visit booked at "now + 30 days" fell in a lunch break at 13:30)."""
    clinic = example_clinic()
    day = datetime.now(clinic.tz).date() + timedelta(days=min_days)
    while (
        day.weekday() != 1
        or clinic.holiday(day)
        or clinic.closure(day)
        or any(p.day_off(day) for p in clinic.practitioners)
    ):
        day += timedelta(days=1)
    target = datetime.combine(day, time_of_day(10, 0), clinic.tz)
    return target - datetime.now(UTC) + timedelta(minutes=5)  # floored to 10:00 by the helper


def test_move_preview_shows_a_change_of_practitioner(
    live: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live
    booked = book_visits(env, _tuesday_morning(30), _tuesday_morning(60), given="Mona")
    second = booked.appointments[1]
    services.sync_practitioners(env.db, example_clinic())  # whether or not a test ran before
    names = {p.id: p.name for p in services.list_practitioners(env.db)}
    other = next(
        pid
        for pid, name in names.items()
        if pid != second.practitioner_id
        and name in {p.name for p in example_clinic().practitioners}
    )
    errors: list[str] = []
    desk = new_page(browser, errors, viewport=TABLET)
    _sign_in(desk, base, f"/app/appointments/{second.id}/move", "desk")
    assert desk.locator("#move-free-slots button.slot").count() > 0
    desk.select_option('select[name="practitioner_id"]', str(other))
    desk.click('#move-form button[type="submit"]')
    desk.wait_for_selector("#move-preview")
    cell = desk.locator("#move-preview td.move-practitioner").last
    text = cell.text_content() or ""
    assert f"{names[second.practitioner_id]} → {names[other]}" in text
    shot(desk, "calendar-move-practitioner-change.png")
    desk.context.close()

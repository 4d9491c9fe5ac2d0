"""The patient portal's reschedule in headless Chromium on a phone-sized screen: she opens her
link, picks a new time for a session, sees her whole course re-planned, saves; the staff
calendar shows the new time and a change notice is queued. Skips only where /usr/bin/chromium
is absent. Screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.services.messaging.log import message_log

from . import booking_support
from .booking_support import Clinic, signed_in
from .browser_support import BROWSER_MARKS, new_page, serving, shot
from .conftest import TestClient
from .portal_support import PHONE, book_nora, link, psite, pweb, soon_visit

backend = booking_support.backend
__all__ = ["psite", "pweb"]

pytestmark = BROWSER_MARKS

PORTS = range(18300, 18400)
PHONE_SCREEN = {"width": 390, "height": 844}


@pytest.fixture
def live(psite: Clinic) -> Iterator[str]:
    with serving(psite.app, PORTS) as base:
        yield base


def test_she_reschedules_a_session_and_sees_the_whole_course_replanned_before_saving(
    live: str, browser: Any, pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    second = nora.appointments[1]
    errors: list[str] = []
    page = new_page(browser, errors, viewport=PHONE_SCREEN, is_mobile=True)
    page.goto(f"{live}/p/{token}")
    assert page.locator("h1").inner_text() == "Hello Nora"
    visit = page.locator(f'li.visit[data-appointment="{second.id}"]')
    visit.get_by_role("link", name="Change the time").click()
    page.wait_for_selector("#pick-form")
    slots = page.locator('input[name="slot"]')
    assert slots.count() > 1
    picked = slots.nth(slots.count() - 1)
    key = picked.get_attribute("value")
    assert key is not None
    picked.check()
    shot(page, "portal-move-pick.png")
    page.get_by_role("button", name="Show my new plan").click()
    page.wait_for_selector("#replanned")
    rows = page.locator("#replanned tbody tr")
    assert rows.count() == 4  # sessions 2-5: the rest of her course, re-planned
    assert page.locator("#replanned tr.changed").count() >= 1
    assert services.get_appointment(psite.db, second.id).start == second.start  # not saved yet
    shot(page, "portal-move-preview.png")
    page.get_by_role("button", name="Save the new times").click()
    page.wait_for_selector("#done")
    assert "Your new dates are saved" in page.locator("#done").inner_text()
    assert not errors, errors
    new_start = datetime.fromisoformat(key.split("@", 1)[1])
    assert services.get_appointment(psite.db, second.id).start == new_start
    kinds = [m.kind for m in message_log(psite.db, None, nora.patient_id)]
    assert MessageKind.DATES_CHANGED in kinds
    signed_in(pweb, "desk")
    day = new_start.astimezone(psite.clinic.tz).date().isoformat()
    calendar = pweb.get(f"/app/calendar?view=day&date={day}")
    assert calendar.status_code == 200
    assert "Newcomer" in calendar.text
    assert new_start.astimezone(psite.clinic.tz).strftime("%H:%M") in calendar.text


def test_inside_the_notice_period_she_is_asked_to_call_and_sees_the_phone(
    live: str, browser: Any, pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    soon = soon_visit(psite, nora.patient_id)
    token, _ = link(psite, nora.patient_id)
    errors: list[str] = []
    page = new_page(browser, errors, viewport=PHONE_SCREEN, is_mobile=True)
    page.goto(f"{live}/p/{token}")
    visit = page.locator(f'li.visit[data-appointment="{soon.id}"]')
    assert visit.get_by_role("link", name="Change the time").count() == 0
    visit.get_by_role("link", name="I cannot come").click()
    page.wait_for_selector("#call-clinic")
    assert page.locator("h1").inner_text() == "Please call the clinic"
    assert page.locator("#clinic-phone").inner_text() == PHONE
    assert page.locator("#clinic-phone").get_attribute("href") == "tel:+49305550100"
    shot(page, "portal-call-the-clinic.png")
    # The page itself answers 409 (the change was refused); nothing else went wrong.
    assert [e for e in errors if "status of 409" not in e] == []

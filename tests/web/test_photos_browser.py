"""Headless Chromium: a practitioner uploads two front photos through the form (the file
input a tablet's camera fills), then compares them: side by side, and as an overlay whose
opacity follows the slider (moved with the keyboard, as a user would). Skips only where
/usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.photo_support import jpeg, sign_photo

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18800, 18900)
TABLET = {"width": 1024, "height": 1366}


@pytest.fixture(scope="module")
def live_photos(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "photos", PORTS) as live:
        yield live


def _opacity(page: Any) -> float:
    value: str = page.evaluate("getComputedStyle(document.getElementById('overlay-after')).opacity")
    return float(value)


def test_upload_two_photos_and_move_the_overlay_slider(
    live_photos: tuple[str, ClinicApp], browser: Any, tmp_path: Path
) -> None:
    base, env = live_photos
    pid = env.patient_id
    sign_photo(env.db, pid)
    errors: list[str] = []
    page = new_page(browser, errors, viewport=TABLET, has_touch=True, is_mobile=True)
    path = f"/app/patients/{pid}/photos"
    page.goto(base + path)
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', DB_PASSWORDS["prac"])
    page.click('button[type="submit"]')
    page.wait_for_url(base + path)
    for day, color in (("2026-01-06T09:30", (220, 150, 130)), ("2026-03-06T09:30", (90, 60, 50))):
        picture = tmp_path / f"face-{day[:10]}.jpg"
        picture.write_bytes(jpeg(600, 400, color=color))
        page.select_option("#photo-view", "front")
        page.fill("#photo-taken-at", day)
        page.set_input_files("#photo-file", str(picture))
        page.click("#photo-submit")
        page.wait_for_selector("#photo-uploaded")
    assert page.locator("#timeline-front li").count() == 2
    shot(page, "photos-timeline.png")

    page.click("#compare-front")
    page.wait_for_selector("#overlay-opacity")
    # both images decoded at their full width: polled from here, since the page's CSP forbids
    # the eval Playwright's wait_for_function uses (bounded: 10 s)
    check = "[...document.querySelectorAll('#photo-compare img')]" + (
        ".every(i => i.complete && i.naturalWidth === 600)"
    )
    for _ in range(100):
        if page.evaluate(check):
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the compared images did not load")
    assert _opacity(page) == pytest.approx(0.5)
    page.focus("#overlay-opacity")
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    assert _opacity(page) == pytest.approx(0.8)
    assert page.text_content("#overlay-value") == "80"
    page.keyboard.press("Home")
    assert _opacity(page) == pytest.approx(0.0)
    assert page.get_attribute("#overlay-after", "data-opacity") == "0"
    shot(page, "photos-overlay.png")
    assert errors == []

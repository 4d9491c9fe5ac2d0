"""Headless Chromium on a live server: the recall worklist keeps its place after a logged
attempt (same tab, order and page; scrolled to her row), and the owner's dashboard charts fit a
tablet. Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from needleplan import services
from needleplan.scheduling import example_clinic

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18500, 18600)
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "recall", PORTS) as live:
        yield live


def _sign_in(page: Any, base: str, path: str, username: str) -> None:
    page.goto(base + path)
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DB_PASSWORDS[username])
    page.click('button[type="submit"]')
    page.wait_for_url(base + path)


def test_a_logged_attempt_keeps_the_page_the_order_and_the_row(
    live: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live
    first = datetime.now(example_clinic().tz).date().replace(day=1)
    ids = {}
    for i in range(40):
        p = services.register_patient(
            env.db,
            {
                "given_name": f"Wanda{i:02d}",
                "family_name": f"Worklist{i:02d}",
                "birth_date": "1970-01-01",
                "phone": f"+49 30 555{i:04d}",
                "consent_contact": True,
            },
        )
        ids[i] = services.add_recall(env.db, p.id, first - timedelta(days=i + 1)).id
    errors: list[str] = []
    desk = new_page(browser, errors, viewport=TABLET)
    path = "/app/recall?show=overdue&sort=-name&page=2"
    _sign_in(desk, base, path, "desk")
    target = ids[3]  # Worklist03: on page 2 in Z-A order (39..15 on page 1)
    row = desk.locator(f"#recall-{target}")
    row.scroll_into_view_if_needed()
    row.locator('select[name="outcome"]').select_option("left_message")
    row.locator('input[name="note"]').fill("try again Friday")
    row.locator('form.contact-form button[type="submit"]').click()
    desk.wait_for_selector("#done")
    url = urlsplit(desk.url)
    assert parse_qs(url.query) == {
        "show": ["overdue"],
        "sort": ["-name"],
        "page": ["2"],
        "done": ["contact"],
    }
    assert url.fragment == f"recall-{target}"
    assert "Contact attempt logged." in desk.inner_text("#done")
    box = desk.locator(f"#recall-{target}").bounding_box()
    height = desk.evaluate("window.innerHeight")
    assert box is not None
    assert box["y"] + box["height"] > 0  # her row is in view (the anchor scrolled to it)
    assert box["y"] < height
    assert desk.evaluate("window.scrollY") > 0
    assert "try again Friday" in desk.locator(f"#recall-{target}").inner_text()
    assert desk.locator("#recall-count").inner_text().endswith("page 2 of 2")
    shot(desk, "recall-kept-place.png")
    assert errors == []


def test_the_dashboard_charts_fit_a_tablet(live: tuple[str, ClinicApp], browser: Any) -> None:
    base, _env = live
    errors: list[str] = []
    owner = new_page(browser, errors, viewport=TABLET)
    _sign_in(owner, base, "/app/dashboard", "admin")
    charts = owner.locator("svg.chart")
    assert charts.count() >= 8
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] <= TABLET["width"]
    assert owner.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    shot(owner, "dashboard-tablet.png")
    assert errors == []

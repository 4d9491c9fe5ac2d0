"""The German estimator in headless Chromium (issue 14), and its chart readable on a phone.

Skips (with the reason) only where /usr/bin/chromium is absent. The server listens on loopback
on a port of this task's range (18700-18799).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from .browser_support import BROWSER_MARKS, new_page, serving, shot
from .conftest import TEST_SECRET

pytestmark = BROWSER_MARKS

PORTS = range(18700, 18800)


@pytest.fixture(scope="module")
def server(user_store: InMemoryUserStore) -> Iterator[str]:
    app = create_app(Settings(environment="test", secret_key=TEST_SECRET), user_store=user_store)
    with serving(app, PORTS) as base:
        yield base


@pytest.fixture
def console_errors() -> list[str]:
    return []


#: The smallest rendered size [CSS px] of any text in the chart, scaled as the SVG is drawn.
SMALLEST_CHART_TEXT = """() => {
  const svg = document.querySelector('#estimate-chart svg');
  const scale = svg.getScreenCTM().a;
  return Math.min(...Array.from(svg.querySelectorAll('text')).map(
    t => parseFloat(getComputedStyle(t).fontSize) * scale));
}"""


def test_the_german_estimator_on_a_phone(
    server: str, browser: Any, console_errors: list[str]
) -> None:
    page = new_page(
        browser,
        console_errors,
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(server + "/estimate?lang=de")
    assert page.get_attribute("html", "lang") == "de"
    assert "Wo möchten Sie behandelt werden?" in page.text_content("main")
    # A friendly message in her language, before anything is sent: no area ticked.
    page.uncheck('input[name="areas"][value="full_face"]')
    page.click("#estimate-button")
    area_error = page.locator('.field-error[data-for="areas"]')
    assert area_error.is_visible()
    assert area_error.text_content() == "Bitte kreuzen Sie mindestens einen Bereich an."
    page.fill("#age", "15")
    page.check('input[name="areas"][value="neck"]')
    page.click("#estimate-button")
    assert page.text_content('.field-error[data-for="age"]') == (
        "Bitte geben Sie Ihr Alter in ganzen Jahren an, von 18 bis 90."
    )
    assert page.locator("#result").is_hidden()

    page.fill("#age", "58")
    page.check('input[name="smoking"][value="current"]')
    page.click("#estimate-button")
    page.wait_for_selector("#estimate-chart polyline.np-median")
    assert page.text_content("#r-sessions").split()[1] == "Sitzungen"
    assert page.text_content("#r-spacing").startswith("alle ")
    assert page.text_content("#r-spacing").endswith(" Wochen")
    assert page.text_content("#r-upkeep").startswith("eine Sitzung alle ")
    assert "bemerken die meisten Menschen wie Sie die Straffung" in page.text_content("#r-reading")
    assert "Jahre ab der ersten Sitzung" in page.text_content("#estimate-chart")
    legend = page.text_content("#estimate-legend")
    assert "Nach den Sitzungen, ohne Auffrischung" in legend
    assert "Mit einer Auffrischung alle" in legend
    for english in ("sessions", "weeks", "years from the first session", "noticeable"):
        assert english not in page.text_content("#result"), english
    # Chart text stays readable on a phone: at least 12 px as drawn.
    assert page.evaluate(SMALLEST_CHART_TEXT) >= 12
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scrolling"
    # The next step books a consultation through the contact form, still in German.
    page.click("#book-consultation")
    assert page.get_attribute("#contact-form", "action") == "/estimate/contact?lang=de"
    shot(page, "estimate-de-phone.png")
    assert console_errors == []
    page.context.close()


def test_her_browser_language_picks_german_and_reasons_are_plain_german(
    server: str, browser: Any, console_errors: list[str]
) -> None:
    page = new_page(
        browser, console_errors, locale="de-DE", viewport={"width": 1024, "height": 900}
    )
    page.goto(server + "/estimate")
    assert page.get_attribute("html", "lang") == "de"
    page.check('input[name="contraindications"][value="pregnancy"]')
    page.click("#estimate-button")
    page.wait_for_selector("#blocked:not([hidden])")
    assert "Bitte sprechen Sie zuerst mit einer Fachkraft." in page.text_content("#blocked")
    assert page.text_content("#blocked-reasons") == (
        "Während einer Schwangerschaft wird mit Microneedling nicht begonnen; es kann bis "
        "danach warten."
    )
    assert console_errors == []
    page.context.close()

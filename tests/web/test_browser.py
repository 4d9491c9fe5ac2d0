"""Real headless Chromium through Playwright against a live uvicorn server.

Skips (with the reason) only where /usr/bin/chromium is absent; `.ci/run` installs it.
Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from .browser_support import ARTIFACTS, BROWSER_MARKS, new_page, serving, shot
from .conftest import PASSWORDS, TEST_SECRET

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(user_store: InMemoryUserStore) -> Iterator[str]:
    app = create_app(Settings(environment="test", secret_key=TEST_SECRET), user_store=user_store)
    with serving(app) as base:
        yield base


@pytest.fixture
def console_errors() -> list[str]:
    return []


def _median_points(page: Any, key: str) -> str:
    points: str = page.get_attribute(f'#consult-chart polyline[data-series="{key}"]', "points")
    return points


def test_consultation_chart_changes_when_smoking_is_toggled(
    server: str, browser: Any, console_errors: list[str]
) -> None:
    page = new_page(browser, console_errors, viewport={"width": 1280, "height": 1000})
    page.goto(server + "/app/consult")
    assert page.url.startswith(server + "/login"), "unauthenticated: sent to the login page"
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', PASSWORDS["prac"])
    page.click('button[type="submit"]')
    page.wait_for_url(server + "/app/consult")

    page.wait_for_selector('#consult-chart polyline[data-series="series"]')
    page.wait_for_selector('#consult-chart polyline[data-series="m12"]')
    assert page.text_content("#p-sessions").startswith("5")
    assert "severity: moderate" in page.text_content("#p-rationale")
    page.wait_for_selector("#cost-table tbody tr")
    assert page.locator("#cost-table tbody tr").count() == 5
    assert "Cheapest plan" in page.text_content("#c-cheapest")
    before = _median_points(page, "series")
    months_before = page.text_content("#milestones tbody")
    shot(page, "consult-nonsmoker.png")

    version = page.get_attribute("#consult-chart", "data-version")
    page.select_option('select[name="smoking"]', "current")
    page.wait_for_function(
        "v => document.querySelector('#consult-chart').dataset.version !== v", arg=version
    )
    page.wait_for_selector('#consult-chart polyline[data-series="series"]')
    after = _median_points(page, "series")
    assert after != before, "the forecast curve moved when smoking was switched on"
    new_version = page.get_attribute("#consult-chart", "data-version")
    page.wait_for_selector(f'#costs[data-version="{new_version}"]')
    # The series row (second) now counts the smoker's 6 initial sessions.
    assert page.text_content("#cost-table tbody tr:nth-child(2) td:nth-child(2)") == "6"
    assert page.text_content("#milestones tbody") != months_before
    assert "smoking" in page.text_content("#p-rationale").lower()
    shot(page, "consult-smoker.png")

    # Where the forecast is weakly informed, in words: always the fade over years, and the
    # note of a weak-evidence factor once the forecast carries it (diabetes).
    assert "6 months" in page.text_content("#m-evidence")
    diabetes = '#m-weak li[data-factor="conditions=diabetes"]'
    assert page.locator(diabetes).is_hidden()
    version = page.get_attribute("#consult-chart", "data-version")
    page.check('input[name="conditions"][value="diabetes"]')
    page.wait_for_function(
        "v => document.querySelector('#consult-chart').dataset.version !== v", arg=version
    )
    page.wait_for_selector(diabetes, state="visible")
    assert "diabetes" in page.text_content(diabetes)
    page.uncheck('input[name="conditions"][value="diabetes"]')
    page.wait_for_selector(diabetes, state="hidden")

    # Scenario toggles redraw without a request: show all five.
    for key in ("single", "m6", "m9"):
        page.check(f'#scenario-toggles input[value="{key}"]')
    assert page.locator("#consult-chart polyline.np-median").count() == 5
    assert page.locator("#consult-chart polyline.np-untreated").count() == 1  # below zero
    shot(page, "consult-all-scenarios.png")

    # Bad input is shown next to the field, and nothing crashes.
    page.fill('input[name="age"]', "12")
    page.wait_for_selector('.field-error[data-for="age"]:not([hidden])')
    assert "18" in page.text_content('.field-error[data-for="age"]')
    assert [e for e in console_errors if "422" not in e] == []
    page.context.close()


def test_public_estimator_on_a_phone(server: str, browser: Any, console_errors: list[str]) -> None:
    page = new_page(
        browser,
        console_errors,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(server + "/estimate")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    shot(page, "estimate-phone-form.png")
    page.fill("#age", "58")
    page.check('input[name="severity"][value="advanced"]')
    page.check('input[name="areas"][value="neck"]')
    page.check('input[name="smoking"][value="current"]')
    page.check('input[name="conditions"][value="diabetes"]')
    page.click("#estimate-button")
    page.wait_for_selector("#estimate-chart polyline.np-median")
    assert page.locator("#estimate-chart polyline.np-median").count() == 2
    assert "diabetes" in page.text_content("#r-weak")  # where her forecast is weakly informed
    # Her curves dip below zero within ten years: the untreated-ageing line is drawn, lower still.
    assert page.locator("#estimate-chart polyline.np-untreated").count() == 1
    assert "without treatment" in page.text_content("#estimate-chart .np-untreated-label")
    assert "sessions" in page.text_content("#r-sessions")
    assert "weeks" in page.text_content("#r-spacing")
    assert "months" in page.text_content("#r-upkeep")
    assert "notice the tightening" in page.text_content("#r-reading")
    assert "decision support" in page.text_content("#result")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#result").screenshot(path=str(ARTIFACTS / "estimate-phone-result.png"))
    shot(page, "estimate-phone-full.png")

    # Contact me: the browser will not send the form without consent; with it, one lead.
    page.fill('#contact-form input[name="name"]', "Maria Example")
    page.fill('#contact-form input[name="email"]', "maria@example.org")
    page.click('#contact-form button[type="submit"]')
    assert page.url == server + "/estimate", "the required consent box stopped the form"
    page.check('#contact-form input[name="consent"]')
    page.click('#contact-form button[type="submit"]')
    page.wait_for_url(server + "/estimate/contact")
    assert "Thank you, Maria Example" in page.text_content("main")
    shot(page, "estimate-phone-contact.png")
    assert console_errors == []
    page.context.close()


def test_estimator_explains_a_blocked_plan(
    server: str, browser: Any, console_errors: list[str]
) -> None:
    page = new_page(browser, console_errors, viewport={"width": 390, "height": 844})
    page.goto(server + "/estimate")
    page.check('input[name="contraindications"][value="pregnancy"]')
    page.click("#estimate-button")
    page.wait_for_selector("#blocked:not([hidden])")
    assert "talk to a practitioner first" in page.text_content("#blocked")
    assert page.locator("#estimate-figures").is_hidden()
    shot(page, "estimate-phone-blocked.png")
    assert console_errors == []
    page.context.close()


def test_swagger_ui_renders_with_the_network_cut_off(
    server: str, browser: Any, console_errors: list[str]
) -> None:
    """Swagger UI comes from this server: every other host is refused, and /docs still lists the
    API's operations, with no Content-Security-Policy violation in the console."""
    page = new_page(browser, console_errors, viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def _local_only(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", _local_only)
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock")
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert "/api/v1/plan" in paths
    assert "/api/v1/forecast" in paths
    shot(page, "apidocs-swagger.png")
    assert outside == [], f"the docs page tried to reach {outside}"
    assert console_errors == []

"""Real headless Chromium: a practitioner sets up two-factor sign-in on My account (the key read
from the page, the code made with pyotp as her phone would), signs out, signs in with password
and code, then with a recovery code once; the same recovery code is refused the second time.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it). The server listens on
loopback, on a port from 18700-18799.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from needleplan import services

from .browser_support import BROWSER_MARKS, new_page, serving, shot
from .patients_fixtures import DB_PASSWORDS, ClinicApp, clinic_app

__all__ = ["clinic_app"]

pytestmark = BROWSER_MARKS


#: This suite's loopback ports.
PORTS = range(18700, 18800)


@pytest.fixture
def live(clinic_app: ClinicApp) -> Iterator[str]:
    with serving(clinic_app.app, PORTS) as base:
        yield base


def _password(page: Any, server: str) -> None:
    page.goto(server + "/login?next=/app/patients")
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', DB_PASSWORDS["prac"])
    page.click('button[type="submit"]')


def _code(page: Any, code: str) -> None:
    page.wait_for_selector("#code-form")
    page.fill('#code-form input[name="code"]', code)
    page.click('#code-form button[type="submit"]')


def _sign_out(page: Any, server: str) -> None:
    page.click('form[action="/logout"] button[type="submit"]')
    page.goto(server + "/app/patients")
    assert "/login" in page.url, "signed out: the app asks for a sign-in again"


def test_enrol_sign_out_sign_in_with_a_code_then_a_recovery_code_once(
    live: str, browser: Any, clinic_app: ClinicApp
) -> None:
    server = live
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 900})
    _password(page, server)
    page.wait_for_url(server + "/app/patients")

    # enrol: the key from the page, the code from "her phone"
    page.goto(server + "/app/account/2fa")
    page.click("#start-form button")
    page.wait_for_selector("#totp-qr")
    assert page.get_attribute("#totp-qr", "src").startswith("data:image/svg+xml")
    secret = page.text_content("#totp-secret").strip()
    totp = pyotp.TOTP(secret)
    assert page.get_attribute("#totp-uri", "href") == totp.provisioning_uri(
        name="prac", issuer_name="needleplan"
    )
    page.fill('#confirm-form input[name="code"]', totp.now())
    page.click("#confirm-form button")
    page.wait_for_selector("#recovery-codes")
    codes = [c.strip() for c in page.locator("#recovery-codes code").all_text_contents()]
    assert len(codes) == 10
    assert "Status: on" in page.text_content("#two-factor-state")
    shot(page, "two-factor-enrolled.png")
    _sign_out(page, server)

    # password, then the app's code (the next 30-second step: this one's was used to enrol)
    _password(page, server)
    page.wait_for_url("**/login/2fa**")
    page.goto(server + "/app/patients")
    assert "/login" in page.url, "the password alone signs nobody in"
    _password(page, server)
    _code(page, "000000" if totp.now() != "000000" else "111111")
    page.wait_for_selector("#code-error")
    assert "not right" in page.text_content("#code-error")
    _code(page, totp.at(time.time() + 30))
    page.wait_for_url(server + "/app/patients")
    _sign_out(page, server)
    clinic_app.app.state.login_limiter.clock.advance(600)

    # a recovery code signs her in once ...
    _password(page, server)
    _code(page, codes[0])
    page.wait_for_url(server + "/app/patients")
    page.goto(server + "/app/account/2fa")
    assert "9 unused recovery codes" in page.text_content("#two-factor-state")
    _sign_out(page, server)

    # ... and never again
    _password(page, server)
    _code(page, codes[0])
    page.wait_for_selector("#code-error")
    assert "already used" in page.text_content("#code-error")
    page.goto(server + "/app/patients")
    assert "/login" in page.url
    shot(page, "two-factor-recovery-code-reused.png")

    actions = [e.action for e in services.search_audit(clinic_app.db, username="prac")[0]]
    assert actions.count("account.2fa.recovery_used") == 1
    assert "account.2fa.enrol" in actions
    assert actions.count("account.2fa.refused") == 2
    assert [e for e in errors if "401" not in e] == []
    page.context.close()

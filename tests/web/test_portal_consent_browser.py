"""Headless Chromium: the desk makes a "sign at home" link on her page, and she signs the
consent form on her phone through it with her finger (touch events through the Chrome DevTools
Protocol, turned into Pointer Events of type "touch"); the stored PDF's SHA-256 is the one her
thank-you page shows, recorded with the device "portal link"; the link then opens nothing more.
Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.services import consent_forms as cf

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import ClinicApp
from .test_consent_browser import _finger_stroke, _sign_in

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18300, 18400)
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live_portal(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "portal", PORTS) as live:
        yield live


def test_she_signs_at_home_with_her_finger_through_the_link(
    live_portal: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_portal
    pid = env.patient_id
    errors: list[str] = []
    desk = new_page(browser, errors)
    _sign_in(desk, base, f"/app/patients/{pid}", "desk")
    desk.select_option("#consent-link-kind", "treatment")
    desk.click("#consent-link")
    desk.wait_for_selector("#consent-link-address")
    address = desk.text_content("#consent-link-address code") or ""
    match = re.search(r"/p/[A-Za-z0-9_-]{43}/consent", address)
    assert match, address
    link = base + match.group(0)

    phone = new_page(browser, errors, viewport=PHONE, has_touch=True, is_mobile=True)
    phone.goto(link)
    phone.wait_for_selector("#signature-pad")
    assert phone.locator("nav").count() == 0  # no staff or portal navigation
    phone.click("#consent-submit")  # an untouched canvas is refused, naming the field
    phone.wait_for_selector("#form-problems")
    assert "signature" in (phone.text_content("#form-problems") or "")
    pad = phone.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    _finger_stroke(
        phone, [(x0 + w * (0.1 + 0.08 * i), y0 + h * (0.3 + 0.4 * (i % 2))) for i in range(10)]
    )
    shot(phone, "portal-consent-signed-canvas.png")
    phone.click("#consent-submit")
    phone.wait_for_selector("#consent-done")
    shown = phone.get_attribute("#consent-done", "data-sha256")
    shot(phone, "portal-consent-thanks.png")

    form = cf.current_consent(env.db, pid, "treatment")
    assert form is not None
    assert form.sha256 == shown
    assert form.device.startswith("portal link (")
    assert "Mobile" in form.device or "Chrome" in form.device
    assert form.recorded_by == "patient-link"
    prac = services.find_user(env.db, env.user_ids["prac"])
    assert prac is not None
    _, pdf = cf.consent_pdf_of(env.db, prac, pid, form.id)
    assert hashlib.sha256(pdf).hexdigest() == form.sha256

    phone.goto(link)  # one signature per link
    assert phone.get_attribute("#refused", "data-reason") == "used"
    desk.goto(f"{base}/app/patients/{pid}#consent-forms")
    assert "at home, through her link" in (desk.text_content("#consent-table") or "")
    assert errors == [] or all("422" in e or "410" in e for e in errors)

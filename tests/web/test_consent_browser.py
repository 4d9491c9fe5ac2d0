"""Headless Chromium signs a consent form on a touch screen: the practitioner opens the chart
of a patient without a treatment consent, is refused with the reason and a button to the
signing screen, the patient signs on the canvas with her finger (touch events dispatched
through the Chrome DevTools Protocol, which Chromium turns into Pointer Events of type
"touch"), and the downloaded PDF's SHA-256 equals the stored one; the chart then saves.
Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus
from needleplan.services import consent_forms as cf

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp
from .visits_support import book_visits

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18200, 18300)
TABLET = {"width": 1024, "height": 1366}


@pytest.fixture(scope="module")
def live_consent(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "consent", PORTS) as live:
        yield live


def _sign_in(page: Any, base: str, path: str, username: str) -> None:
    page.goto(base + path)
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DB_PASSWORDS[username])
    page.click('button[type="submit"]')
    page.wait_for_url(base + path)


def _finger_stroke(page: Any, points: list[tuple[float, float]]) -> None:
    """One stroke of a finger across the page (CSS pixels), as touch events."""
    cdp = page.context.new_cdp_session(page)
    first, *rest = points
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_p(first)]})
    for x, y in rest:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_p((x, y))]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _p(xy: tuple[float, float]) -> dict[str, float]:
    return {"x": xy[0], "y": xy[1], "radiusX": 2, "radiusY": 2, "force": 0.8}


def test_chart_refused_then_signed_with_a_finger_and_the_pdf_hash_matches(
    live_consent: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_consent
    booked = book_visits(env, timedelta(minutes=15), given="Tessa", consent=False)
    appt = booked.appointments[0]
    errors: list[str] = []
    page = new_page(browser, errors, viewport=TABLET, has_touch=True, is_mobile=True)
    _sign_in(page, base, f"/app/visits/{appt.id}/chart", "prac")
    assert "no signed treatment consent" in (page.text_content("#chart-needs-consent") or "")
    assert page.is_disabled("#chart-save")
    shot(page, "consent-chart-refused.png")
    page.click("#open-signing")
    page.wait_for_selector("#signature-pad")
    assert page.text_content("#consent-signer") == "Tessa Visit"

    # an untouched canvas is refused, naming the field
    page.click("#consent-submit")
    page.wait_for_selector("#form-problems")
    assert "signature" in (page.text_content("#form-problems") or "")

    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    steps = [(x0 + w * (0.1 + 0.08 * i), y0 + h * (0.3 + 0.4 * (i % 2))) for i in range(10)]
    _finger_stroke(page, steps)
    _finger_stroke(page, [(x0 + w * 0.2, y0 + h * 0.8), (x0 + w * 0.5, y0 + h * 0.75),
                          (x0 + w * 0.85, y0 + h * 0.8)])  # fmt: skip
    shot(page, "consent-signed-canvas.png")
    page.click("#consent-submit")
    page.wait_for_url(f"{base}/app/visits/{appt.id}/chart?signed=treatment*")
    assert page.locator("#chart-needs-consent").count() == 0

    form = cf.current_consent(env.db, booked.patient_id, "treatment")
    assert form is not None
    assert "Mobile" in form.device or "Chrome" in form.device  # the browser's user agent

    # the PDF downloaded from the patient page is the stored one
    page.goto(f"{base}/app/patients/{booked.patient_id}#consent-forms")
    with page.expect_download() as info:
        page.click(f"#consent-download-{form.id}")
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == form.sha256
    shot(page, "consent-patient-forms.png")

    # now the session charts
    page.goto(f"{base}/app/visits/{appt.id}/chart")
    page.check('input[name="areas"][value="full_face"]')
    page.fill('input[name="depth_full_face"]', "1.0")
    page.fill('input[name="device"]', "Dermapen 4")
    page.fill('input[name="passes"]', "3")
    page.click("#chart-save")
    page.wait_for_selector("#charted")
    assert services.get_appointment(env.db, appt.id).status is AppointmentStatus.PERFORMED
    assert errors == [] or all("422" in e for e in errors)

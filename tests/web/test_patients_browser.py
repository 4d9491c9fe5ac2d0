"""Headless Chromium on the patient pages of a live server over a SQLite clinic: find the
patient, open her page, see her forecast chart drawn with her session days, record a
measurement. Skips only where /usr/bin/chromium is absent. Screenshot in test-artifacts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from needleplan import services

from .conftest import cheap_hasher
from .patients_fixtures import DB_PASSWORDS, ClinicApp, open_clinic_app
from .test_browser import CHROMIUM, _free_port, _page, _shot, browser

__all__ = ["browser"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package)"),
]


@pytest.fixture(scope="module")
def live_clinic(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    import uvicorn

    original = services.accounts.use_password_hasher(cheap_hasher())
    env = open_clinic_app(tmp_path_factory.mktemp("browser") / "clinic.sqlite3", _sqlite_template)
    port = _free_port()
    config = uvicorn.Config(
        env.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:  # readiness wait, not a timing assertion
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        env.db.dispose()
        services.accounts.use_password_hasher(original)


def test_practitioner_finds_a_patient_sees_her_chart_and_records_a_measurement(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    errors: list[str] = []
    page = _page(browser, errors, viewport={"width": 1280, "height": 1000})
    page.goto(base + "/app/patients")
    assert page.url.startswith(base + "/login")
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', DB_PASSWORDS["prac"])
    page.click('button[type="submit"]')
    page.wait_for_url(base + "/app/patients")
    page.fill('input[name="q"]', "02.04.1976")
    page.click('form[role="search"] button[type="submit"]')
    page.click("text=Doe, Jane")
    page.wait_for_url(f"{base}/app/patients/{env.patient_id}")
    page.wait_for_selector('#patient-chart polyline[data-series="patient"]')
    assert page.locator("#patient-chart line.np-session").count() == 2
    assert "after the last initial session" in page.text_content("#patient-chart-status")
    page.select_option('select[name="scale"]', "satisfaction")
    page.fill('input[name="value"]', "9")
    page.click("text=Save measurement")
    page.wait_for_selector("#measurement-table >> text=satisfaction")
    _shot(page, "patient-page.png")
    assert errors == []
    assert any(m.value == 9 for m in services.measurements_for(env.db, env.patient_id))


def test_front_desk_patient_page_has_no_chart_or_clinical_record(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    errors: list[str] = []
    page = _page(browser, errors, viewport={"width": 390, "height": 844})
    page.goto(f"{base}/app/patients/{env.patient_id}")
    page.fill('input[name="username"]', "desk")
    page.fill('input[name="password"]', DB_PASSWORDS["desk"])
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}/app/patients/{env.patient_id}")
    assert page.locator("#patient-chart").count() == 0
    assert page.locator("#assessments").count() == 0
    assert "+442079460001" in page.text_content("#demographics")  # E.164
    _shot(page, "patient-page-front-desk-phone.png")
    assert errors == []

"""Headless Chromium on the patient pages of a live server over a SQLite clinic: find the
patient, open her page, see her forecast chart drawn with her session days, record a
measurement. Skips only where /usr/bin/chromium is absent. Screenshot in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from needleplan import services

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def live_clinic(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "browser") as live:
        yield live


def test_practitioner_finds_a_patient_sees_her_chart_and_records_a_measurement(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
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
    shot(page, "patient-page.png")
    assert errors == []
    assert any(m.value == 9 for m in services.measurements_for(env.db, env.patient_id))


def test_front_desk_patient_page_has_no_chart_or_clinical_record(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 390, "height": 844})
    page.goto(f"{base}/app/patients/{env.patient_id}")
    page.fill('input[name="username"]', "desk")
    page.fill('input[name="password"]', DB_PASSWORDS["desk"])
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}/app/patients/{env.patient_id}")
    assert page.locator("#patient-chart").count() == 0
    assert page.locator("#assessments").count() == 0
    assert "+442079460001" in page.text_content("#demographics")  # E.164
    shot(page, "patient-page-front-desk-phone.png")
    assert errors == []

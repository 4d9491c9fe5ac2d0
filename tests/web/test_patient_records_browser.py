"""Headless Chromium on keeping the record right, over a live server and a SQLite clinic:
registering a likely duplicate warns with a link and registers anyway, editing contact and
consent shows the consent history, merging the duplicate back moves its records, and the
practitioner sees the patient's learned forecast differ from the population's after
measurements. Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
    with served_clinic(tmp_path_factory, _sqlite_template, "records") as live:
        yield live


def _sign_in(page: Any, base: str, who: str, target: str) -> None:
    page.goto(base + target)
    page.fill('input[name="username"]', who)
    page.fill('input[name="password"]', DB_PASSWORDS[who])
    page.click('button[type="submit"]')
    page.wait_for_url(base + target)


def test_duplicate_warning_edit_with_consent_history_and_merge(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    jane = env.patient_id
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
    _sign_in(page, base, "desk", "/app/patients/new")
    page.fill('input[name="given_name"]', "Jane")
    page.fill('input[name="family_name"]', "Doe")
    page.fill('input[name="birth_date"]', "1976-04-02")
    page.fill('input[name="phone"]', "+44 20 7946 9999")
    page.click("#register")
    page.wait_for_selector("#duplicates")
    assert page.locator(f'#duplicates a[href="/app/patients/{jane}"]').count() == 1
    shot(page, "records-duplicate-warning.png")
    page.click("#register")  # now "Register anyway"
    page.wait_for_selector("#record-actions")
    dup = int(page.url.rsplit("/", 1)[1])
    assert dup != jane
    # Edit Jane: withdraw the contact consent and change the phone.
    page.goto(f"{base}/app/patients/{jane}")
    page.click("#edit-patient")
    page.wait_for_selector("#edit-form")
    page.fill('#edit-form input[name="phone"]', "+44 20 7000 0000")
    page.uncheck('#edit-form input[name="consent_contact"]')
    page.click("#save-patient")
    page.wait_for_selector("#consent-history")
    history = page.text_content("#consent-history") or ""
    assert "contact" in history
    assert "withdrawn" in history
    assert "desk" in history
    assert "+442070000000" in (page.text_content("#demographics") or "")
    # Merge the duplicate into Jane's record.
    page.click("#edit-patient")
    page.fill('#merge-form input[name="other"]', str(dup))
    page.check('#merge-form input[name="confirm"]')
    page.click("#merge-button")
    page.wait_for_selector("#merged")
    assert page.url.startswith(f"{base}/app/patients/{jane}")
    shot(page, "records-merged.png")
    assert [p.id for p in services.list_patients(env.db) if p.id == dup] == []
    # The duplicate warning answers 409 on purpose (Chromium logs it); nothing else failed.
    assert [e for e in errors if "409 (Conflict)" not in e] == []


def test_practitioner_sees_the_learned_forecast_differ_from_the_population(
    live_clinic: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_clinic
    course = services.course_file(env.db, env.course_id)
    first = min(a.start for a in course.appointments)
    for days in (60, 120, 180):  # three "exceptional improvement" ratings, on the 2031 clock
        services.record_measurement(
            env.db,
            env.patient_id,
            {"scale": "gais", "value": 1, "measured_at": first + timedelta(days=days)},
            now=first + timedelta(days=365),
        )
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1200})
    _sign_in(page, base, "prac", f"/app/patients/{env.patient_id}")
    page.wait_for_selector("#learned-chart")
    population = page.get_attribute("#population-line", "points")
    personal = page.get_attribute("#personal-line", "points")
    assert population
    assert personal
    assert population != personal
    assert page.locator("#learned-chart circle.measurement-dot").count() >= 3
    assert page.locator("#learned-figures tbody tr").count() >= 2
    assert page.locator("#implications").count() == 1
    assert page.locator("#handout-button").count() == 1
    shot(page, "records-learned-forecast.png")
    assert errors == []

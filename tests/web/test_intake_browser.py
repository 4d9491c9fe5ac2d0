"""Headless Chromium runs the intake on a live server over a SQLite clinic: the front desk starts
kiosk mode from the patient's page, the "patient" fills the form on the tablet, other /app URLs
refuse while it is in kiosk mode, a practitioner unlocks it with her password, reviews the draft
and confirms it, and the course booked from the confirmed assessment has the plan's sessions.
Skips only where /usr/bin/chromium is absent. Screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import services

from .browser_support import BROWSER_MARKS, new_page, shot
from .live_support import served_clinic
from .patients_fixtures import DB_PASSWORDS, ClinicApp

pytestmark = BROWSER_MARKS

#: This suite's servers listen on loopback ports in this range.
PORTS = range(18100, 18200)

#: What the patient ticks on the tablet: a smoker with diabetes (well controlled), heavy sun
#: without sunscreen, a keloid tendency; face and neck, as much lift as possible.
ANSWERS: dict[str, str | list[str]] = {
    "pregnancy": "no",
    "diabetes": "yes",
    "diabetes_control": "well",
    "autoimmune": "no",
    "recent_radiation": "no",
    "isotretinoin": "no",
    "anticoagulants": "no",
    "allergies": "no",
    "active_infection": "no",
    "active_acne": "no",
    "keloid": "yes",
    "smoking": "current",
    "sun_exposure": "high",
    "spf_daily": "no",
    "sunburn_history": "yes",
    "areas": ["full_face", "neck"],
    "goal": "maximal",
}


@pytest.fixture(scope="module")
def live_intake(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[str, ClinicApp]]:
    with served_clinic(tmp_path_factory, _sqlite_template, "intake", PORTS) as live:
        yield live


def test_kiosk_intake_review_confirm_and_the_plan_from_the_confirmed_assessment(
    live_intake: tuple[str, ClinicApp], browser: Any
) -> None:
    base, env = live_intake
    nora = services.register_patient(
        env.db,
        {
            "given_name": "Nora",
            "family_name": "Intake",
            "birth_date": "1974-05-06",
            "consent_treatment": True,
        },
    )
    errors: list[str] = []
    tablet = new_page(browser, errors, viewport={"width": 820, "height": 1180}, has_touch=True)

    # The front desk signs in on the tablet and starts kiosk mode from Nora's page.
    tablet.goto(f"{base}/app/patients/{nora.id}")
    tablet.fill('input[name="username"]', "desk")
    tablet.fill('input[name="password"]', DB_PASSWORDS["desk"])
    tablet.click('button[type="submit"]')
    tablet.wait_for_url(f"{base}/app/patients/{nora.id}")
    assert tablet.locator("#no-intake").count() == 1
    tablet.click("#start-kiosk")
    tablet.wait_for_url(f"{base}/app/kiosk")
    assert "Hello Nora." in tablet.text_content("#intake-intro")
    assert tablet.locator("header nav").count() == 0  # no staff navigation
    shot(tablet, "intake-kiosk-form.png")

    # Nora fills the form; a first send without her goal is refused, naming the question.
    for question, answer in ANSWERS.items():
        if question == "goal":
            continue
        for value in answer if isinstance(answer, list) else [answer]:
            tablet.check(f'input[name="{question}"][value="{value}"]')
    tablet.click("#intake-send")
    tablet.wait_for_selector("#form-problems")
    assert "What result are you hoping for?" in tablet.text_content("#form-problems")
    assert tablet.is_checked('input[name="keloid"][value="yes"]')  # her answers are kept
    tablet.check('input[name="goal"][value="maximal"]')
    tablet.click("#intake-send")
    tablet.wait_for_selector("#intake-thanks")
    shot(tablet, "intake-kiosk-thanks.png")

    # While in kiosk mode no other staff page opens, not even another patient's.
    for path in ("/app/", "/app/patients", f"/app/patients/{env.patient_id}", "/app/calendar"):
        answer = tablet.goto(base + path)
        assert answer is not None
        assert answer.status == 403, path
        assert tablet.locator("#kiosk-locked").count() == 1
        assert "Jane" not in tablet.content()
    tablet.goto(base + "/app/kiosk")
    assert tablet.locator("#intake-thanks").count() == 1  # not a second form

    # The practitioner unlocks with her own password and lands on the review.
    tablet.click("#kiosk-unlock-link")
    tablet.fill('input[name="username"]', "prac")
    tablet.fill('input[name="password"]', "wrong-password-1")
    tablet.click('#kiosk-unlock button[type="submit"]')
    tablet.wait_for_selector("#unlock-error")
    tablet.fill('input[name="username"]', "prac")
    tablet.fill('input[name="password"]', DB_PASSWORDS["prac"])
    tablet.click('#kiosk-unlock button[type="submit"]')
    tablet.wait_for_url(re.compile(rf"{re.escape(base)}/app/intake/\d+$"))
    assert tablet.text_content("#intake-status") == "draft"
    flags = tablet.text_content("#intake-flags") or ""
    assert "relative contraindication" in flags
    assert "keloid" in flags
    assert tablet.is_checked('input[name="contraindications"][value="keloid_tendency"]')
    assert tablet.is_checked('input[name="conditions"][value="diabetes"]')
    assert tablet.input_value('select[name="smoking"]') == "current"
    assert services.assessment_history(env.db, nora.id) == []  # nothing approved yet
    shot(tablet, "intake-review.png")

    # She sets what only an examination tells and confirms.
    tablet.select_option('select[name="severity"]', "advanced")
    tablet.select_option('select[name="fitzpatrick_type"]', "2")
    tablet.click("#intake-confirm-button")
    tablet.wait_for_selector("#intake-plan")
    assert tablet.text_content("#intake-status") == "confirmed"
    (stored,) = services.assessment_history(env.db, nora.id)
    assert stored.assessment.severity is not None
    assert stored.assessment.severity.value == "advanced"
    sessions = int(tablet.text_content("#plan-sessions") or "0")
    assert 8 <= sessions <= 12  # several raising factors: the difficult tier
    assert tablet.text_content("#plan-interval") == "21–28"
    shot(tablet, "intake-confirmed-plan.png")

    # The course booked from her confirmed assessment has the plan's number of sessions.
    tablet.click("#book-course")
    tablet.wait_for_selector("#booking-form")
    today = date.today()
    monday = today + timedelta(days=28 + (7 - today.weekday()) % 7)
    tablet.fill('input[name="start"]', monday.isoformat())
    tablet.click('#booking-form button[type="submit"]')
    tablet.wait_for_selector("#booking-result")
    assert tablet.locator("#booking-result ol li").count() == sessions
    shot(tablet, "intake-course-booked.png")
    # only the answers the test provoked: the refused form (422), the wrong password (401) and
    # the pages refused in kiosk mode (403)
    expected = ("status of 422", "status of 401", "status of 403")
    assert [e for e in errors if not any(x in e for x in expected)] == []
    tablet.context.close()


def test_intake_through_her_link_in_german_then_the_practitioner_confirms(
    live_intake: tuple[str, ClinicApp], browser: Any
) -> None:
    """Issue 14: she fills the questionnaire at home through her link, on a phone, in her
    language; the practitioner finds the draft on her page, reviews and confirms it."""
    base, env = live_intake
    lena = services.register_patient(
        env.db,
        {
            "given_name": "Lena",
            "family_name": "Zuhause",
            "birth_date": "1971-02-03",
            "consent_treatment": True,
        },
    )
    services.update_patient(env.db, lena.id, {"language": "de"})
    errors: list[str] = []
    desk = new_page(browser, errors)
    desk.goto(f"{base}/app/patients/{lena.id}")
    desk.fill('input[name="username"]', "desk")
    desk.fill('input[name="password"]', DB_PASSWORDS["desk"])
    desk.click('button[type="submit"]')
    desk.wait_for_url(f"{base}/app/patients/{lena.id}")
    desk.click("#intake-link")
    desk.wait_for_selector("#intake-link-address")
    address = (desk.text_content("#intake-link-address code") or "").strip()
    assert re.search(r"/p/[A-Za-z0-9_-]+/intake$", address), address

    phone = new_page(browser, errors, viewport={"width": 390, "height": 844}, has_touch=True)
    phone.goto(address)
    assert phone.get_attribute("html", "lang") == "de"
    assert "Hallo Lena." in (phone.text_content("#intake-intro") or "")
    assert phone.locator("header nav").count() == 0
    for question, answer in ANSWERS.items():
        if question == "goal":
            continue
        for value in answer if isinstance(answer, list) else [answer]:
            phone.check(f'input[name="{question}"][value="{value}"]')
    phone.click("#intake-send")
    phone.wait_for_selector("#form-problems")
    problems = phone.text_content("#form-problems") or ""
    assert "Welches Ergebnis wünschen Sie sich?" in problems
    assert "muss beantwortet werden" in problems
    phone.check('input[name="goal"][value="maximal"]')
    phone.click("#intake-send")
    phone.wait_for_selector("#intake-thanks")
    assert "Vielen Dank" in (phone.text_content("#intake-thanks") or "")
    shot(phone, "intake-link-german-thanks.png")

    # The practitioner opens her page, follows the draft to its review and confirms it.
    prac = new_page(browser, errors)
    prac.goto(f"{base}/app/patients/{lena.id}")
    prac.fill('input[name="username"]', "prac")
    prac.fill('input[name="password"]', DB_PASSWORDS["prac"])
    prac.click('button[type="submit"]')
    prac.wait_for_url(f"{base}/app/patients/{lena.id}")
    prac.click("a.intake-review")
    prac.wait_for_url(re.compile(rf"{re.escape(base)}/app/intake/\d+$"))
    assert prac.text_content("#intake-status") == "draft"
    assert prac.is_checked('input[name="contraindications"][value="keloid_tendency"]')
    prac.select_option('select[name="severity"]', "moderate")
    prac.select_option('select[name="fitzpatrick_type"]', "2")
    prac.click("#intake-confirm-button")
    prac.wait_for_selector("#intake-plan")
    assert prac.text_content("#intake-status") == "confirmed"
    (stored,) = services.assessment_history(env.db, lena.id)
    assert stored.assessment.severity is not None
    assert stored.assessment.severity.value == "moderate"
    assert [e for e in errors if "status of 422" not in e] == []

"""Real headless Chromium: consultation → book the course for a new patient → .ics → calendar.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it). Screenshots land in
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from needleplan import services

from . import booking_support
from .booking_support import MONDAY, Clinic, born_aged, make_clinic
from .browser_support import ARTIFACTS, BROWSER_MARKS, new_page, serving, shot
from .conftest import PASSWORDS

# Fixtures shared with the other booking tests (a database-backed app and its client).
backend = booking_support.backend

#: A birth date that agrees with the consultation form's age of 50 (refused otherwise).
BORN_50 = born_aged(50)

pytestmark = BROWSER_MARKS


@pytest.fixture
def live(user_store: Any, db: Any) -> Iterator[tuple[str, Clinic]]:
    leave = {
        "start": (MONDAY + timedelta(days=20)).isoformat(),
        "end": (MONDAY + timedelta(days=60)).isoformat(),
        "reason": "leave",
    }
    site = make_clinic(
        user_store,
        db,
        practitioners=[
            {"name": "Alice Practitioner"},
            {"name": "Bob Practitioner", "days_off": [leave]},
        ],
    )
    with serving(site.app) as base:
        yield base, site


def test_book_a_course_from_the_consultation_and_find_it_in_the_calendar(
    live: tuple[str, Clinic], browser: Any
) -> None:
    server, site = live
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    page.goto(server + "/app/consult")
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', PASSWORDS["prac"])
    page.click('button[type="submit"]')
    page.wait_for_url(server + "/app/consult")
    page.wait_for_selector('#consult-chart polyline[data-series="series"]')
    assert page.text_content("#p-sessions").startswith("5")

    # The booking panel: a new patient, a fixed start date, anyone may treat.
    page.wait_for_selector(
        '#bk-practitioner option:has-text("Alice Practitioner")', state="attached"
    )
    page.check('input[name="bk-mode"][value="new"]')
    page.fill("#bk-given", "Nora")
    page.fill("#bk-family", "Newcomer")
    page.fill("#bk-birth", BORN_50)  # the consultation form says age 50
    page.check("#bk-consent")
    page.fill("#bk-start", MONDAY.isoformat())
    page.locator("#booking-panel").scroll_into_view_if_needed()
    shot(page, "booking-panel-filled.png")
    page.click("#bk-submit")
    page.wait_for_selector("#bk-result:not([hidden])")
    sessions = page.locator("#bk-sessions li")
    assert sessions.count() == 5
    first_text = sessions.nth(0).text_content()
    assert first_text.startswith("Mon 03 Mar 2031, 10:00")
    page.locator("#booking-panel").screenshot(path=str(ARTIFACTS / "booking-panel-booked.png"))

    # The .ics link serves the course with five events.
    ics_href = page.get_attribute("#bk-ics", "href")
    assert ics_href
    assert ics_href.endswith("/course.ics")
    ics = page.request.get(server + ics_href)
    assert ics.ok
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.text().count("BEGIN:VEVENT") == 5

    # The calendar week view has session 1.
    page.click("#bk-calendar")
    page.wait_for_url("**/app/calendar?view=week&date=2031-03-03*")
    card = page.locator(".cal-day[data-date='2031-03-03'] .cal-appt").first
    assert "Nora Newcomer" in card.text_content()
    assert "session 1 of 5" in card.text_content()
    assert "10:00–11:00" in card.text_content()
    shot(page, "calendar-week-first-session.png")

    # Move session 1 an hour later: the preview lists the course before anything is saved.
    card.locator("a", has_text="move").click()
    page.fill('input[name="time"]', "14:00")
    page.click('#move-form button[type="submit"]')
    page.wait_for_selector("#move-preview")
    shot(page, "calendar-move-preview.png")
    assert len(services.list_patients(site.db)) == 1, "the preview stored nothing new"
    page.click('#confirm-form button[type="submit"]')
    page.wait_for_selector("text=Moved")
    assert "14:00–15:00" in page.locator(".cal-day[data-date='2031-03-03']").text_content()
    shot(page, "calendar-after-move.png")
    assert [e for e in errors if "422" not in e] == []
    page.context.close()


def test_front_desk_works_the_recall_list_and_books_from_it(
    live: tuple[str, Clinic], browser: Any
) -> None:
    """Log a call, then book her from the stored assessment: the entry closes by itself."""
    from datetime import datetime

    from .booking_support import ZONE
    from .conftest import REFERENCE

    server, site = live
    today = datetime.now(ZONE).date()
    mia = site.patient("Mia", "Maintenance", consent_contact=True, phone="+49 30 5550101")
    services.record_assessment(site.db, mia.id, REFERENCE)
    services.add_recall(site.db, mia.id, today, reason="maintenance after course")
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 900})
    page.goto(server + "/app/recall")
    page.fill('input[name="username"]', "desk")
    page.fill('input[name="password"]', PASSWORDS["desk"])
    page.click('button[type="submit"]')
    page.wait_for_url(server + "/app/recall")
    row = page.locator("#recall-table tbody tr").first
    assert "Mia Maintenance" in row.text_content()
    assert "+49305550101" in row.text_content()  # E.164
    row.locator('select[name="outcome"]').select_option("call_back")
    row.locator('input[name="note"]').fill("after 5 pm")
    row.locator("button", has_text="Log attempt").click()
    page.wait_for_selector("text=Contact attempt logged")
    assert "call back · after 5 pm" in page.locator("#recall-table").text_content()
    shot(page, "recall-worklist.png")

    page.locator("#recall-table a", has_text="book").first.click()
    page.fill('input[name="start"]', MONDAY.isoformat())
    page.click('#booking-form button[type="submit"]')
    page.wait_for_selector("#booking-result")
    assert page.locator("#booking-result ol li").count() == 5
    shot(page, "frontdesk-booking-result.png")
    page.goto(server + "/app/recall?show=closed")
    assert (
        "closed automatically when the patient booked"
        in page.locator("#recall-table").text_content()
    )
    shot(page, "recall-closed.png")
    assert errors == []
    page.context.close()


def test_unschedulable_course_books_nothing_then_the_alternative_on_request(
    live: tuple[str, Clinic], browser: Any
) -> None:
    """Bob is on leave through session 2's window: the panel says so; one click books the
    alternative. The patient is found by name search."""
    server, site = live
    site.patient("Jane", "Doe")
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    page.goto(server + "/app/consult")
    page.fill('input[name="username"]', "prac")
    page.fill('input[name="password"]', PASSWORDS["prac"])
    page.click('button[type="submit"]')
    page.wait_for_url(server + "/app/consult")
    page.wait_for_selector('#bk-practitioner option:has-text("Bob Practitioner")', state="attached")
    page.fill("#bk-search", "jane d")
    page.click('#bk-results button:has-text("Jane Doe")')
    assert "chosen: Jane Doe" in page.text_content("#bk-chosen")
    page.fill("#bk-start", MONDAY.isoformat())
    page.select_option("#bk-practitioner", label="Bob Practitioner")
    page.click("#bk-submit")
    page.wait_for_selector("#bk-error:not([hidden])")
    message = page.text_content("#bk-error")
    assert message.startswith("nothing was booked: session 2")
    assert "leave" in message
    assert (
        services.appointments_between(
            site.db, bs_local(MONDAY), bs_local(MONDAY + timedelta(days=400))
        )
        == []
    )
    page.locator("#booking-panel").screenshot(path=str(ARTIFACTS / "booking-panel-infeasible.png"))
    page.click("#bk-overrun")
    page.wait_for_selector("#bk-result:not([hidden])")
    assert page.locator("#bk-sessions li").count() == 5
    assert "Mon 05 May 2031" in page.text_content("#bk-sessions li:nth-child(2)")
    page.locator("#booking-panel").screenshot(path=str(ARTIFACTS / "booking-panel-alternative.png"))
    assert [e for e in errors if "409" not in e] == []
    page.context.close()


def bs_local(day: Any) -> Any:
    from .booking_support import local

    return local(day, 0)


def _sign_in(page: Any, server: str, path: str, who: str) -> None:
    page.goto(server + path)
    page.fill('input[name="username"]', who)
    page.fill('input[name="password"]', PASSWORDS[who])
    page.click('button[type="submit"]')
    page.wait_for_url(server + path)


def test_a_lost_race_for_a_new_patient_stores_nothing_and_says_what_to_do(
    live: tuple[str, Clinic], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every time the series is dated, someone else books its first slot: the panel says that
    nothing (not even the patient) was stored and what to do next."""
    server, site = live
    rival = site.patient("Rita", "Rival")
    real = services.booking.schedule_course

    def schedule_then_someone_books(*args: Any, **kwargs: Any) -> Any:
        schedule = real(*args, **kwargs)
        first = schedule.sessions[0]
        who = site.practitioners[first.practitioner]
        services.book_appointment(site.db, rival.id, (first.start, first.end, who), kind="review")
        return schedule

    monkeypatch.setattr(services.booking, "schedule_course", schedule_then_someone_books)
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    _sign_in(page, server, "/app/consult", "prac")
    page.wait_for_selector(
        '#bk-practitioner option:has-text("Alice Practitioner")', state="attached"
    )
    page.check('input[name="bk-mode"][value="new"]')
    page.fill("#bk-given", "Nora")
    page.fill("#bk-family", "Newcomer")
    page.fill("#bk-birth", BORN_50)  # the consultation form says age 50
    page.check("#bk-consent")  # a course needs consent to treatment
    page.fill("#bk-start", MONDAY.isoformat())
    page.click("#bk-submit")
    page.wait_for_selector("#bk-error:not([hidden])")
    message = page.text_content("#bk-error")
    assert message.startswith("nothing was booked (no patient, no assessment, no course stored)")
    assert "choose another start date or practitioner" in message
    assert [p.family_name for p in services.list_patients(site.db)] == ["Rival"]
    page.locator("#booking-panel").screenshot(path=str(ARTIFACTS / "booking-panel-lost-race.png"))
    assert [e for e in errors if "409" not in e] == []
    page.context.close()


def test_rebook_a_missed_session_from_the_calendar(live: tuple[str, Clinic], browser: Any) -> None:
    """Session 2 was a no-show (recorded through the service: its 2031 start has not come, and
    the page refuses a no-show before the start); open "rebook" in the week view, see the
    proposal, save it."""
    from .conftest import REFERENCE

    server, site = live
    jane = site.patient("Jane", "Doe")
    services.record_assessment(site.db, jane.id, REFERENCE)
    planned = services.plan_and_book_course(
        site.db, jane.id, MONDAY, site.clinic, practitioner="Alice Practitioner"
    )
    second = planned.booking.appointments[1]
    day = second.start.astimezone(site.clinic.tz).date().isoformat()
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1000})
    _sign_in(page, server, f"/app/calendar?view=week&date={day}", "desk")
    card = page.locator(f".cal-appt[data-appointment='{second.id}']")
    assert card.locator("button.no-show").count() == 1
    services.mark_missed(site.db, second.id)
    page.reload()
    card = page.locator(f".cal-appt[data-appointment='{second.id}']")
    assert card.locator(".cal-status").text_content() == "no-show"
    card.locator("a.rebook").click()
    page.wait_for_selector("#rebook-preview")
    assert "Rebook session 2" in page.text_content("#rebook-confirm")
    shot(page, "calendar-rebook-preview.png")
    page.click('#rebook-confirm button[type="submit"]')
    page.wait_for_selector("#rebooked")
    booked = [
        a
        for a in services.course_file(site.db, planned.booking.course.id).appointments
        if a.session_number == 2
    ]
    assert len(booked) == 1
    assert booked[0].status.value == "booked"
    assert booked[0].id != second.id
    shot(page, "calendar-after-rebook.png")
    assert errors == []
    page.context.close()


def test_choosing_a_patient_loads_her_assessment_and_saves_without_booking(
    live: tuple[str, Clinic], browser: Any
) -> None:
    """The booking panel fills the consultation form from her latest assessment; "save
    without booking" keeps a new assessment (and its plan in the note) and books nothing; an
    age that disagrees with the birth date is refused naming the field."""
    from .conftest import REFERENCE

    server, site = live
    jane = site.patient("Jane", "Doe")
    stored = REFERENCE | {"severity": "advanced", "areas": ["full_face", "neck"]}
    services.record_assessment(site.db, jane.id, stored)
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    _sign_in(page, server, "/app/consult", "prac")
    page.wait_for_selector(
        '#bk-practitioner option:has-text("Alice Practitioner")', state="attached"
    )
    page.fill("#bk-search", "jane d")
    page.click('#bk-results button:has-text("Jane Doe")')
    page.wait_for_selector("#bk-loaded:has-text('latest assessment')")
    assert page.input_value('select[name="severity"]') == "advanced"
    assert page.is_checked('input[name="areas"][value="neck"]')
    # her age comes from her date of birth (the form fills it)
    assert page.input_value('input[name="age"]') == str(
        jane.age_on(datetime.now(site.clinic.tz).date())
    )
    page.fill('input[name="age"]', "40")
    page.click("#bk-save")
    page.wait_for_selector("#bk-error:not([hidden])")
    assert page.text_content("#bk-error").startswith("age: does not agree with the date of birth")
    page.fill('input[name="age"]', str(REFERENCE["age"]))
    page.click("#bk-save")
    page.wait_for_selector("#bk-saved:not([hidden])")
    assert "nothing was booked" in page.text_content("#bk-saved")
    history = services.assessment_history(site.db, jane.id)
    assert len(history) == 2
    assert history[0].assessment.severity.value == "advanced"
    assert history[0].notes.startswith("consultation without booking; plan: ")
    assert services.patient_file(site.db, jane.id).courses == []
    page.locator("#booking-panel").screenshot(path=str(ARTIFACTS / "booking-panel-saved.png"))
    assert [e for e in errors if "422" not in e] == []
    page.context.close()


def _fill_new_patient(page: Any, start: str) -> None:
    page.wait_for_selector(
        '#bk-practitioner option:has-text("Alice Practitioner")', state="attached"
    )
    page.check('input[name="bk-mode"][value="new"]')
    page.fill("#bk-given", "Nora")
    page.fill("#bk-family", "Newcomer")
    page.fill("#bk-birth", BORN_50)  # the consultation form says age 50
    page.check("#bk-consent")
    page.fill("#bk-start", start)


def test_a_double_clicked_booking_books_once(live: tuple[str, Clinic], browser: Any) -> None:
    """A double click, and a second click that gets through while the first request is still
    on its way (a browser that ignores the disabled button), book one patient and one course."""
    server, site = live
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    _sign_in(page, server, "/app/consult", "prac")
    _fill_new_patient(page, MONDAY.isoformat())
    page.dblclick("#bk-submit")
    page.evaluate(
        "() => { const b = document.getElementById('bk-submit'); b.disabled = false; b.click(); }"
    )
    page.wait_for_selector("#bk-result:not([hidden])")
    page.wait_for_function("() => !document.getElementById('bk-submit').disabled")
    patients = services.list_patients(site.db)
    assert [p.family_name for p in patients] == ["Newcomer"]
    assert len(services.patient_file(site.db, patients[0].id).courses) == 1
    assert page.locator("#bk-sessions li").count() == 5
    assert [e for e in errors if "409" not in e] == []
    page.context.close()


def test_a_start_in_the_past_is_refused_in_plain_words(
    live: tuple[str, Clinic], browser: Any
) -> None:
    server, site = live
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1280, "height": 1100})
    _sign_in(page, server, "/app/consult", "prac")
    past = (datetime.now().date() - timedelta(days=3)).isoformat()
    _fill_new_patient(page, past)
    page.click("#bk-submit")
    page.wait_for_selector("#bk-error:not([hidden])")
    message = page.text_content("#bk-error")
    assert message.startswith("start: ")
    assert "day that has passed" in message
    assert page.is_hidden("#bk-result")
    assert services.list_patients(site.db) == []
    shot(page, "booking-past-start-refused.png")
    assert [e for e in errors if "422" not in e] == []
    page.context.close()

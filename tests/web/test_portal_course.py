"""She books her course start through her portal link (docs/online-booking.md, "Course start"):
on and off, a time taken before she saves, no plan, a course already booked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.services.messaging.log import message_log
from needleplan.web.auth import InMemoryUserStore

from . import booking_support
from .booking_support import Clinic, make_clinic
from .conftest import REFERENCE, TestClient, csrf_from
from .portal_support import PHONE, book_nora, link, psite, pweb

backend = booking_support.backend
__all__ = ["psite", "pweb"]


@pytest.fixture
def osite(user_store: InMemoryUserStore, db: Any) -> Clinic:
    return make_clinic(user_store, db, phone=PHONE, online_booking={"course_start": True})


@pytest.fixture
def oweb(osite: Clinic) -> Any:
    with TestClient(osite.app, base_url="http://testserver") as c:
        yield c


def _planned(site: Clinic, **extra: Any) -> int:
    """A patient with a saved consultation (her plan) and no course."""
    patient = site.patient("Paula", "Plan", email="paula@example.org", **extra)
    services.save_consultation(site.db, patient.id, REFERENCE, site.clinic)
    return patient.id


def _slots(text: str) -> list[str]:
    return [v.split('"')[0] for v in text.split('name="slot" value="')[1:]]


def _shown(text: str) -> str:
    return text.split('name="shown" value="')[1].split('"')[0]


def _courses(site: Clinic, patient_id: int) -> list[Any]:
    with site.db.transaction() as uow:
        return uow.courses.for_patient(patient_id)


def test_she_picks_her_start_sees_the_whole_course_and_books_it(
    oweb: TestClient, osite: Clinic
) -> None:
    pid = _planned(osite)
    token, link_id = link(osite, pid)
    home = oweb.get(f"/p/{token}")
    assert home.status_code == 200
    assert 'id="book-course"' in home.text
    page = oweb.get(f"/p/{token}/course")
    assert page.status_code == 200, page.text
    slots = _slots(page.text)
    assert slots
    tomorrow = datetime.now(osite.clinic.tz).date() + timedelta(days=1)
    days = {
        datetime.fromisoformat(key.split("@", 1)[1]).astimezone(osite.clinic.tz).date()
        for key in slots
    }
    assert all(tomorrow <= day < tomorrow + timedelta(days=21) for day in days)
    assert len(days) > 3  # spread over the weeks, not the first free hours
    csrf = csrf_from(page.text)
    picked = slots[-1]
    preview = oweb.post(f"/p/{token}/course", data={"csrf_token": csrf, "slot": picked})
    assert preview.status_code == 200, preview.text
    assert "The dates of your course" in preview.text
    shown = _shown(preview.text)
    assert len(shown.split("|")) == 5  # the reference plan's five sessions
    assert _courses(osite, pid) == []  # nothing saved yet
    saved = oweb.post(
        f"/p/{token}/course/save",
        data={"csrf_token": csrf, "slot": picked, "shown": shown},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/p/{token}?done=course"
    (course,) = _courses(osite, pid)
    appts = services.course_file(osite.db, course.id).appointments
    assert len(appts) == 5
    assert min(a.start for a in appts) == datetime.fromisoformat(picked.split("@", 1)[1])
    assert sorted(a.start for a in appts) == sorted(
        datetime.fromisoformat(s.split("@", 1)[1]) for s in shown.split("|")
    )
    kinds = [m.kind for m in message_log(osite.db, None, pid)]
    assert MessageKind.COURSE_BOOKED in kinds
    events = [
        (e.action, e.username, e.detail) for e in services.audit_log(osite.db, patient_id=pid)
    ]
    assert any(
        a == "course.book" and u == "patient-link" and d.endswith(f"link={link_id}")
        for a, u, d in events
    )
    after = oweb.get(f"/p/{token}?done=course")
    assert "Your course is booked" in after.text
    assert 'id="book-course"' not in after.text
    assert after.text.count('class="visit"') == 5


def test_off_shows_nothing_and_the_routes_refuse_plainly(pweb: TestClient, psite: Clinic) -> None:
    pid = _planned(psite)
    token, _ = link(psite, pid)
    home = pweb.get(f"/p/{token}")
    assert home.status_code == 200
    assert "Book your course" not in home.text
    csrf = csrf_from(home.text)
    assert pweb.get(f"/p/{token}/course").status_code == 404
    for path in ("/course", "/course/save"):
        response = pweb.post(f"/p/{token}{path}", data={"csrf_token": csrf, "slot": "1@x"})
        assert response.status_code == 404
        assert "Traceback" not in response.text
    assert _courses(psite, pid) == []


def test_a_time_taken_before_she_saves_books_nothing_and_shows_new_dates(
    oweb: TestClient, osite: Clinic
) -> None:
    pid = _planned(osite)
    token, _ = link(osite, pid)
    page = oweb.get(f"/p/{token}/course")
    csrf = csrf_from(page.text)
    picked = _slots(page.text)[0]
    preview = oweb.post(f"/p/{token}/course", data={"csrf_token": csrf, "slot": picked})
    shown = _shown(preview.text)
    who, start = shown.split("|")[1].split("@", 1)
    begin = datetime.fromisoformat(start)
    other = osite.patient("Olga", "Other")
    services.book_appointment(
        osite.db,
        other.id,
        (begin, begin + timedelta(minutes=60), osite.practitioners[who]),
        kind="review",
    )
    stale = oweb.post(
        f"/p/{token}/course/save", data={"csrf_token": csrf, "slot": picked, "shown": shown}
    )
    assert stale.status_code == 409, stale.text
    assert "The calendar changed" in stale.text
    assert _courses(osite, pid) == []
    fresh = _shown(stale.text)
    assert fresh != shown
    assert start not in fresh
    saved = oweb.post(
        f"/p/{token}/course/save",
        data={"csrf_token": csrf, "slot": picked, "shown": fresh},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert len(_courses(osite, pid)) == 1
    # A first-session time taken since the page was shown is no longer offered.
    taken = oweb.post(f"/p/{token}/course", data={"csrf_token": csrf, "slot": picked})
    assert taken.status_code == 409  # her course is booked now


def test_a_time_not_offered_is_refused(oweb: TestClient, osite: Clinic) -> None:
    pid = _planned(osite)
    token, _ = link(osite, pid)
    csrf = csrf_from(oweb.get(f"/p/{token}/course").text)
    for slot in ("1@2031-12-24T03:00:00+01:00", "nonsense", ""):
        response = oweb.post(f"/p/{token}/course", data={"csrf_token": csrf, "slot": slot})
        assert response.status_code == 422, slot
        assert "Please pick one of the times shown" in response.text
    assert oweb.post(f"/p/{token}/course", data={"slot": "x"}).status_code in (400, 403)
    assert _courses(osite, pid) == []


def test_a_patient_without_a_plan_is_told_to_see_the_clinic(
    oweb: TestClient, osite: Clinic
) -> None:
    patient = osite.patient("Nadia", "Noplan")
    token, _ = link(osite, patient.id)
    home = oweb.get(f"/p/{token}")
    assert "Book your course" not in home.text
    page = oweb.get(f"/p/{token}/course")
    assert page.status_code == 409
    assert "once the clinic has agreed your plan" in page.text
    no_consent = _planned(osite, consent_treatment=False)
    token2, _ = link(osite, no_consent)
    assert 'id="book-course"' not in oweb.get(f"/p/{token2}").text
    refused = oweb.get(f"/p/{token2}/course")
    assert refused.status_code == 409
    assert "consent to treatment" in refused.text


def test_a_patient_whose_course_is_booked_cannot_book_another(
    oweb: TestClient, osite: Clinic
) -> None:
    nora = book_nora(oweb, osite)
    token, _ = link(osite, nora.patient_id)
    home = oweb.get(f"/p/{token}")
    assert 'id="book-course"' not in home.text
    page = oweb.get(f"/p/{token}/course")
    assert page.status_code == 409
    assert "already booked" in page.text
    csrf = csrf_from(home.text)
    saved = oweb.post(
        f"/p/{token}/course/save", data={"csrf_token": csrf, "slot": "1@x", "shown": "x"}
    )
    assert saved.status_code == 409
    assert len(_courses(osite, nora.patient_id)) == 1


def test_her_course_page_speaks_german(oweb: TestClient, osite: Clinic) -> None:
    pid = _planned(osite)
    token, _ = link(osite, pid)
    services.update_patient(osite.db, pid, {"language": "de"})
    page = oweb.get(f"/p/{token}/course")
    assert page.status_code == 200
    assert "Book your course" not in page.text
    assert "Ihre Behandlungsreihe buchen" in page.text

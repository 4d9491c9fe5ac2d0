"""The recall worklist: due filters, contact attempts, opt-out, close, and closing on booking."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from needleplan import services
from needleplan.domain.records import RecallStatus
from needleplan.scheduling import maintenance_due
from tests.consent_support import sign_treatment

from . import booking_support
from .booking_support import ZONE, Clinic, book_json, new_patient_body, signed_in
from .conftest import REFERENCE, TestClient, csrf_from

# Fixtures shared with the other booking tests (a database-backed app and its client).
backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _today() -> date:
    return datetime.now(ZONE).date()


def _last_month() -> date:
    """The 1st of last month: overdue, and never due this month."""
    first = _today().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _seed(site: Clinic) -> dict[str, int]:
    """Three open entries: overdue since last month, due today, due in 45 days."""
    today = _today()
    out = {}
    for given, due in (("Olive", _last_month()), ("Tara", today), ("Lena", today + timedelta(45))):
        p = site.patient(given, "Recall", consent_contact=True, phone="+49 30 1234567")
        out[given] = services.add_recall(site.db, p.id, due).id
    return out


def _rows(page: str) -> list[str]:
    return [name for name in ("Olive", "Tara", "Lena") if f"{name} Recall" in page]


def test_filters_due_this_month_overdue_and_all(web: TestClient, site: Clinic) -> None:
    _seed(site)
    signed_in(web, "desk")
    month = web.get("/app/recall").text
    assert _rows(month) == ["Tara"]  # due this month means due this month, not overdue since
    assert "due today" in month
    overdue = web.get("/app/recall?show=overdue").text
    assert _rows(overdue) == ["Olive"]
    assert f"{(_today() - _last_month()).days} days overdue" in overdue
    assert _rows(web.get("/app/recall?show=open").text) == ["Olive", "Tara", "Lena"]
    assert _rows(web.get("/app/recall?show=closed").text) == []
    assert web.get("/app/recall?show=someday").status_code == 422


def test_contact_details_only_with_consent(web: TestClient, site: Clinic) -> None:
    quiet = site.patient("Quinn", "Quiet", phone="+49 30 7654321", consent_contact=False)
    services.add_recall(site.db, quiet.id, _today())
    signed_in(web, "desk")
    page = web.get("/app/recall").text
    assert "Quinn Quiet" in page
    assert "7654321" not in page
    assert "no consent to contact" in page


def test_contact_attempts_are_logged_with_channel_outcome_and_note(
    web: TestClient, site: Clinic
) -> None:
    ids = _seed(site)
    signed_in(web, "desk")
    token = csrf_from(web.get("/app/recall?show=overdue").text)
    response = web.post(
        f"/app/recall/{ids['Olive']}/contact",
        data={
            "channel": "phone",
            "outcome": "left_message",
            "note": "call after 5",
            "back": "show=overdue",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"show=overdue&done=contact#recall-{ids['Olive']}")
    page = web.get(response.headers["location"]).text
    assert "Contact attempt logged" in page
    assert "phone · left message · call after 5" in page
    entry = services.recall_list(site.db, due_by=None)[0]
    assert [(a.channel.value, a.outcome.value) for a in entry.attempts] == [
        ("phone", "left_message")
    ]
    assert entry.attempts[0].by_user_id is None  # in-memory staff accounts have no database id
    assert "recall.contact" in {e.action for e in services.audit_log(site.db)}


def test_bad_channel_is_422_naming_it(web: TestClient, site: Clinic) -> None:
    ids = _seed(site)
    signed_in(web, "desk")
    token = csrf_from(web.get("/app/recall").text)
    response = web.post(
        f"/app/recall/{ids['Olive']}/contact",
        data={"channel": "pigeon", "outcome": "no_answer", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "channel" in response.text


def test_opt_out_and_close_move_the_entry_to_closed(web: TestClient, site: Clinic) -> None:
    ids = _seed(site)
    signed_in(web, "prac")
    token = csrf_from(web.get("/app/recall").text)
    web.post(f"/app/recall/{ids['Olive']}/opt-out", data={"csrf_token": token})
    no_reason = web.post(f"/app/recall/{ids['Tara']}/close", data={"csrf_token": token})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    web.post(
        f"/app/recall/{ids['Tara']}/close",
        data={"csrf_token": token, "reason": "other", "other": "moved to Hamburg"},
    )
    assert _rows(web.get("/app/recall?show=open").text) == ["Lena"]
    closed = web.get("/app/recall?show=closed").text
    assert "opted out" in closed
    assert 'closed by staff: <span class="close-reason">moved to Hamburg</span>' in closed
    again = web.post(
        f"/app/recall/{ids['Olive']}/contact",
        data={"channel": "sms", "outcome": "no_answer", "csrf_token": token},
    )
    assert again.status_code == 409  # an opted-out entry takes no more attempts


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_entry_closes_itself_when_she_books(web: TestClient, site: Clinic) -> None:
    ids = _seed(site)
    olive = next(e for e in services.recall_list(site.db, due_by=None) if e.id == ids["Olive"])
    services.record_assessment(site.db, olive.patient_id, REFERENCE)
    token = signed_in(web, "desk")
    response = book_json(
        web,
        token,
        {"patient_id": olive.patient_id, "start": (_today() + timedelta(days=7)).isoformat()},
    )
    assert response.status_code == 201, response.text
    assert "Olive" not in _rows(web.get("/app/recall?show=open").text)
    closed = web.get("/app/recall?show=closed").text
    assert "Olive Recall" in closed
    assert "booked — closed automatically when the patient booked" in closed


def test_due_date_comes_from_her_forecast_when_the_course_completes(
    web: TestClient, site: Clinic
) -> None:
    """Record every session of a booked course: the recall entry is dated by her forecast."""
    signed_in(web, "prac")
    start = _today() - timedelta(days=300)
    body = new_patient_body(start=start)
    back_then = datetime.combine(start, datetime.min.time(), tzinfo=site.clinic.tz)
    done = services.book_consultation(  # booked 300 days ago (a past start is refused now)
        site.db,
        site.clinic,
        start,
        new_patient=body["new_patient"] | {"birth_date": f"{start.year - REFERENCE['age']}-01-01"},
        assessment=REFERENCE,
        now=back_then - timedelta(days=1),
    )
    data = {
        "course_id": done.booking.course.id,
        "sessions": [
            {"start": a.start.isoformat(), "appointment_id": a.id}
            for a in done.booking.appointments
        ],
    }
    due_rule = services.forecast_maintenance_due(site.clinic)
    alice = site.practitioners["Alice Practitioner"]
    sign_treatment(site.db, done.booking.course.patient_id)
    for s in data["sessions"]:
        services.record_session(
            site.db,
            {
                "performed_at": s["start"],
                "areas": ["full_face"],
                "device": "pen",
                "needle_depth_mm": {"full_face": 1.0},
                "passes": 3,
                "practitioner_id": alice,
            },
            appointment_id=s["appointment_id"],
            maintenance_due=due_rule,
        )
    (entry,) = services.recall_list(site.db, due_by=None)
    days = [datetime.fromisoformat(s["start"]).date() for s in data["sessions"]]
    course = services.course_file(site.db, data["course_id"]).course
    from needleplan.domain import parse_assessment

    expected = maintenance_due(parse_assessment(REFERENCE), days, site.clinic, course.protocol).due
    assert entry.due_date == expected
    page = web.get("/app/recall?show=open").text
    assert "Nora Newcomer" in page
    assert expected.isoformat() in page
    assert entry.status is RecallStatus.OPEN


@pytest.mark.parametrize("action", ["contact", "opt-out", "close"])
def test_recall_posts_need_the_csrf_token(web: TestClient, site: Clinic, action: str) -> None:
    ids = _seed(site)
    signed_in(web, "desk")
    response = web.post(
        f"/app/recall/{ids['Olive']}/{action}", data={"channel": "sms", "outcome": "booked"}
    )
    assert response.status_code == 403
    assert len(services.recall_list(site.db, due_by=None)) == 3


@pytest.mark.parametrize("username", ["admin", "prac", "desk"])
def test_every_role_may_work_the_recall_list(web: TestClient, username: str) -> None:
    signed_in(web, username)
    assert web.get("/app/recall").status_code == 200


def test_recall_needs_a_sign_in(web: TestClient) -> None:
    response = web.get("/app/recall", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert web.post("/app/recall/1/close", follow_redirects=False).status_code == 303


def test_contact_attempts_show_on_the_clinic_clock(user_store: object, db: object) -> None:
    """Sydney: an attempt at 22:00 UTC on 2 March was made at 09:00 AEDT on 3 March."""
    from zoneinfo import ZoneInfo

    from .booking_support import make_clinic

    site = make_clinic(user_store, db, timezone="Australia/Sydney")  # type: ignore[arg-type]
    today = datetime.now(ZoneInfo("Australia/Sydney")).date()
    mia = site.patient("Mia", "Recall", consent_contact=True, phone="+61 2 5550 1234")
    entry = services.add_recall(site.db, mia.id, today)
    at = datetime(2031, 3, 2, 22, 0, tzinfo=ZoneInfo("UTC"))
    services.record_contact(site.db, entry.id, channel="phone", outcome="no_answer", at=at)
    with TestClient(site.app, base_url="http://testserver") as web:
        signed_in(web, "desk")
        page = web.get("/app/recall").text
        assert "2031-03-03 09:00 · phone · no answer" in page
        assert "2031-03-02" not in page
        assert "Times in Australia/Sydney (AE" in page


def test_each_worklist_view_writes_one_read_audit_listing_the_patients(
    web: TestClient, site: Clinic
) -> None:
    ids = _seed(site)
    entries = {e.id: e.patient_id for e in services.recall_list(site.db, due_by=None)}
    signed_in(web, "desk")
    web.get("/app/recall?show=overdue")  # Olive is overdue
    events, total = services.search_audit(site.db, action="recall.read")
    assert total == 1
    (event,) = events
    assert event.patient_id is None
    assert f"show=overdue patients={entries[ids['Olive']]}" in event.detail
    assert "Recall" not in event.detail  # ids only, no names
    lena = entries[ids["Lena"]]
    assert services.search_audit(site.db, patient_id=lena, action="recall.")[1] == 0
    web.get("/app/recall?show=open")
    assert services.search_audit(site.db, patient_id=lena, action="recall.read")[1] == 1
    web.get("/app/recall?show=closed")  # nobody closed: nothing shown, nothing written
    assert services.search_audit(site.db, action="recall.read")[1] == 2

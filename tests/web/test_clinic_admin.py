"""The admin's clinic calendar page: in force, Check, Save (with confirmation when booked
appointments conflict), history and revert, the quick closure and leave forms, permissions,
CSRF, audit rows, and booking pages that follow a newly saved version without a restart."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from needleplan import services
from needleplan.domain.records import AppointmentStatus
from needleplan.services import clinic_calendar
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from . import booking_support
from .booking_support import MONDAY, ZONE, book_json, new_patient_body, signed_in
from .conftest import TEST_SECRET, TestClient, csrf_from, login

backend = booking_support.backend

BASE = """\
# Test clinic (this comment must survive the quick forms)
name = "Test Skin Clinic"
timezone = "Europe/Berlin"
preferred_start = "10:00"

[opening_hours]
monday    = ["09:00-18:00"]
tuesday   = ["09:00-18:00"]
wednesday = ["09:00-18:00"]
thursday  = ["09:00-18:00"]
friday    = ["09:00-18:00"]

[session_minutes]
default = 60

[[practitioners]]
name = "Alice Practitioner"

[[practitioners]]
name = "Bob Practitioner"
"""
SHORT_MONDAYS = BASE.replace('monday    = ["09:00-18:00"]', 'monday    = ["09:00-15:00"]')

FORMS = ["check", "save", "revert/1", "closure", "leave"]


@dataclass
class Site:
    app: FastAPI
    db: Database
    ids: dict[str, int]

    def book(self, day: date, hour: int, who: str = "Alice Practitioner") -> int:
        patient = services.register_patient(
            self.db,
            {
                "consent_treatment": True,
                "given_name": "Mia",
                "family_name": "Muster",
                "birth_date": "1970-01-01",
            },
            confirm_duplicate=True,  # one made-up patient per booking
        )
        start = datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)
        return services.book_appointment(
            self.db, patient.id, (start, start + timedelta(hours=1), self.ids[who])
        ).id


def make_app(users: InMemoryUserStore, db: Database) -> FastAPI:
    return create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=users,
        database=db,
    )


@pytest.fixture
def site(user_store: InMemoryUserStore, db: Database) -> Site:
    """A database-backed app that takes its calendar from the saved versions (none yet)."""
    ids = services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    return Site(make_app(user_store, db), db, ids)


@pytest.fixture
def web(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, base_url="http://testserver") as client:
        yield client


def admin(web: TestClient) -> str:
    login(web, "admin")
    return csrf_from(web.get("/app/admin/clinic").text)


def post(web: TestClient, path: str, token: str | None, **form: str) -> Any:
    data = dict(form)
    if token is not None:
        data["csrf_token"] = token
    return web.post(f"/app/admin/clinic/{path}", data=data, follow_redirects=False)


def message(page: str) -> str:
    found = re.search(r'id="(?:problem|notice)"[^>]*>(.*?)</p>', page, re.S)
    assert found, "page shows no message"
    return html.unescape(found.group(1))


def editor_text(page: str) -> str:
    found = re.search(r'<textarea id="toml" name="toml"[^>]*>(.*?)</textarea>', page, re.S)
    assert found
    return html.unescape(found.group(1))


def saved(db: Database) -> int:
    return len(clinic_calendar.clinic_config_history(db))


def clinic_audit(db: Database) -> list[Any]:
    """The configuration changes (saves and reverts) on the audit trail, newest first."""
    return [e for e in services.audit_log(db, limit=500) if e.action.startswith("clinic.config")]


def conflict_reads(db: Database) -> list[Any]:
    return [e for e in services.audit_log(db, limit=500) if e.action == "clinic.conflicts.read"]


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_every_role_but_admin_gets_the_403_page_and_changes_nothing(
    web: TestClient, site: Site, who: str
) -> None:
    token = signed_in(web, who)
    page = web.get("/app/admin/clinic")
    assert page.status_code == 403
    assert "does not give access" in page.text
    assert 'href="/app/admin/clinic"' not in web.get("/app/").text
    for path in FORMS:
        response = post(web, path, token, toml=BASE, start="2031-03-03", reason="x", confirm="yes")
        assert response.status_code == 403, path
    assert saved(site.db) == 0


def test_signed_out_visitors_are_sent_to_sign_in(web: TestClient, site: Site) -> None:
    response = web.get("/app/admin/clinic", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/app/admin/clinic"
    for path in FORMS:
        assert post(web, path, None, toml=BASE).status_code == 303
    assert saved(site.db) == 0


@pytest.mark.parametrize("path", FORMS)
def test_every_form_needs_the_csrf_token(web: TestClient, site: Site, path: str) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    admin(web)
    form = {"toml": BASE, "start": "2031-03-03", "reason": "x", "confirm": "yes"}
    form["practitioner"] = "Alice Practitioner"
    assert post(web, path, None, **form).status_code == 403
    assert post(web, path, "0" * 64, **form).status_code == 403
    assert saved(site.db) == 1


def test_admins_see_the_nav_link_and_the_bundled_example_until_a_version_is_saved(
    web: TestClient,
) -> None:
    admin(web)
    assert 'href="/app/admin/clinic">Clinic</a>' in web.get("/app/").text
    page = web.get("/app/admin/clinic").text
    assert "the bundled example clinic (no version saved in the app yet)" in page
    assert "Example Skin Clinic" in page
    assert "Dr. Aylin Kaya" in page
    assert editor_text(page) == clinic_calendar.bundled_clinic_toml()
    assert "No version saved in the app yet" in page


# --------------------------------------------------------------------------- check and save


def test_check_shows_the_draft_and_its_conflicts_and_saves_nothing(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    late = site.book(MONDAY, 16)
    site.book(MONDAY, 10)  # still fits
    token = admin(web)
    response = post(web, "check", token, toml=SHORT_MONDAYS, note="shorter Mondays")
    assert response.status_code == 200
    page = response.text
    assert message(page).startswith("The draft is valid. Nothing was saved.")
    assert "1 booked appointment(s) would conflict" in message(page)
    conflicts = re.search(r'<table class="table" id="draft-conflicts">(.*?)</table>', page, re.S)
    assert conflicts
    assert f"<td>{late}</td>" in conflicts.group(1)
    assert "Mia Muster" in conflicts.group(1)
    assert "outside Alice Practitioner&#39;s working hours" in conflicts.group(1)
    assert f'href="/app/appointments/{late}/move"' in conflicts.group(1)
    assert "09:00-15:00" in page  # the draft's summary
    assert editor_text(page) == SHORT_MONDAYS
    assert 'value="shorter Mondays"' in page
    assert saved(site.db) == 1
    # showing her in the conflict list is on her audit trail (L3): one event naming the patients
    with site.db.transaction() as uow:
        shown_patient = uow.appointments.get(late).patient_id
    [read] = conflict_reads(site.db)
    assert read.patient_id is None
    assert read.detail.startswith(f"draft new shown=1 of 1 patients={shown_patient}")
    assert "user=admin" in read.detail  # this site's admin is not a database account
    hers, _ = services.search_audit(site.db, patient_id=shown_patient)
    assert "clinic.conflicts.read" in [e.action for e in hers]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = \n", "toml: is not valid TOML: Invalid value (at line 1, column 8) (got 'name =')"),
        (BASE.replace("Europe/Berlin", "Mars/Base"), "timezone: 'Mars/Base' is not an IANA time zone"),
        ("shoe_size = 9\n" + BASE, "shoe_size: unknown field (got 9)"),
        (BASE.replace('"09:00-18:00"', '"09:00-25:00"', 1),
         "opening_hours.monday.0: 25:00 is not a time of day (got '09:00-25:00')"),
    ],
    ids=["not-toml", "timezone", "unknown-key", "bad-span"],
)  # fmt: skip
@pytest.mark.parametrize("path", ["check", "save"])
def test_a_bad_draft_is_refused_with_key_value_and_rule_keeping_the_text(
    web: TestClient, site: Site, text: str, expected: str, path: str
) -> None:
    token = admin(web)
    response = post(web, path, token, toml=text, note="my note", confirm="yes")
    assert response.status_code == 422
    assert expected in message(response.text)
    assert editor_text(response.text) == text
    assert 'value="my note"' in response.text
    assert saved(site.db) == 0
    assert clinic_audit(site.db) == []


def test_save_without_conflicts_puts_the_version_in_force_with_an_audit_row(
    web: TestClient, site: Site
) -> None:
    token = admin(web)
    response = post(web, "save", token, toml=BASE, note="our own calendar", base_version="")
    assert response.status_code == 201
    assert message(response.text) == "Saved version 1; it is in force now."
    page = web.get("/app/admin/clinic").text
    assert re.search(r"saved version 1 \(by admin, \d{4}-\d\d-\d\d \d\d:\d\d [A-Z+0-9-]+\)", page)
    assert "“our own calendar”" in page
    assert "Test Skin Clinic" in page
    assert editor_text(page) == BASE
    assert 'name="base_version" value="1"' in page
    (event,) = clinic_audit(site.db)
    assert (event.action, event.patient_id, event.username) == ("clinic.config.save", None, "admin")
    assert event.detail.startswith("version 1; 0 booked appointments conflict")


def test_conflicting_save_needs_the_confirmation_and_the_appointments_stay_booked(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    late = site.book(MONDAY, 16)
    token = admin(web)
    refused = post(web, "save", token, toml=SHORT_MONDAYS, base_version="1")
    assert refused.status_code == 409
    assert message(refused.text).startswith(
        "Nothing saved: 1 booked appointment would conflict with this change"
    )
    assert f"<td>{late}</td>" in refused.text
    assert editor_text(refused.text) == SHORT_MONDAYS
    assert saved(site.db) == 1

    done = post(web, "save", token, toml=SHORT_MONDAYS, base_version="1", confirm="yes")
    assert done.status_code == 201
    assert "1 booked appointment conflicts with it: they stay booked" in message(done.text)
    assert saved(site.db) == 2
    with site.db.transaction() as uow:
        assert uow.appointments.get(late).status is AppointmentStatus.BOOKED
    to_move = re.search(r'<table class="table" id="to-move-list">(.*?)</table>', done.text, re.S)
    assert to_move
    assert f'href="/app/appointments/{late}/move"' in to_move.group(1)
    assert "1 booked appointments conflict" in clinic_audit(site.db)[0].detail
    # the refused save listed her, the confirmed one again, and so does the page's
    # "Appointments to move" afterwards
    scopes = [e.detail.split(" shown=")[0] for e in reversed(conflict_reads(site.db))]
    assert scopes == ["draft new", "draft new", "to move"]


def test_appointments_the_calendar_in_force_already_refuses_need_no_confirmation(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, SHORT_MONDAYS, "setup")
    already = site.book(MONDAY, 16)
    token = admin(web)
    response = post(
        web, "save", token, toml=SHORT_MONDAYS.replace("Test Skin", "Our"), base_version="1"
    )
    assert response.status_code == 201
    assert "conflict" not in message(response.text)
    assert f"<td>{already}</td>" in response.text  # still listed under appointments to move


def test_a_save_over_a_newer_version_is_refused_then_accepted_when_repeated(
    web: TestClient, site: Site
) -> None:
    token = admin(web)
    clinic_calendar.save_clinic_config(site.db, BASE, "colleague")  # saved while editing
    response = post(web, "save", token, toml=SHORT_MONDAYS, base_version="")
    assert response.status_code == 409
    assert "version 1 was saved by colleague" in message(response.text)
    assert editor_text(response.text) == SHORT_MONDAYS
    assert 'name="base_version" value="1"' in response.text
    assert saved(site.db) == 1
    again = post(web, "save", token, toml=SHORT_MONDAYS, base_version="1")
    assert again.status_code == 201
    assert saved(site.db) == 2


# --------------------------------------------------------------------------- history and revert


def test_history_and_revert_append_a_copy_with_an_audit_row(web: TestClient, site: Site) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup", "first")
    clinic_calendar.save_clinic_config(site.db, BASE.replace("Test Skin", "Renamed"), "x", "2nd")
    token = admin(web)
    page = web.get("/app/admin/clinic").text
    history = re.search(r'<section class="card" id="history">(.*?)</section>', page, re.S)
    assert history
    assert re.search(r"<td>2 <strong>\(in force\)</strong></td>", history.group(1))
    assert 'action="/app/admin/clinic/revert/1"' in history.group(1)
    assert 'action="/app/admin/clinic/revert/2"' not in history.group(1)
    response = post(web, "revert/1", token)
    assert response.status_code == 201
    assert message(response.text) == "Version 1 is back in force (saved again as version 3)."
    eff = clinic_calendar.effective_clinic(site.db)
    assert (eff.version_id, eff.clinic.name) == (3, "Test Skin Clinic")
    event = clinic_audit(site.db)[0]
    assert (event.action, event.patient_id) == ("clinic.config.revert", None)
    assert "copy of version 1" in event.detail
    assert post(web, "revert/99", token).status_code == 404
    assert saved(site.db) == 3


def test_a_conflicting_revert_asks_for_confirmation(web: TestClient, site: Site) -> None:
    clinic_calendar.save_clinic_config(site.db, SHORT_MONDAYS, "setup")
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    late = site.book(MONDAY, 16)
    token = admin(web)
    refused = post(web, "revert/1", token)
    assert refused.status_code == 409
    assert f"<td>{late}</td>" in refused.text
    assert 'id="revert-confirm"' in refused.text
    assert saved(site.db) == 2
    assert post(web, "revert/1", token, confirm="yes").status_code == 201
    assert saved(site.db) == 3


# --------------------------------------------------------------------------- quick forms


def test_a_closure_from_the_quick_form_is_a_new_version_keeping_the_comments(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    token = admin(web)
    response = post(
        web, "closure", token, start="2031-05-01", end="2031-05-02", reason="staff training"
    )
    assert response.status_code == 201
    assert "2031-05-01 to 2031-05-02 (staff training)" in response.text
    version = clinic_calendar.clinic_config_history(site.db)[0]
    assert version.id == 2
    assert version.note == "closure 2031-05-01 to 2031-05-02: staff training"
    assert version.toml.startswith("# Test clinic (this comment must survive the quick forms)")
    (event,) = [e for e in clinic_audit(site.db) if "closure" in e.detail]
    assert event.action == "clinic.config.save"


def test_a_closure_over_a_booked_appointment_needs_the_confirmation(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    booked = site.book(MONDAY, 10)
    token = admin(web)
    refused = post(web, "closure", token, start=MONDAY.isoformat(), reason="flood")
    assert refused.status_code == 409
    assert "clinic closure (flood)" in refused.text
    assert f"<td>{booked}</td>" in refused.text
    assert f'value="{MONDAY.isoformat()}"' in refused.text
    assert 'value="flood"' in refused.text
    assert saved(site.db) == 1
    done = post(web, "closure", token, start=MONDAY.isoformat(), reason="flood", confirm="yes")
    assert done.status_code == 201
    assert saved(site.db) == 2


def test_leave_from_the_quick_form_applies_to_that_practitioner(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    token = admin(web)
    response = post(
        web,
        "leave",
        token,
        practitioner="Bob Practitioner",
        start="2031-06-02",
        end="2031-06-13",
        reason="parental leave",
    )
    assert response.status_code == 201
    config = clinic_calendar.effective_clinic(site.db).clinic
    (off,) = config.practitioner("Bob Practitioner").days_off
    assert (off.start, off.end, off.reason) == (
        date(2031, 6, 2),
        date(2031, 6, 13),
        "parental leave",
    )
    assert config.practitioner("Alice Practitioner").days_off == []


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("closure", {"start": "", "reason": "x"}, "start"),
        ("closure", {"start": "1st of May", "reason": "x"}, "start"),
        ("closure", {"start": "2031-05-02", "end": "2031-05-01", "reason": "x"}, "end"),
        ("closure", {"start": "2031-05-02", "reason": ""}, "reason"),
        ("leave", {"practitioner": "Zed", "start": "2031-05-02", "reason": "x"}, "practitioner"),
    ],
)
def test_bad_quick_form_input_re_renders_with_the_message_and_what_was_typed(
    web: TestClient, site: Site, path: str, form: dict[str, str], field: str
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    token = admin(web)
    response = post(web, path, token, **form)
    assert response.status_code == 422
    assert message(response.text).startswith(f"{field}: ")
    for value in form.values():
        if value and value != "Zed":
            assert f'value="{value}"' in response.text
    assert saved(site.db) == 1


# --------------------------------------------------------------------------- in force at once


def test_booking_and_calendar_use_a_newly_saved_version_without_a_restart(
    web: TestClient, site: Site
) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")
    token = signed_in(web, "prac")
    names = [p["name"] for p in web.get("/app/booking/options").json()["practitioners"]]
    assert names == ["Alice Practitioner", "Bob Practitioner"]
    first = book_json(web, token, new_patient_body(MONDAY))
    assert first.status_code == 201, first.text
    assert first.json()["sessions"][0]["start"].startswith(MONDAY.isoformat())

    # Another process (here: the service directly) saves a closure for that week and a new
    # practitioner; the running app uses them on the next request.
    text = clinic_calendar.with_closure(
        BASE + '\n[[practitioners]]\nname = "Carol Practitioner"\n',
        MONDAY,
        MONDAY + timedelta(days=6),
        "refurbishment",
    )
    clinic_calendar.save_clinic_config(site.db, text.replace("Europe/Berlin", "Europe/Lisbon"), "x")
    names = [p["name"] for p in web.get("/app/booking/options").json()["practitioners"]]
    assert names == ["Alice Practitioner", "Bob Practitioner", "Carol Practitioner"]
    second = book_json(web, token, new_patient_body(MONDAY))
    assert second.status_code == 201, second.text
    starts = [s["start"] for s in second.json()["sessions"]]
    assert starts[0] >= (MONDAY + timedelta(days=7)).isoformat()
    assert second.json()["timezone"] == "Europe/Lisbon"
    assert "times in Europe/Lisbon" in web.get("/app/calendar").text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_second_worker_picks_up_a_version_saved_through_the_first(
    user_store: InMemoryUserStore, db: Database, backend: str
) -> None:
    services.sync_practitioners(db, clinic_calendar.parse_clinic_toml(BASE))
    one, two = make_app(user_store, db), make_app(user_store, db)
    with (
        TestClient(one, base_url="http://testserver") as a,
        TestClient(two, base_url="http://testserver") as b,
    ):
        signed_in(b, "desk")
        assert "times in Europe/Berlin" in b.get("/app/calendar").text  # the bundled example
        token = admin(a)
        lisbon = BASE.replace("Europe/Berlin", "Europe/Lisbon")
        assert post(a, "save", token, toml=lisbon).status_code == 201
        assert "times in Europe/Lisbon" in b.get("/app/calendar").text
        assert b.app.state.clinic_cache.version_id == 1


def test_a_clinic_set_by_the_application_wins_and_the_page_says_so(
    web: TestClient, site: Site
) -> None:
    fixed = booking_support.clinic_config(timezone="Asia/Tokyo")
    site.app.state.clinic = fixed
    token = admin(web)
    assert post(web, "save", token, toml=BASE).status_code == 201
    page = web.get("/app/admin/clinic").text
    assert 'id="override"' in page
    signed_in(web, "desk")
    assert "times in Asia/Tokyo" in web.get("/app/calendar").text


def test_a_saved_version_that_no_longer_validates_is_shown_for_correction(
    web: TestClient, site: Site
) -> None:
    from needleplan.storage.clinic_configs import ClinicConfigRepository

    broken = BASE.replace("default = 60", "default = 1000")
    with site.db.transaction() as uow:
        ClinicConfigRepository(uow.session).add(broken, "", datetime.now(ZONE), None, "old")
    token = admin(web)
    page = web.get("/app/admin/clinic")
    assert page.status_code == 200
    assert "clinic calendar version 1: session_minutes" in html.unescape(page.text)
    assert editor_text(page.text) == broken
    assert post(web, "save", token, toml=BASE, base_version="1").status_code == 201
    assert clinic_calendar.effective_clinic(site.db).version_id == 2


def test_a_database_account_is_recorded_with_its_id(db: Database) -> None:
    """With the database's own accounts, the version and the audit row carry the user id."""
    user = services.create_user(db, "chief", "chief-password-1", "admin")
    app = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        database=db,
    )
    with TestClient(app, base_url="http://testserver") as client:
        login(client, "chief", "chief-password-1")
        token = csrf_from(client.get("/app/admin/clinic").text)
        assert post(client, "save", token, toml=BASE).status_code == 201
    version = clinic_calendar.clinic_config_history(db)[0]
    assert (version.user_id, version.username) == (user.id, "chief")
    (event,) = clinic_audit(db)
    assert (event.user_id, event.username) == (user.id, "chief")

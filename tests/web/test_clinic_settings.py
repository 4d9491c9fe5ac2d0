"""The admin's clinic settings forms: each form saves a new calendar version (audited), refuses
bad input beside the field, lists the booked appointments a change would break and saves them
only when confirmed; admins only; the logo upload (PNG/JPEG, SVG refused, size-limited) is
served on a public path; visit lengths drive find-a-slot."""

from __future__ import annotations

import html
import io
import re
from datetime import date
from typing import Any

import pytest
from PIL import Image

from needleplan.services import clinic_calendar, clinic_identity
from needleplan.services.clinic_calendar_slots import find_free_slots

from . import booking_support
from .booking_support import MONDAY, signed_in
from .conftest import TestClient, csrf_from, login
from .test_clinic_admin import BASE, Site, clinic_audit, saved, site, web

backend = booking_support.backend
__all__ = ["backend", "site", "web"]  # fixtures shared with the TOML editor's tests

HOURS = {
    "monday": "09:00-18:00",
    "tuesday": "09:00-18:00",
    "wednesday": "09:00-18:00",
    "thursday": "09:00-18:00",
    "friday": "09:00-18:00",
}
#: One valid filled form per section (the practitioner add form included).
FORMS: dict[str, dict[str, Any]] = {
    "hours": HOURS,
    "visits": {"consultation": "20", "session": "50", "maintenance": "40", "review": "15"},
    "prices": {"initial_session": "350", "maintenance_session": "299.50", "currency": "EUR"},
    "closures": {"start": "2031-04-07", "end": "2031-04-08", "reason": "training"},
    "recall": {"recall_threshold": "6.5"},
    "identity": {
        "name": "Haut & Zeit Klinik",
        "location": "Hauptstraße 5, 10827 Berlin",
        "phone": "+49 30 123456",
        "email": "desk@hautundzeit.example",
        "website": "https://hautundzeit.example",
    },
    "practitioners": {"name": "Carla New", "tuesday": "10:00-14:00"},
}


def setup(site: Site) -> None:
    clinic_calendar.save_clinic_config(site.db, BASE, "setup")


def admin(web: TestClient) -> str:
    login(web, "admin")
    return csrf_from(web.get("/app/admin/settings").text)


def post(
    web: TestClient, site: Site, path: str, token: str | None, files: Any = None, **form: Any
) -> Any:
    """Post a settings form as the page does: from the version in force unless told."""
    data = dict(form)
    if "base_version" not in data:
        newest = clinic_calendar.newest_clinic_version_id(site.db)
        data["base_version"] = "" if newest is None else str(newest)
    if token is not None:
        data["csrf_token"] = token
    return web.post(f"/app/admin/settings/{path}", data=data, files=files, follow_redirects=False)


def in_force(site: Site) -> Any:
    return clinic_calendar.effective_clinic(site.db).clinic


def field_error(page: str, name: str) -> str:
    found = re.search(rf'class="field-error" role="alert" data-field="{name}">(.*?)</span>', page)
    assert found, f"no message beside {name}"
    return html.unescape(found.group(1))


def png(size: tuple[int, int] = (40, 20), kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format=kind)
    return out.getvalue()


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_see_or_post_the_forms(web: TestClient, site: Site, who: str) -> None:
    setup(site)
    token = signed_in(web, who)
    assert web.get("/app/admin/settings").status_code == 403
    assert 'href="/app/admin/settings"' not in web.get("/app/").text
    for path, form in [*FORMS.items(), ("practitioners/0", {"current": "Alice Practitioner"})]:
        assert post(web, site, path, token, **form, confirm="yes").status_code == 403, path
    assert saved(site.db) == 1


def test_signed_out_visitors_are_sent_to_sign_in(web: TestClient, site: Site) -> None:
    response = web.get("/app/admin/settings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/app/admin/settings"
    assert post(web, site, "hours", None, **HOURS).status_code == 303


@pytest.mark.parametrize("path", [*FORMS, "practitioners/0"])
def test_every_form_needs_the_csrf_token(web: TestClient, site: Site, path: str) -> None:
    setup(site)
    admin(web)
    form = FORMS.get(path, {"current": "Alice Practitioner"})
    assert post(web, site, path, None, **form).status_code == 403
    assert post(web, site, path, "0" * 64, **form).status_code == 403
    assert saved(site.db) == 1


def test_an_unknown_section_is_404(web: TestClient, site: Site) -> None:
    token = admin(web)
    assert post(web, site, "timezone", token, timezone="UTC").status_code == 404


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize("path", list(FORMS))
def test_each_form_saves_one_audited_version(web: TestClient, site: Site, path: str) -> None:
    setup(site)
    token = admin(web)
    response = post(web, site, path, token, base_version="1", **FORMS[path])
    assert response.status_code == 201, response.text
    assert "Saved version 2; it is in force now." in response.text
    assert saved(site.db) == 2
    newest = clinic_calendar.clinic_config_history(site.db)[0]
    assert newest.username == "admin"
    assert newest.note.startswith("settings: ")
    assert newest.toml.startswith("# Test clinic (this comment must survive the quick forms)")
    audit = clinic_audit(site.db)[0]
    assert audit.action == "clinic.config.save"
    assert audit.detail.startswith(f"version 2; settings {path.rstrip('s')}")


def test_the_saved_values_are_in_force(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    for path, form in FORMS.items():
        assert post(web, site, path, token, **form).status_code == 201, path
    clinic = in_force(site)
    assert [str(s) for s in clinic.opening_hours[next(iter(clinic.opening_hours))]] == [
        "09:00-18:00"
    ]
    assert clinic.visit_minutes.consultation == 20
    assert clinic.visit_minutes.review == 15
    assert clinic.prices is not None
    assert clinic.prices.maintenance_session == 299.5
    assert [(c.start, c.end, c.reason) for c in clinic.closures] == [
        (date(2031, 4, 7), date(2031, 4, 8), "training")
    ]
    assert clinic.recall_threshold == 6.5
    assert (clinic.name, clinic.phone, clinic.website) == (
        "Haut & Zeit Klinik",
        "+49 30 123456",
        "https://hautundzeit.example",
    )
    carla = clinic.practitioner("Carla New")
    assert carla.hours is not None
    assert [str(s) for s in carla.hours.values() for s in s] == ["10:00-14:00"]
    page = web.get("/app/admin/settings").text
    assert 'value="Haut &amp; Zeit Klinik"' in page
    assert "Carla New" in page


def test_hours_with_a_break_and_a_closed_day(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    form = {**HOURS, "monday": "09:00-13:00, 14:00-18:00", "friday": ""}
    assert post(web, site, "hours", token, **form).status_code == 201
    hours = {d.value: [str(s) for s in spans] for d, spans in in_force(site).opening_hours.items()}
    assert hours["monday"] == ["09:00-13:00", "14:00-18:00"]
    assert "friday" not in hours


def test_a_practitioner_gets_hours_and_days_off_then_is_deactivated(
    web: TestClient, site: Site
) -> None:
    setup(site)
    token = admin(web)
    form = {"current": "Bob Practitioner", "wednesday": "12:00-16:00"}
    form |= {"off_start": "2031-05-04", "off_end": "2031-05-08", "off_reason": "leave"}
    assert post(web, site, "practitioners/1", token, **form).status_code == 201
    bob = in_force(site).practitioner("Bob Practitioner")
    assert bob.hours is not None
    assert list(bob.hours) == ["wednesday"]
    assert [(o.start, o.end, o.reason) for o in bob.days_off] == [
        (date(2031, 5, 4), date(2031, 5, 8), "leave")
    ]
    removed = {"current": "Bob Practitioner", "wednesday": "12:00-16:00", "remove_off": "0"}
    assert post(web, site, "practitioners/1", token, **removed).status_code == 201
    assert in_force(site).practitioner("Bob Practitioner").days_off == []
    gone = {"current": "Bob Practitioner", "action": "deactivate"}
    assert post(web, site, "practitioners/1", token, **gone).status_code == 201
    assert [p.name for p in in_force(site).practitioners] == ["Alice Practitioner"]
    last = post(
        web, site, "practitioners/0", token, current="Alice Practitioner", action="deactivate"
    )
    assert last.status_code == 422
    assert "the clinic needs at least one practitioner" in field_error(last.text, "name")


def test_a_stale_practitioner_form_is_refused(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    response = post(web, site, "practitioners/1", token, current="Alice Practitioner")
    assert response.status_code == 422
    assert "the list changed meanwhile; reload the page" in response.text
    assert saved(site.db) == 1


def test_a_form_from_an_older_version_is_refused_with_409(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    clinic_calendar.save_clinic_config(site.db, BASE, "someone else")
    response = post(web, site, "recall", token, base_version="1", recall_threshold="7")
    assert response.status_code == 409
    assert "the clinic calendar changed while you edited it" in response.text
    assert saved(site.db) == 2


# --------------------------------------------------------------------------- validation


BAD = [
    ("hours", {**HOURS, "monday": "9-18"}, "monday", "must be times like 09:00-13:00"),
    ("hours", {**HOURS, "tuesday": "09:00-13:00, 12:00-18:00"}, "tuesday", "overlap"),
    ("hours", {d: "" for d in HOURS}, "monday", "must be open on at least one day"),
    ("hours", {**HOURS, "friday": "18:00-09:00"}, "friday", "must be times like"),
    ("visits", {**FORMS["visits"], "review": "2"}, "review", "from 5 to 480"),
    ("visits", {**FORMS["visits"], "session": "abc"}, "session", "whole number of minutes"),
    ("prices", {**FORMS["prices"], "currency": "euro"}, "currency", "3-letter ISO 4217"),
    ("prices", {**FORMS["prices"], "initial_session": "-5"}, "initial_session", "more than 0"),
    ("closures", {"start": "", "end": "2031-01-01"}, "start", "must be the first day"),
    ("closures", {"start": "2031-01-05", "end": "2031-01-01"}, "end", "on or after"),
    ("closures", {"start": "05.01.2031"}, "start", "a date like 2027-03-01"),
    ("closures", {"remove": "7"}, "remove", "must be a listed entry"),
    ("recall", {"recall_threshold": "150"}, "recall_threshold", "below 100"),
    ("identity", {**FORMS["identity"], "phone": "call us"}, "phone", "a phone number is digits"),
    ("identity", {**FORMS["identity"], "email": "desk"}, "email", "an e-mail address looks"),
    ("identity", {**FORMS["identity"], "website": "javascript:alert(1)"}, "website", "https://"),
    ("identity", {**FORMS["identity"], "name": " "}, "name", "must not be empty"),
    ("practitioners", {"name": "Alice Practitioner"}, "name", "is already a practitioner"),
    ("practitioners", {"name": ""}, "name", "must not be empty"),
    ("practitioners", {"name": "X", "off_end": "2031-01-01"}, "off_start", "the first day"),
]


@pytest.mark.parametrize(("path", "form", "field", "rule"), BAD)
def test_bad_input_is_named_beside_its_field_and_nothing_is_saved(
    web: TestClient, site: Site, path: str, form: dict[str, str], field: str, rule: str
) -> None:
    setup(site)
    token = admin(web)
    response = post(web, site, path, token, **form)
    assert response.status_code == 422
    assert "Nothing saved: 1 problem (beside the field below)." in response.text
    message = field_error(response.text, field)
    assert rule in message
    assert message.startswith(f"{field}: ")
    assert saved(site.db) == 1


def test_a_refused_form_keeps_what_was_typed(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    form = {**FORMS["identity"], "email": "desk", "phone": "+49 30 99"}
    page = post(web, site, "identity", token, **form).text
    assert 'name="phone" value="+49 30 99"' in page
    assert 'name="email" value="desk"' in page


def test_hostile_input_is_refused_never_a_500(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    for path, form in [
        ("identity", {**FORMS["identity"], "name": "A\nB"}),
        ("identity", {**FORMS["identity"], "location": "x" * 5000}),
        ("hours", {**HOURS, "monday": "\x00"}),
        ("recall", {"recall_threshold": "nan"}),
        ("prices", {**FORMS["prices"], "initial_session": "inf"}),
        ("practitioners/99", {"current": "Nobody"}),
        ("practitioners/0", {"current": "Alice Practitioner", "action": "drop"}),
    ]:
        response = post(web, site, path, token, **form)
        assert response.status_code == 422, (path, response.text[:300])
    assert saved(site.db) == 1


# --------------------------------------------------------------------------- conflicts


def test_a_change_that_breaks_bookings_lists_them_and_needs_confirmation(
    web: TestClient, site: Site
) -> None:
    setup(site)
    late = site.book(MONDAY, 16)
    site.book(MONDAY, 10)  # still fits
    token = admin(web)
    form = {**HOURS, "monday": "09:00-15:00"}
    refused = post(web, site, "hours", token, **form)
    assert refused.status_code == 409
    assert "1 booked appointment would conflict" in refused.text
    table = re.search(r'id="settings-conflicts">(.*?)</table>', refused.text, re.S)
    assert table
    assert f">{late}<" in table.group(1)
    assert saved(site.db) == 1
    assert 'name="monday" value="09:00-15:00"' in refused.text
    confirmed = post(web, site, "hours", token, **form, confirm="yes")
    assert confirmed.status_code == 201
    assert "1 booked appointment conflicts with it" in confirmed.text
    assert saved(site.db) == 2
    assert "1 booked appointments conflict" in clinic_audit(site.db)[0].detail
    listed = clinic_calendar.affected_appointments(site.db, in_force(site))
    assert [a.appointment.id for a in listed] == [late]


def test_deactivating_a_booked_practitioner_lists_her_bookings(web: TestClient, site: Site) -> None:
    setup(site)
    booked = site.book(MONDAY, 11, "Bob Practitioner")
    token = admin(web)
    gone = {"current": "Bob Practitioner", "action": "deactivate"}
    refused = post(web, site, "practitioners/1", token, **gone)
    assert refused.status_code == 409
    assert "is not a practitioner in this calendar" in refused.text
    assert f">{booked}<" in refused.text
    assert post(web, site, "practitioners/1", token, **gone, confirm="yes").status_code == 201


# --------------------------------------------------------------------------- logo and identity


def test_a_png_logo_is_stored_privately_and_served_publicly(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    files = {"logo": ("logo.png", png(), "image/png")}
    response = post(web, site, "identity", token, files=files, **FORMS["identity"])
    assert response.status_code == 201, response.text
    identity = clinic_identity.clinic_identity(in_force(site))
    assert identity.logo_url.startswith("/clinic/logo/")
    assert identity.logo_url.endswith(".png")
    assert f'src="{identity.logo_url}"' in response.text
    web.post("/logout", data={"csrf_token": csrf_from(response.text)})
    served = web.get(identity.logo_url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(served.content)).size == (40, 20)
    assert web.get("/clinic/logo/" + "0" * 64 + ".png").status_code == 404
    assert web.get("/clinic/logo/..%2Fetc%2Fpasswd").status_code == 404


def test_a_jpeg_logo_is_re_encoded_and_can_be_removed(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    files = {"logo": ("logo.jpg", png(kind="JPEG"), "image/jpeg")}
    assert post(web, site, "identity", token, files=files, **FORMS["identity"]).status_code == 201
    assert in_force(site).logo.endswith(".jpg")
    assert post(web, site, "identity", token, **FORMS["identity"]).status_code == 201
    assert in_force(site).logo.endswith(".jpg")  # no upload: the logo stays
    removed = post(web, site, "identity", token, **FORMS["identity"], remove_logo="yes")
    assert removed.status_code == 201
    assert in_force(site).logo == ""


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


@pytest.mark.parametrize(
    ("name", "data", "rule"),
    [
        ("logo.svg", SVG, "SVG is refused"),
        ("logo.png", b"<svg onload='x'></svg>", "SVG is refused"),
        ("logo.png", b"GIF89a" + b"\x00" * 50, "must be a PNG or JPEG image"),
        ("logo.png", b"\x89PNG\r\n\x1a\nbroken", "must be a PNG or JPEG image"),
        ("big.png", b"\x89PNG" + b"\x00" * (clinic_identity.MAX_LOGO_BYTES + 10), "at most 512 KB"),
        ("wide.png", None, "at most 2000 pixels"),
    ],
)
def test_bad_logos_are_refused_beside_the_field(
    web: TestClient, site: Site, name: str, data: bytes | None, rule: str
) -> None:
    setup(site)
    token = admin(web)
    body = data if data is not None else png((2400, 10))
    files = {"logo": (name, body, "image/png")}
    response = post(web, site, "identity", token, files=files, **FORMS["identity"])
    assert response.status_code in (413, 422), response.text[:300]
    if response.status_code == 422:
        assert rule in field_error(response.text, "logo")
    assert saved(site.db) == 1


def test_clinic_identity_is_what_other_pages_call() -> None:
    clinic = clinic_calendar.parse_clinic_toml(
        BASE.replace(
            'timezone = "Europe/Berlin"',
            'timezone = "Europe/Berlin"\nphone = "+49 (30) 123-45"\nemail = "a@b.example"\n'
            'website = "https://b.example"\nlocation = "Weg 1"',
        )
    )
    identity = clinic_identity.clinic_identity(clinic)
    assert identity.name == "Test Skin Clinic"
    assert identity.address == "Weg 1"
    assert identity.phone_link == "tel:+493012345"
    assert (identity.email, identity.website, identity.logo_url) == (
        "a@b.example",
        "https://b.example",
        "",
    )


def test_visit_lengths_drive_find_a_slot(web: TestClient, site: Site) -> None:
    setup(site)
    token = admin(web)
    assert post(web, site, "visits", token, **FORMS["visits"]).status_code == 201
    clinic = in_force(site)
    slots = find_free_slots(site.db, clinic, "consultation", not_before=MONDAY, limit=1)
    assert (slots[0].end - slots[0].start).total_seconds() == 30 * 60  # 20 min on a 15-min grid
    sessions = find_free_slots(site.db, clinic, "session", not_before=MONDAY, limit=1)
    assert (sessions[0].end - sessions[0].start).total_seconds() == 60 * 60  # 50 -> 60
    reviews = find_free_slots(site.db, clinic, "review", not_before=MONDAY, limit=1)
    assert (reviews[0].end - reviews[0].start).total_seconds() == 15 * 60

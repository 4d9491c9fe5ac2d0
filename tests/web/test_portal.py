"""The patient portal over HTTP: every route with a good link, and refused with a wrong-purpose,
expired, revoked, tampered or unknown link, and past the rate limit (docs/messages.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.domain.records import AppointmentStatus, RecallStatus
from needleplan.services import portal, portal_links
from needleplan.services.messaging.log import message_log
from needleplan.storage import Database
from needleplan.web.ratelimit import TokenBucketLimiter

from . import booking_support
from .booking_support import Clinic
from .conftest import TestClient, csrf_from
from .portal_support import PHONE, book_nora, link, psite, pweb, soon_visit

backend = booking_support.backend
__all__ = ["psite", "pweb"]


def _queued(db: Database, patient_id: int) -> list[MessageKind]:
    return [m.kind for m in message_log(db, None, patient_id)]


def _actions(db: Database, patient_id: int) -> list[tuple[str, str, str]]:
    return [(e.action, e.username, e.detail) for e in services.audit_log(db, patient_id=patient_id)]


def _form(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


def test_her_link_shows_her_plan_and_dates_and_is_audited_as_the_patient(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, link_id = link(psite, nora.patient_id)
    page = pweb.get(f"/p/{token}")
    assert page.status_code == 200
    assert "Hello Nora" in page.text
    assert "5 microneedling sessions" in page.text
    assert page.text.count('class="visit"') == 5
    assert "Monday 3 March 2031, 10:00" in page.text
    assert "Staff sign-in" not in page.text
    assert "/app/" not in page.text
    assert PHONE in page.text
    assert page.headers["cache-control"] == "no-store, private"
    events = _actions(psite.db, nora.patient_id)
    assert ("portal.read", "patient-link", f"overview link={link_id}") in events
    (stored,) = [
        li for li in portal_links.patient_links(psite.db, None, nora.patient_id) if li.id == link_id
    ]
    assert stored.uses == 1
    assert stored.last_used_at is not None


#: Every portal route (the ``book`` page is a link of its own purpose, tested below).
ROUTES = (
    "",
    "/forecast",
    "/handout.pdf",
    "/visits/{visit}/cancel",
    "/visits/{visit}/move",
    "POST /visits/{visit}/confirm",
    "POST /visits/{visit}/cancel",
    "POST /visits/{visit}/move",
    "POST /visits/{visit}/move/save",
    "POST /callback",
)


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        ("tampered", 404, "This link is not known"),
        ("unknown", 404, "This link is not known"),
        ("malformed", 404, "This link is not known"),
        ("expired", 410, "This link has expired"),
        ("revoked", 410, "This link no longer works"),
        ("wrong-purpose", 403, "This link opens a different page"),
    ],
)
def test_every_portal_route_refuses_a_bad_link_with_a_plain_page(
    pweb: TestClient, psite: Clinic, make: str, status: int, words: str
) -> None:
    nora = book_nora(pweb, psite)
    visit = nora.appointments[1]
    if make == "expired":
        token, _ = link(psite, nora.patient_id, at=datetime.now(UTC) - timedelta(days=61))
    elif make == "wrong-purpose":
        token, _ = link(psite, nora.patient_id, "book")
    else:
        token, link_id = link(psite, nora.patient_id)
        if make == "revoked":
            portal_links.revoke_link(psite.db, None, link_id)
        elif make == "tampered":
            token = token[:-1] + ("A" if token[-1] != "A" else "B")
        elif make == "unknown":
            token = "x" * 43
        elif make == "malformed":
            token = quote("'\"<b>%00" * 5, safe="")
    csrf = _form(pweb, "/estimate")
    for path in ROUTES:
        method, _, rest = path.rpartition(" ")
        url = f"/p/{token}{rest.format(visit=visit.id)}"
        if method == "POST":
            data = {"csrf_token": csrf, "slot": "1@2031-04-01T10:00:00+02:00", "move": "x"}
            response = pweb.post(url, data=data)
        else:
            response = pweb.get(url)
        assert response.status_code == status, (url, response.text[:300])
        assert words in response.text, url
        assert "Traceback" not in response.text
        assert 'id="refused"' in response.text
    after = services.get_appointment(psite.db, visit.id)
    assert (after.start, after.status) == (visit.start, visit.status)  # nothing changed
    assert message_log(psite.db, None, nora.patient_id)[0].kind is MessageKind.COURSE_BOOKED


def test_a_book_link_opens_only_the_booking_page(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    portal_token, _ = link(psite, nora.patient_id)
    assert pweb.get(f"/p/{portal_token}/book").status_code == 403
    for reserved in ("intake", "consent", "unsubscribe"):
        other, _ = link(psite, nora.patient_id, reserved)
        assert pweb.get(f"/p/{other}").status_code == 403


def test_too_many_requests_from_one_client_get_a_plain_429(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    psite.app.state.portal_limiter = TokenBucketLimiter(1, 3)
    assert [pweb.get(f"/p/{token}").status_code for _ in range(3)] == [200, 200, 200]
    slow = pweb.get(f"/p/{token}")
    assert slow.status_code == 429
    assert "Please wait a moment" in slow.text
    assert int(slow.headers["Retry-After"]) >= 1
    guess = pweb.get("/p/" + "y" * 43)  # guessing other links is limited the same way
    assert guess.status_code == 429


def test_she_confirms_a_visit(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    token, link_id = link(psite, nora.patient_id)
    first = nora.appointments[0]
    csrf = _form(pweb, f"/p/{token}")
    done = pweb.post(f"/p/{token}/visits/{first.id}/confirm", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert "your visit is confirmed" in done.text
    assert done.text.count('data-confirmed="yes"') == 1
    assert (
        "appointment.confirm",
        "patient-link",
        f"appointment {first.id} link={link_id}",
    ) in _actions(psite.db, nora.patient_id)
    forged = pweb.post(f"/p/{token}/visits/{first.id}/confirm", data={"csrf_token": "x"})
    assert forged.status_code == 403


def test_another_patients_visit_is_not_found_through_her_link(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    other = psite.patient("Olga", "Other", email="olga@example.org")
    theirs = soon_visit(psite, other.id, hours=24 * 30)
    token, _ = link(psite, nora.patient_id)
    csrf = _form(pweb, f"/p/{token}")
    for path in ("confirm", "cancel", "move"):
        response = pweb.post(
            f"/p/{token}/visits/{theirs.id}/{path}", data={"csrf_token": csrf, "slot": "x"}
        )
        assert response.status_code == 404, (path, response.text[:300])
        assert "is not one of yours" in response.text
    assert pweb.get(f"/p/{token}/visits/{theirs.id}/move").status_code == 404
    assert pweb.get(f"/p/{token}/visits/2147483647/cancel").status_code == 404
    assert pweb.get(f"/p/{token}/visits/99999999999/cancel").status_code == 422
    assert services.get_appointment(psite.db, theirs.id).status is AppointmentStatus.BOOKED


def test_cancelling_outside_the_notice_period_goes_through_with_the_notice(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, link_id = link(psite, nora.patient_id)
    last = nora.appointments[-1]
    ask = pweb.get(f"/p/{token}/visits/{last.id}/cancel")
    assert ask.status_code == 200
    assert "Cancel this visit?" in ask.text
    done = pweb.post(
        f"/p/{token}/visits/{last.id}/cancel", data={"csrf_token": csrf_from(ask.text)}
    )
    assert done.status_code == 200
    assert "Your visit is cancelled" in done.text
    assert services.get_appointment(psite.db, last.id).status is AppointmentStatus.CANCELLED
    assert MessageKind.VISIT_CANCELLED in _queued(psite.db, nora.patient_id)
    assert (
        "appointment.cancel",
        "patient-link",
        f"appointment {last.id} late=no link={link_id}",
    ) in _actions(psite.db, nora.patient_id)


def test_cancelling_inside_the_notice_period_is_refused_with_the_clinic_phone(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    soon = soon_visit(psite, nora.patient_id)
    token, _ = link(psite, nora.patient_id)
    home = pweb.get(f"/p/{token}")
    assert f"/visits/{soon.id}/move" not in home.text  # no online change offered
    ask = pweb.get(f"/p/{token}/visits/{soon.id}/cancel")
    assert ask.status_code == 409
    assert "Please call the clinic" in ask.text
    assert PHONE in ask.text
    assert 'href="tel:+49305550100"' in ask.text
    refused = pweb.post(
        f"/p/{token}/visits/{soon.id}/cancel", data={"csrf_token": csrf_from(home.text)}
    )
    assert refused.status_code == 409
    assert PHONE in refused.text
    assert services.get_appointment(psite.db, soon.id).status is AppointmentStatus.BOOKED
    moved = pweb.get(f"/p/{token}/visits/{soon.id}/move")
    assert moved.status_code == 409
    assert PHONE in moved.text


def test_reschedule_offers_free_times_in_the_window_shows_the_replanned_course_then_saves(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, link_id = link(psite, nora.patient_id)
    second = nora.appointments[1]
    form = pweb.get(f"/p/{token}/visits/{second.id}/move")
    assert form.status_code == 200
    slots = [
        v.split('"')[0] for v in form.text.split('name="slot" value="')[1:]
    ]  # "<practitioner>@<start>"
    assert slots
    first_day = nora.appointments[0].start.date()
    for key in slots:
        day = datetime.fromisoformat(key.split("@", 1)[1]).date()
        assert first_day + timedelta(days=28) <= day <= first_day + timedelta(days=42)
    picked = slots[-1]
    csrf = csrf_from(form.text)
    preview = pweb.post(
        f"/p/{token}/visits/{second.id}/move", data={"csrf_token": csrf, "slot": picked}
    )
    assert preview.status_code == 200, preview.text
    assert "Your plan with the new time" in preview.text
    assert preview.text.count("<tr class=") == 4  # sessions 2-5 of the course
    moves = [v.split('"')[0] for v in preview.text.split('name="move" value="')[1:]]
    assert moves
    assert services.get_appointment(psite.db, second.id).start == second.start  # not yet
    saved = pweb.post(
        f"/p/{token}/visits/{second.id}/move/save",
        data={"csrf_token": csrf, "slot": picked, "move": moves},
    )
    assert saved.status_code == 200, saved.text
    assert "Your new dates are saved" in saved.text
    now = services.get_appointment(psite.db, second.id)
    assert now.start == datetime.fromisoformat(picked.split("@", 1)[1])
    assert MessageKind.DATES_CHANGED in _queued(psite.db, nora.patient_id)
    assert any(
        a == "appointment.move" and u == "patient-link" and d.endswith(f"link={link_id}")
        for a, u, d in _actions(psite.db, nora.patient_id)
    )


def test_reschedule_refuses_a_time_that_was_not_offered(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    second = nora.appointments[1]
    csrf = _form(pweb, f"/p/{token}/visits/{second.id}/move")
    for slot in ("1@2031-12-24T03:00:00+01:00", "nonsense", ""):
        response = pweb.post(
            f"/p/{token}/visits/{second.id}/move", data={"csrf_token": csrf, "slot": slot}
        )
        assert response.status_code == 422, slot
        assert "slot" in response.text or "offered" in response.text
    saved = pweb.post(
        f"/p/{token}/visits/{second.id}/move/save",
        data={"csrf_token": csrf, "slot": "1@2031-12-24T03:00:00+01:00", "move": ["x"]},
    )
    assert saved.status_code == 422
    assert services.get_appointment(psite.db, second.id).start == second.start


def test_a_stale_proposal_saves_nothing_and_shows_the_new_one(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    second = nora.appointments[1]
    form = pweb.get(f"/p/{token}/visits/{second.id}/move")
    picked = form.text.split('name="slot" value="')[1].split('"')[0]
    response = pweb.post(
        f"/p/{token}/visits/{second.id}/move/save",
        data={"csrf_token": csrf_from(form.text), "slot": picked, "move": ["1|stale"]},
    )
    assert response.status_code == 409
    assert "The calendar changed" in response.text
    assert services.get_appointment(psite.db, second.id).start == second.start


def test_call_back_request_reaches_the_desks_today_page(pweb: TestClient, psite: Clinic) -> None:
    from .booking_support import signed_in

    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    csrf = _form(pweb, f"/p/{token}")
    done = pweb.post(
        f"/p/{token}/callback", data={"csrf_token": csrf, "note": "about the aftercare"}
    )
    assert done.status_code == 200, done.text
    assert "the clinic will call you back" in done.text
    assert "You asked us to call you back" in done.text
    too_long = pweb.post(f"/p/{token}/callback", data={"csrf_token": csrf, "note": "x" * 501})
    assert too_long.status_code in (200, 422)  # one open request: nothing new either way
    desk_csrf = signed_in(pweb, "desk")
    today = pweb.get("/app/")
    assert 'id="today-callbacks"' in today.text
    assert "Nora Newcomer" in today.text
    assert "about the aftercare" in today.text
    (request,) = portal.callbacks_open(psite.db)
    closed = pweb.post(
        f"/app/callbacks/{request.id}/done", data={"csrf_token": desk_csrf}, follow_redirects=False
    )
    assert closed.status_code == 303
    assert portal.callbacks_open(psite.db) == []
    assert "portal.callback.done" in [a for a, _, _ in _actions(psite.db, nora.patient_id)]


def test_her_forecast_and_handout(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    page = pweb.get(f"/p/{token}/forecast")
    assert page.status_code == 200
    assert 'id="forecast-chart"' in page.text
    assert "months" in page.text
    pdf = pweb.get(f"/p/{token}/handout.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    actions = [a for a, u, _ in _actions(psite.db, nora.patient_id) if u == "patient-link"]
    assert "patient.handout" in actions
    assert "patient.forecast" in actions


def test_a_recall_link_books_her_maintenance_visit(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    entry = services.add_recall(psite.db, nora.patient_id, date(2031, 11, 3))
    token, link_id = link(psite, nora.patient_id, "book", recall_id=entry.id)
    page = pweb.get(f"/p/{token}/book")
    assert page.status_code == 200
    assert "3 November 2031" in page.text
    slot = page.text.split('name="slot" value="')[1].split('"')[0]
    bad = pweb.post(
        f"/p/{token}/book", data={"csrf_token": csrf_from(page.text), "slot": "1@2031-11-04T03:00"}
    )
    assert bad.status_code == 422
    done = pweb.post(f"/p/{token}/book", data={"csrf_token": csrf_from(page.text), "slot": slot})
    assert done.status_code == 200, done.text
    assert "your maintenance visit is booked" in done.text
    assert services.recall_entry(psite.db, entry.id).status is RecallStatus.BOOKED
    assert MessageKind.VISIT_BOOKED in _queued(psite.db, nora.patient_id)
    again = pweb.get(f"/p/{token}/book")
    assert "already booked" in again.text
    assert any(
        a == "appointment.book" and d.endswith(f"link={link_id}")
        for a, _, d in _actions(psite.db, nora.patient_id)
    )


def test_staff_revoke_her_link_from_her_message_page(pweb: TestClient, psite: Clinic) -> None:
    from .booking_support import signed_in

    nora = book_nora(pweb, psite)
    token, link_id = link(psite, nora.patient_id)
    assert pweb.get(f"/p/{token}").status_code == 200
    csrf = signed_in(pweb, "desk")
    page = pweb.get(f"/app/patients/{nora.patient_id}/messages")
    assert f'data-link="{link_id}"' in page.text
    revoked = pweb.post(
        f"/app/portal-links/{link_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    pweb.cookies.clear()
    assert pweb.get(f"/p/{token}").status_code == 410
    assert "portal.link.revoke" in [a for a, _, _ in _actions(psite.db, nora.patient_id)]

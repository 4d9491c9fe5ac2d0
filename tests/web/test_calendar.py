"""Calendar day/week views, moving an appointment with the re-plan shown first, missed, cancel."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus

from . import booking_support
from .booking_support import MONDAY, Clinic, book_json, local, new_patient_body, signed_in
from .conftest import TestClient, csrf_from

# Fixtures shared with the other booking tests (a database-backed app and its client).
backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _book(web: TestClient, token: str, **extra: Any) -> dict[str, Any]:
    response = book_json(web, token, new_patient_body(**extra))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _week(web: TestClient, **params: Any) -> str:
    response = web.get("/app/calendar", params={"view": "week", **params})
    assert response.status_code == 200, response.text
    return response.text


def test_week_view_shows_patient_and_session_in_clinic_time(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    page = _week(web, date=(MONDAY + timedelta(days=3)).isoformat())
    assert "Nora Newcomer" in page
    assert "session 1 of 5" in page
    assert "10:00–11:00" in page  # Berlin wall clock, not UTC (09:00)
    assert f'data-appointment="{data["sessions"][0]["appointment_id"]}"' in page
    assert "Mon 03 Mar" in page
    assert "Sun 09 Mar" in page


def test_week_navigation_moves_by_a_week_and_day_view_by_a_day(
    web: TestClient, site: Clinic
) -> None:
    signed_in(web, "desk")
    page = _week(web, date=MONDAY.isoformat())
    prev = re.search(r'href="([^"]+)" rel="prev"', page)
    nxt = re.search(r'href="([^"]+)" rel="next"', page)
    assert prev
    assert "date=2031-02-24" in prev.group(1)
    assert nxt
    assert "date=2031-03-10" in nxt.group(1)
    day = web.get("/app/calendar", params={"view": "day", "date": MONDAY.isoformat()}).text
    assert "date=2031-03-04" in re.search(r'href="([^"]+)" rel="next"', day).group(1)  # type: ignore[union-attr]
    assert day.count('class="cal-day') == 1


def test_practitioner_filter_shows_only_her_appointments(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    alice, bob = site.practitioners["Alice Practitioner"], site.practitioners["Bob Practitioner"]
    _book(web, token, practitioner_id=str(alice))
    assert "Nora Newcomer" in _week(web, date=MONDAY.isoformat(), practitioner=alice)
    assert "Nora Newcomer" not in _week(web, date=MONDAY.isoformat(), practitioner=bob)
    assert web.get("/app/calendar", params={"practitioner": 999}).status_code == 422
    assert web.get("/app/calendar", params={"date": "soon"}).status_code == 422
    assert web.get("/app/calendar", params={"view": "month"}).status_code == 422


def test_front_desk_sees_no_clinical_notes(web: TestClient, site: Clinic) -> None:
    jane = site.patient()
    alice = site.practitioners["Alice Practitioner"]
    services.book_appointment(
        site.db,
        jane.id,
        (local(MONDAY, 14), local(MONDAY, 15), alice),
        kind="review",
        note="check erythema on left cheek",
    )
    signed_in(web, "desk")
    page = _week(web, date=MONDAY.isoformat())
    assert "Jane Doe" in page
    assert "review" in page
    assert "erythema" not in page
    signed_in(web, "prac")
    assert "erythema" in _week(web, date=MONDAY.isoformat())


def _confirm_form(html: str) -> dict[str, Any]:
    """The hidden fields of the preview's confirm form, as the browser posts them."""
    form = html[html.index('id="confirm-form"') :]
    form = form[: form.index("</form>")]
    fields: dict[str, Any] = {"move": re.findall(r'name="move" value="([^"]+)"', form)}
    for name in ("day", "time", "practitioner_id", "csrf_token"):
        match = re.search(rf'name="{name}" value="([^"]*)"', form)
        assert match, f"confirm form has no {name}"
        fields[name] = match.group(1)
    return fields


def _move_preview(web: TestClient, appointment_id: int, day: str, time: str, who: int) -> Any:
    form = web.get(f"/app/appointments/{appointment_id}/move")
    assert form.status_code == 200
    return web.post(
        f"/app/appointments/{appointment_id}/move",
        data={"day": day, "time": time, "practitioner_id": who, "csrf_token": csrf_from(form.text)},
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_move_shows_the_replanned_course_before_saving_then_saves_all(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    second = data["sessions"][1]
    alice = site.practitioners["Alice Practitioner"]
    new_day = (MONDAY + timedelta(days=42)).isoformat()  # session 2 a week later
    preview = _move_preview(web, second["appointment_id"], new_day, "11:00", alice)
    assert preview.status_code == 200, preview.text
    assert "Re-planned course (not saved yet)" in preview.text
    moves = re.findall(r'name="move" value="([^"]+)"', preview.text)
    assert len(moves) >= 2  # session 2 and the ones after it
    assert moves[0].startswith(f"{second['appointment_id']}|{new_day}T11:00:00+02:00|")  # CEST
    before = services.course_file(site.db, data["course_id"]).appointments
    assert [a.start for a in before] == [
        a.start for a in services.course_file(site.db, data["course_id"]).appointments
    ], "the preview saved nothing"
    confirm = web.post(
        f"/app/appointments/{second['appointment_id']}/move/confirm",
        data=_confirm_form(preview.text),
        follow_redirects=False,
    )
    assert confirm.status_code == 303
    assert f"moved={len(moves)}" in confirm.headers["location"]
    after = {a.id: a for a in services.course_file(site.db, data["course_id"]).appointments}
    moved = after[second["appointment_id"]]
    assert moved.start == local(MONDAY + timedelta(days=42), 11)
    later = [a for a in after.values() if a.session_number and a.session_number > 2]
    assert all(a.start >= moved.start + timedelta(days=28) for a in later)
    page = web.get(confirm.headers["location"]).text
    assert f"Moved {len(moves)} appointment" in page


def test_move_far_beyond_the_window_shows_the_gap_cost_and_advice(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    second = data["sessions"][1]
    late = (MONDAY + timedelta(days=35 + 120)).isoformat()
    alice = site.practitioners["Alice Practitioner"]
    preview = _move_preview(web, second["appointment_id"], late, "10:00", alice)
    assert preview.status_code == 200, preview.text
    assert "Gap before session 2" in preview.text
    assert "beyond the 42-day window" in preview.text
    assert "forecast median stays noticeable" in preview.text


def test_front_desk_sees_the_gap_but_no_forecast_figures(web: TestClient, site: Clinic) -> None:
    """Issue 17, L2: the gap's cost comes from her clinical assessment; the front desk sees the
    scheduling facts only."""
    data = _book(web, signed_in(web, "prac"))
    second = data["sessions"][1]
    signed_in(web, "desk")
    late = (MONDAY + timedelta(days=35 + 120)).isoformat()
    alice = site.practitioners["Alice Practitioner"]
    preview = _move_preview(web, second["appointment_id"], late, "10:00", alice)
    assert preview.status_code == 200, preview.text
    assert "Gap before session 2" in preview.text
    assert "beyond the 42-day window" in preview.text
    assert "a practitioner can say what this means for her results" in preview.text
    for figure in ("forecast", "noticeable", "peak", "extra session"):
        assert figure not in preview.text.split('id="move-preview"')[1]


def test_move_into_a_taken_slot_is_refused_with_a_clear_message(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    other = site.patient("Olga", "Other")
    bob = site.practitioners["Bob Practitioner"]
    target = MONDAY + timedelta(days=36)
    services.book_appointment(site.db, other.id, (local(target, 10), local(target, 11), bob))
    second = data["sessions"][1]
    preview = _move_preview(web, second["appointment_id"], target.isoformat(), "10:30", bob)
    assert preview.status_code == 409
    assert "cannot move" in preview.text
    assert 'name="move"' not in preview.text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_confirm_that_clashes_saves_nothing(web: TestClient, site: Clinic) -> None:
    """Someone books the new time between preview and confirm: 409 and no appointment moves."""
    token = signed_in(web, "prac")
    data = _book(web, token)
    second, third = data["sessions"][1], data["sessions"][2]
    alice = site.practitioners["Alice Practitioner"]
    day = MONDAY + timedelta(days=42)
    preview = _move_preview(web, second["appointment_id"], day.isoformat(), "15:00", alice)
    assert preview.status_code == 200, preview.text
    other = site.patient("Olga", "Other")
    services.book_appointment(site.db, other.id, (local(day, 15), local(day, 16), alice))
    before = services.course_file(site.db, data["course_id"]).appointments
    response = web.post(
        f"/app/appointments/{second['appointment_id']}/move/confirm",
        data=_confirm_form(preview.text),
    )
    assert response.status_code == 409, response.text
    assert "Nothing was moved" in response.text
    assert services.course_file(site.db, data["course_id"]).appointments == before
    assert third["appointment_id"] in {a.id for a in before}


def test_moving_a_single_appointment_outside_a_course(web: TestClient, site: Clinic) -> None:
    jane = site.patient()
    bob = site.practitioners["Bob Practitioner"]
    appt = services.book_appointment(
        site.db, jane.id, (local(MONDAY, 9), local(MONDAY, 10), bob), kind="review"
    )
    signed_in(web, "desk")
    preview = _move_preview(web, appt.id, MONDAY.isoformat(), "16:00", bob)
    moves = re.findall(r'name="move" value="([^"]+)"', preview.text)
    assert len(moves) == 1
    web.post(
        f"/app/appointments/{appt.id}/move/confirm",
        data=_confirm_form(preview.text),
    )
    assert (
        services.appointments_between(site.db, local(MONDAY, 16), local(MONDAY, 17))[0].id
        == appt.id
    )


def test_bad_move_input_is_422(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    first = data["sessions"][0]["appointment_id"]
    response = _move_preview(
        web, first, "tomorrow", "10:00", site.practitioners["Alice Practitioner"]
    )
    assert response.status_code == 422
    assert "day: must be a date" in response.text


def test_confirm_saves_only_the_servers_proposal_never_moves_sent_by_the_form(
    web: TestClient, site: Clinic
) -> None:
    """A confirm form edited by hand (another patient's appointment, a Sunday at 03:00) saves
    nothing: the server recomputes the proposal and refuses one that differs."""
    token = signed_in(web, "prac")
    data = _book(web, token)
    other = site.patient("Olga", "Other")
    bob = site.practitioners["Bob Practitioner"]
    theirs = services.book_appointment(
        site.db, other.id, (local(MONDAY, 9), local(MONDAY, 10), bob), kind="review"
    )
    second = data["sessions"][1]
    alice = site.practitioners["Alice Practitioner"]
    day = MONDAY + timedelta(days=42)
    preview = _move_preview(web, second["appointment_id"], day.isoformat(), "11:00", alice)
    assert preview.status_code == 200, preview.text
    fields = _confirm_form(preview.text)
    sunday = (MONDAY - timedelta(days=1)).isoformat()
    fields["move"] = [
        *fields["move"],
        f"{theirs.id}|{sunday}T03:00:00+02:00|{sunday}T04:00:00+02:00|{bob}",
    ]
    before = services.appointments_between(site.db, local(MONDAY, 0), local(day, 23))
    response = web.post(f"/app/appointments/{second['appointment_id']}/move/confirm", data=fields)
    assert response.status_code == 409, response.text
    assert "calendar changed since the proposal was shown" in response.text
    assert services.appointments_between(site.db, local(MONDAY, 0), local(day, 23)) == before
    assert services.get_appointment(site.db, theirs.id).start == local(MONDAY, 9)
    # the page shows the server's proposal again, which confirms as shown
    again = web.post(
        f"/app/appointments/{second['appointment_id']}/move/confirm",
        data=_confirm_form(response.text),
        follow_redirects=False,
    )
    assert again.status_code == 303, again.text


def test_mark_missed_and_cancel_from_the_calendar(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    first, second = data["sessions"][0]["appointment_id"], data["sessions"][1]["appointment_id"]
    page = _week(web, date=MONDAY.isoformat())
    csrf = csrf_from(page)
    here = f"/app/calendar?view=week&date={MONDAY.isoformat()}"
    early = web.post(
        f"/app/appointments/{first}/missed",
        data={"csrf_token": csrf, "next": here},
        follow_redirects=False,
    )
    assert early.status_code == 422  # no no-show before the visit has started
    assert "before it has started" in early.text
    services.mark_missed(site.db, first)  # as if its time had come
    no_reason = web.post(f"/app/appointments/{second}/cancel", data={"csrf_token": csrf})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    cancelled = web.post(
        f"/app/appointments/{second}/cancel",
        data={"csrf_token": csrf, "reason": "patient ill", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert cancelled.headers["location"].startswith("/app/")  # no open redirect
    statuses = {
        a.id: a.status for a in services.course_file(site.db, data["course_id"]).appointments
    }
    assert statuses[first] is AppointmentStatus.MISSED
    assert statuses[second] is AppointmentStatus.CANCELLED
    again = web.post(
        f"/app/appointments/{second}/cancel", data={"csrf_token": csrf, "reason": "again"}
    )
    assert again.status_code == 409
    assert "no-show" in _week(web, date=MONDAY.isoformat())
    events = services.search_audit(site.db, action="appointment.cancel")[0]
    assert [(e.username, e.detail) for e in events] == [("prac", f"appointment {second} late=no")]


@pytest.mark.parametrize("action", ["missed", "cancel", "move", "move/confirm"])
def test_calendar_posts_need_the_csrf_token(web: TestClient, site: Clinic, action: str) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    first = data["sessions"][0]["appointment_id"]
    response = web.post(f"/app/appointments/{first}/{action}", data={"move": "x"})
    assert response.status_code == 403
    assert (
        services.course_file(site.db, data["course_id"]).appointments[0].status
        is AppointmentStatus.BOOKED
    )


@pytest.mark.parametrize("username", ["admin", "prac", "desk"])
def test_every_role_may_use_the_calendar(web: TestClient, username: str) -> None:
    signed_in(web, username)
    assert web.get("/app/calendar").status_code == 200


def test_calendar_needs_a_sign_in(web: TestClient) -> None:
    for path in ("/app/calendar", "/app/appointments/1/move"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    response = web.post("/app/appointments/1/cancel", follow_redirects=False)
    assert response.status_code == 303


def test_a_single_appointment_cannot_move_outside_opening_hours(
    web: TestClient, site: Clinic
) -> None:
    jane = site.patient()
    bob = site.practitioners["Bob Practitioner"]
    appt = services.book_appointment(
        site.db, jane.id, (local(MONDAY, 9), local(MONDAY, 10), bob), kind="review"
    )
    signed_in(web, "desk")
    sunday = (MONDAY + timedelta(days=6)).isoformat()
    preview = _move_preview(web, appt.id, sunday, "10:00", bob)
    assert preview.status_code == 409
    evening = _move_preview(web, appt.id, MONDAY.isoformat(), "17:30", bob)
    assert evening.status_code == 409
    assert "is outside Bob Practitioner" in evening.text


def test_course_with_a_practitioner_missing_from_the_clinic_file_moves_one_appointment(
    web: TestClient, site: Clinic
) -> None:
    """Records may name someone the clinic file does not list (e.g. imported data): move only
    that appointment, and say why the course is not re-planned."""
    carol = services.add_practitioner(site.db, "Carol Elsewhere")
    jane = site.patient()
    booking = services.book_course(
        site.db,
        jane.id,
        make_protocol_for_test(),
        [
            (
                local(MONDAY + timedelta(days=35 * i), 10),
                local(MONDAY + timedelta(days=35 * i), 11),
                carol.id,
            )
            for i in range(3)
        ],
    )
    signed_in(web, "prac")
    first = booking.appointments[0]
    preview = _move_preview(web, first.id, MONDAY.isoformat(), "15:00", carol.id)
    assert preview.status_code == 200, preview.text
    assert "Carol Elsewhere is not in the clinic calendar file" in preview.text
    assert len(re.findall(r'name="move" value="([^"]+)"', preview.text)) == 1


def make_protocol_for_test() -> Any:
    from needleplan.domain import Area, IntRange, Protocol

    return Protocol(
        initial_sessions=3,
        session_range=IntRange(min=2, max=5),
        interval_days=IntRange(min=28, max=42),
        maintenance_interval_months=IntRange(min=6, max=12),
        difficult_case=False,
        blocked=False,
        block_reasons=[],
        areas=[Area.FULL_FACE],
        guideline_version="test-1",
    )


# --------------------------------------------------------------------------- rebooking a missed session


def _missed_second(web: TestClient, token: str, site: Clinic) -> tuple[dict[str, Any], int]:
    """Book a course (in 2031) and record its second session as missed through the service:
    the pages refuse a no-show before the start (see test_visits.py)."""
    data = _book(web, token)
    second = data["sessions"][1]["appointment_id"]
    services.mark_missed(site.db, second)
    return data, second


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))


def test_a_missed_session_is_rebooked_after_the_proposal_is_shown(
    web: TestClient, site: Clinic
) -> None:
    data, second = _missed_second(web, signed_in(web, "prac"), site)
    signed_in(web, "desk")  # the front desk rebooks
    course_id = data["course_id"]
    missed_day = data["sessions"][1]["start"][:10]
    week = _week(web, date=missed_day)
    assert f'href="/app/appointments/{second}/rebook"' in week
    assert "the course still owes the session" in web.get("/app/calendar?done=missed").text

    before = services.course_file(site.db, course_id).appointments
    shown = web.get(f"/app/appointments/{second}/rebook")
    assert shown.status_code == 200, shown.text
    assert "Proposed (not saved yet)" in shown.text
    assert "new appointment" in shown.text
    assert "Rebook session 2" in shown.text
    assert 'id="rebook-free-slots"' in shown.text  # the form offers free times
    assert services.course_file(site.db, course_id).appointments == before, "nothing saved"

    bob = site.practitioners["Bob Practitioner"]
    later = (date.fromisoformat(missed_day) + timedelta(days=14)).isoformat()
    chosen = web.post(
        f"/app/appointments/{second}/rebook",
        data={"not_before": later, "practitioner_id": bob, "csrf_token": csrf_from(shown.text)},
    )
    assert chosen.status_code == 200, chosen.text
    assert "Bob Practitioner" in chosen.text
    assert "<strong>moves</strong>" in chosen.text  # past the window: later sessions follow
    assert "later than the protocol" in chosen.text
    assert services.course_file(site.db, course_id).appointments == before, "nothing saved"

    saved = web.post(
        f"/app/appointments/{second}/rebook/confirm",
        data={
            "proposal": _hidden(chosen.text, "proposal"),
            "not_before": later,
            "practitioner_id": str(bob),
            "csrf_token": csrf_from(chosen.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert "done=rebook" in saved.headers["location"]
    after = services.course_file(site.db, course_id).appointments
    assert len(after) == len(before) + 1
    by_id = {a.id: a for a in after}
    assert by_id[second].status is AppointmentStatus.MISSED
    (new,) = [a for a in after if a.id not in {b.id for b in before}]
    assert new.status is AppointmentStatus.BOOKED
    assert new.session_number == 2
    assert new.practitioner_id == bob
    assert new.start.astimezone(site.clinic.tz).date() >= date.fromisoformat(later)
    events = services.audit_log(site.db, patient_id=data["patient"]["id"])
    rebook = [e for e in events if e.action == "appointment.rebook"]
    assert len(rebook) == 1
    assert f"rebooked as appointment {new.id}" in rebook[0].detail
    assert "user=desk" in rebook[0].detail
    landing = web.get(saved.headers["location"]).text
    assert "Missed session rebooked" in landing
    assert f"rebooked (appointment {new.id})" in _week(web, date=missed_day)
    again = web.get(f"/app/appointments/{second}/rebook")
    assert again.status_code == 409
    assert f"already rebooked as appointment {new.id}" in again.text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_proposal_the_calendar_overtook_saves_nothing_and_shows_the_new_one(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data, second = _missed_second(web, token, site)
    shown = web.get(f"/app/appointments/{second}/rebook")
    proposal = _hidden(shown.text, "proposal")
    _, start, end, pid = proposal.split(";")[0].split("|")
    other = site.patient("Olga", "Other")
    services.book_appointment(
        site.db,
        other.id,
        (datetime.fromisoformat(start), datetime.fromisoformat(end), int(pid)),
    )
    before = services.course_file(site.db, data["course_id"]).appointments
    response = web.post(
        f"/app/appointments/{second}/rebook/confirm",
        data={"proposal": proposal, "csrf_token": csrf_from(shown.text)},
    )
    assert response.status_code == 409, response.text
    assert "Nothing was rebooked" in response.text
    assert "calendar changed" in response.text
    assert _hidden(response.text, "proposal") != proposal, "the new proposal is shown"
    assert services.course_file(site.db, data["course_id"]).appointments == before


def test_rebook_refuses_what_it_cannot_do_with_the_reason(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "prac")
    data, second = _missed_second(web, token, site)
    first = data["sessions"][0]["appointment_id"]
    booked = web.get(f"/app/appointments/{first}/rebook")
    assert booked.status_code == 409
    assert "only a missed or cancelled appointment is rebooked" in booked.text
    assert 'name="proposal"' not in booked.text
    page = web.get(f"/app/appointments/{second}/rebook")
    past = web.post(
        f"/app/appointments/{second}/rebook",
        data={"not_before": "2020-01-01", "csrf_token": csrf_from(page.text)},
    )
    assert past.status_code == 422
    assert "not_before: must not be in the past" in past.text
    for action in ("rebook", "rebook/confirm"):
        response = web.post(f"/app/appointments/{second}/{action}", data={"proposal": "x"})
        assert response.status_code == 403
    assert web.get("/app/appointments/999999/rebook").status_code == 404


# --------------------------------------------------------------------------- read audit and zone


def test_each_calendar_view_writes_one_read_audit_listing_the_patients_shown(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data = _book(web, token)
    jane = site.patient()
    alice = site.practitioners["Alice Practitioner"]
    services.book_appointment(
        site.db, jane.id, (local(MONDAY, 14), local(MONDAY, 15), alice), kind="review"
    )
    nora = data["patient"]["id"]
    before = len(services.search_audit(site.db, action="calendar.read")[0])
    _week(web, date=MONDAY.isoformat())
    events, total = services.search_audit(site.db, action="calendar.read")
    assert total == before + 1
    (event,) = events[:1]
    assert event.patient_id is None
    assert f"week {MONDAY.isoformat()}..{(MONDAY + timedelta(days=6)).isoformat()}" in event.detail
    assert f"patients={','.join(str(i) for i in sorted({nora, jane.id}))}" in event.detail
    assert "Jane" not in event.detail
    assert "Doe" not in event.detail
    for patient in (nora, jane.id):
        found, _ = services.search_audit(site.db, patient_id=patient, action="calendar.read")
        assert [e.id for e in found] == [event.id], "the audit search by patient finds the view"
    _week(web, date=(MONDAY + timedelta(days=14)).isoformat())  # nobody that week
    assert services.search_audit(site.db, action="calendar.read")[1] == before + 1
    web.get(f"/app/appointments/{data['sessions'][0]['appointment_id']}/move")
    moves = services.search_audit(site.db, action="appointment.read", patient_id=nora)[0]
    assert [e.patient_id for e in moves] == [nora]


def test_the_calendar_names_its_zone_with_both_abbreviations_in_a_dst_week(
    web: TestClient, site: Clinic
) -> None:
    signed_in(web, "desk")
    assert "times in Europe/Berlin (CET)<" in _week(web, date=MONDAY.isoformat())
    change_week = _week(web, date="2031-03-27")  # clocks go forward on Sunday 30 March
    assert "times in Europe/Berlin (CET/CEST)<" in change_week


def test_calendar_and_move_page_in_a_clinic_far_from_utc(user_store: object, db: object) -> None:
    """Los Angeles: a 10:00 appointment on the DST Monday shows at 10:00 PDT, not 17:00 UTC."""
    from .booking_support import make_clinic

    site = make_clinic(user_store, db, timezone="America/Los_Angeles")  # type: ignore[arg-type]
    zone = site.clinic.tz
    jane = site.patient()
    bob = site.practitioners["Bob Practitioner"]
    day = date(2031, 3, 10)
    appt = services.book_appointment(
        site.db,
        jane.id,
        (
            datetime.combine(day, datetime.min.time(), zone).replace(hour=10),
            datetime.combine(day, datetime.min.time(), zone).replace(hour=11),
            bob,
        ),
        kind="review",
    )
    with TestClient(site.app, base_url="http://testserver") as web:
        signed_in(web, "desk")
        page = _week(web, date=day.isoformat())
        assert "10:00–11:00" in page
        assert "17:00" not in page
        assert "America/Los_Angeles (PDT)" in page
        changing = _week(web, date="2031-03-05")  # Mon 3 to Sun 9 March: clocks change on 9
        assert "America/Los_Angeles (PST/PDT)" in changing
        move = web.get(f"/app/appointments/{appt.id}/move").text
        assert "Mon 10 Mar 2031, 10:00–11:00" in move
        assert "America/Los_Angeles (PDT)" in move


def test_week_view_says_why_a_day_cannot_be_booked(web: TestClient, site: Clinic) -> None:
    """Closures, public holidays, closed weekdays and the shown practitioners' days off are named
    on their day; the practitioner filter hides other people's leave."""
    wednesday = MONDAY + timedelta(days=2)
    site.app.state.clinic = booking_support.clinic_config(
        holidays={"country": "DE", "subdivision": "BE"},
        closures=[{"start": wednesday.isoformat(), "reason": "staff training"}],
        practitioners=[
            {"name": "Alice Practitioner"},
            {
                "name": "Bob Practitioner",
                "days_off": [{"start": MONDAY.isoformat(), "reason": "conference"}],
            },
        ],
    )
    signed_in(web, "desk")

    def notes(url: str) -> dict[str, list[str]]:
        page = web.get(url).text
        out: dict[str, list[str]] = {}
        for day, body in re.findall(r'data-date="([\d-]+)">(.*?)</section>', page, re.S):
            out[day] = [html.unescape(n) for n in re.findall(r'cal-closed">([^<]*)<', body)]
        return out

    week = notes(f"/app/calendar?view=week&date={MONDAY.isoformat()}")
    assert week[MONDAY.isoformat()] == ["Bob Practitioner: conference"]
    assert week[wednesday.isoformat()] == ["Clinic closed: staff training"]
    assert week[(MONDAY + timedelta(days=1)).isoformat()] == []
    sunday = (MONDAY + timedelta(days=6)).isoformat()
    assert week[sunday] == ["Clinic closed (no opening hours on this weekday)"]
    alice = site.practitioners["Alice Practitioner"]
    only_alice = notes(f"/app/calendar?view=week&date={MONDAY.isoformat()}&practitioner={alice}")
    assert only_alice[MONDAY.isoformat()] == []
    good_friday = date(2031, 4, 11)  # a public holiday in Berlin
    day = notes(f"/app/calendar?view=day&date={good_friday.isoformat()}")
    assert day == {good_friday.isoformat(): ["Public holiday: Good Friday"]}

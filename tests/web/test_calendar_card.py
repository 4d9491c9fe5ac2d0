"""The calendar card written in Python (needleplan.web.calendar_card, docs/scale.md): what a
card shows, its actions by status and role, and that text from people is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from needleplan.domain.records import Appointment, AppointmentKind, AppointmentStatus
from needleplan.web.calendar_card import card_html, visit_actions_html
from needleplan.web.routes.calendar_common import Entry

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def _entry(status: AppointmentStatus, **change: Any) -> Entry:
    appt = Appointment(
        id=7,
        patient_id=3,
        course_id=2,
        practitioner_id=1,
        kind=AppointmentKind.TREATMENT,
        session_number=2,
        start=START,
        end=START.replace(hour=10),
        status=status,
        note='<script>alert("x")</script>',
    )
    values: dict[str, Any] = {
        "appointment": appt,
        "start": START,
        "end": START.replace(hour=10),
        "patient": "Ann <b>O'Hara</b>",
        "practitioner": "Alice & Co",
        "session_text": "session 2 of 5",
        "note": appt.note,
        "phone": "+49 30 555",
        "email": 'a"b@example.org',
    }
    return Entry(**(values | change))


def test_a_booked_card_shows_the_visit_and_its_actions_with_everything_escaped() -> None:
    html = str(
        card_html(
            _entry(AppointmentStatus.BOOKED), "/app/calendar?a=1&b=2", True, "csrf_token", 'tok"en'
        )
    )
    assert 'data-appointment="7"' in html
    assert 'class="cal-appt cal-booked kind-session"' in html
    assert "09:00–10:00" in html
    assert "Ann &lt;b&gt;O&#39;Hara&lt;/b&gt;" in html
    assert "Alice &amp; Co" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert 'href="tel:+4930555"' in html
    assert "mailto:a&#34;b@example.org" in html
    assert 'value="tok&#34;en"' in html
    assert 'name="next" value="/app/calendar?a=1&amp;b=2"' in html
    assert "/app/visits/7/cancel?next=/app/calendar%3Fa%3D1%26b%3D2" in html
    for action in ("check-in", "no-show", 'class="chart"', "/app/appointments/7/move", ".ics"):
        assert action in html
    assert "cal-status" not in html


def test_the_front_desk_sees_no_note_and_no_chart_link() -> None:
    html = str(card_html(_entry(AppointmentStatus.BOOKED), "/app/", False, "csrf_token", "t"))
    assert "cal-note" not in html
    assert 'class="chart"' not in html
    assert "check-in" in html


def test_a_missed_card_offers_rebooking_or_names_the_new_appointment() -> None:
    missed = str(card_html(_entry(AppointmentStatus.MISSED, rebook=True), "/app/", True, "c", "t"))
    assert '<em class="cal-status">no-show</em>' in missed
    assert "/app/appointments/7/rebook" in missed
    assert "check-in" not in missed
    done = str(card_html(_entry(AppointmentStatus.MISSED, rebooked_as=12), "/app/", True, "c", "t"))
    assert "rebooked (appointment 12)" in done
    online = str(card_html(_entry(AppointmentStatus.PERFORMED, online=True), "/", True, "c", "t"))
    assert "booked online" in online
    assert "cal-actions" not in online


def test_visit_actions_only_for_booked_and_arrived_visits() -> None:
    arrived = _entry(AppointmentStatus.ARRIVED).appointment
    html = str(visit_actions_html(arrived, "/app/", True, "c", "t"))
    assert "check-in" not in html
    assert "no-show" not in html
    assert "/app/visits/7/cancel" in html
    performed = _entry(AppointmentStatus.PERFORMED).appointment
    assert str(visit_actions_html(performed, "/app/", True, "c", "t")) == ""

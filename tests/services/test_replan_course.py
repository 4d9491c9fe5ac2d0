"""Moving a session of a booked course re-anchors the following ones (preview, then save)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.records import AppointmentStatus
from needleplan.exceptions import StateError
from needleplan.scheduling import course_ics, example_clinic

CLINIC = example_clinic()


def _book(clinic: Any) -> Any:
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    return services.plan_and_book_course(
        clinic.db, clinic.patient.id, date(2030, 9, 2), CLINIC, practitioner="Marta Nowak"
    ).booking


def _starts(clinic: Any, course_id: int) -> list[datetime]:
    return [
        a.start
        for a in services.course_file(clinic.db, course_id).appointments
        if a.status is AppointmentStatus.BOOKED
    ]


def test_preview_changes_nothing_and_save_moves_the_later_sessions_into_their_windows(
    clinic: Any,
) -> None:
    booking = _book(clinic)
    course_id = booking.course.id
    before = _starts(clinic, course_id)
    third = booking.appointments[2]
    late = third.start + timedelta(days=28)  # pushes session 4 out of its window

    preview = services.replan_course(clinic.db, third.id, late, CLINIC, save=False)
    assert not preview.saved
    assert _starts(clinic, course_id) == before
    assert 3 in preview.replan.changed
    assert 4 in preview.replan.changed

    saved = services.replan_course(clinic.db, third.id, late, CLINIC)
    assert saved.saved
    after = _starts(clinic, course_id)
    assert after[:2] == before[:2]
    assert after[2] == late
    lo, hi = booking.course.protocol.interval_days.min, booking.course.protocol.interval_days.max
    for a, b in itertools.pairwise(after[2:]):  # the gap before session 3 is the move itself
        assert lo <= (b.date() - a.date()).days <= hi


def test_a_gap_beyond_the_window_is_costed_with_the_forecast(clinic: Any) -> None:
    booking = _book(clinic)
    third = booking.appointments[2]
    result = services.replan_course(
        clinic.db, third.id, third.start + timedelta(days=63), CLINIC, save=False
    )
    (gap,) = result.replan.gaps
    assert gap.session_number == 3
    assert gap.overrun_days > 0
    assert gap.noticeable_days_planned is not None
    assert gap.noticeable_days_replanned is not None


def test_ics_of_the_booked_course_keeps_its_uids_after_a_move(clinic: Any) -> None:
    booking = _book(clinic)
    course_id = booking.course.id
    first = course_ics(services.course_schedule(clinic.db, course_id, CLINIC))
    services.replan_course(
        clinic.db,
        booking.appointments[1].id,
        booking.appointments[1].start + timedelta(days=7),
        CLINIC,
    )
    second = course_ics(services.course_schedule(clinic.db, course_id, CLINIC))

    def uids(text: str | bytes) -> list[str]:
        return [str(e["UID"]) for e in Calendar.from_ical(text).walk("VEVENT")]

    def sequences(text: str | bytes) -> list[int]:
        return [int(e["SEQUENCE"]) for e in Calendar.from_ical(text).walk("VEVENT")]

    assert uids(first) == uids(second)
    assert len(set(uids(first))) == len(booking.appointments)
    # Session 2 moved (and whichever later ones the re-plan moved): their SEQUENCE went up by one,
    # so a calendar that imported the first export updates those events; session 1 stayed at 0.
    assert sequences(first) == [0] * len(booking.appointments)
    assert sequences(second)[0] == 0
    assert sequences(second)[1] == 1
    assert set(sequences(second)) <= {0, 1}


def test_a_cancelled_appointment_cannot_be_replanned(clinic: Any) -> None:
    booking = _book(clinic)
    appt = booking.appointments[1]
    services.cancel_appointment(clinic.db, appt.id)
    with pytest.raises(StateError, match="only booked ones can move"):
        services.replan_course(clinic.db, appt.id, appt.start + timedelta(days=1), CLINIC)

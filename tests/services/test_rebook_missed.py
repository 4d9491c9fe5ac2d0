"""Rebooking a missed session: a new appointment for the owed session, later sessions re-anchored,
all or nothing under the slot claims; the missed one stays on record and never counts as done."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.exceptions import ConflictError, InputError, SchedulingError, StateError
from needleplan.scheduling import ClinicConfig, SessionSchedulingError, course_ics, parse_clinic
from tests.consent_support import sign_treatment

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def clinic_config(timezone: str = "Australia/Sydney", **changes: Any) -> ClinicConfig:
    """Alice and Bob (the practitioners of the ``clinic`` fixture) in a clinic far from UTC."""
    data: dict[str, Any] = {
        "name": "Rebook Test Clinic",
        "timezone": timezone,
        "opening_hours": {day: ["09:00-18:00"] for day in WEEKDAYS},
        "practitioners": [{"name": "Alice Practitioner"}, {"name": "Bob Practitioner"}],
        "session_minutes": {"default": 60},
    }
    return parse_clinic(data | changes, source="test clinic")


SYDNEY = clinic_config()
BEFORE_THE_COURSE = datetime(2031, 1, 1, 9, tzinfo=ZoneInfo("Australia/Sydney"))


def _book(clinic: Any, config: ClinicConfig = SYDNEY, start: date = date(2031, 2, 3)) -> Any:
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    return services.plan_and_book_course(
        clinic.db, clinic.patient.id, start, config, practitioner="Alice Practitioner"
    ).booking


def _appointments(clinic: Any, course_id: int) -> list[Any]:
    return services.course_file(clinic.db, course_id).appointments


def _live(clinic: Any, course_id: int) -> list[Any]:
    return [
        a
        for a in _appointments(clinic, course_id)
        if a.status in (AppointmentStatus.BOOKED, AppointmentStatus.PERFORMED)
    ]


def test_preview_stores_nothing_and_saving_books_a_new_appointment_for_the_owed_session(
    clinic: Any,
) -> None:
    booking = _book(clinic)
    course_id = booking.course.id
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    before = _appointments(clinic, course_id)
    ledger = services.course_file(clinic.db, course_id).ledger

    preview = services.rebook_missed(
        clinic.db, second.id, SYDNEY, preview=True, now=BEFORE_THE_COURSE
    )
    assert not preview.saved
    assert preview.session_number == 2
    assert preview.session.start.date() > second.start.astimezone(SYDNEY.tz).date()
    assert _appointments(clinic, course_id) == before, "the preview stored nothing"

    saved = services.rebook_missed(
        clinic.db, second.id, SYDNEY, expect=preview.proposal, now=BEFORE_THE_COURSE
    )
    assert saved.saved
    assert saved.appointment is not None
    after = {a.id: a for a in _appointments(clinic, course_id)}
    missed = after[second.id]
    assert missed.status is AppointmentStatus.MISSED, "the missed one stays on record"
    assert f"rebooked as appointment {saved.appointment.id}" in missed.note
    new = after[saved.appointment.id]
    assert new.status is AppointmentStatus.BOOKED
    assert new.session_number == 2
    assert new.start == preview.session.start
    live = _live(clinic, course_id)
    assert [a.session_number for a in live] == [1, 2, 3, 4, 5]
    lo, hi = booking.course.protocol.interval_days.min, booking.course.protocol.interval_days.max
    tz = SYDNEY.tz
    days = [a.start.astimezone(tz).date() for a in live]
    for a, b in itertools.pairwise(days[1:]):  # after the rebooked one: inside the windows
        assert lo <= (b - a).days <= hi
    course = services.course_file(clinic.db, course_id)
    assert course.ledger == ledger, "rebooking adds or removes no owed session"
    assert course.course.remaining_sessions == booking.course.planned_sessions
    assert course.course.status is CourseStatus.PLANNED


def test_the_missed_session_never_counts_as_performed(clinic: Any) -> None:
    """Session 2 missed: the course completes only after five performed sessions."""
    booking = _book(clinic)
    course_id = booking.course.id
    first, second = booking.appointments[0], booking.appointments[1]

    def record(appointment_id: int, at: datetime) -> None:
        sign_treatment(clinic.db, clinic.patient.id)
        services.record_session(
            clinic.db,
            {
                "performed_at": at.isoformat(),
                "areas": ["full_face"],
                "device": "pen",
                "needle_depth_mm": {"full_face": 1.5},
                "passes": 2,
                "practitioner_id": clinic.alice.id,
            },
            appointment_id=appointment_id,
        )

    record(first.id, first.start)
    services.mark_missed(clinic.db, second.id)
    assert services.course_file(clinic.db, course_id).course.remaining_sessions == 4
    services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    for appt in [a for a in _live(clinic, course_id) if a.status is AppointmentStatus.BOOKED]:
        assert services.course_file(clinic.db, course_id).course.status is CourseStatus.ACTIVE
        record(appt.id, appt.start)
    done = services.course_file(clinic.db, course_id)
    assert done.course.status is CourseStatus.COMPLETED
    assert done.course.remaining_sessions == 0
    assert len(done.sessions) == done.course.planned_sessions == 5
    assert [a.status for a in done.appointments].count(AppointmentStatus.MISSED) == 1
    assert second.id not in {s.appointment_id for s in done.sessions}


def test_default_is_today_in_the_clinic_zone_and_the_past_is_refused(clinic: Any) -> None:
    """08:00 in Sydney is still yesterday in UTC: 'today' is the clinic's, and no time of today
    that has passed is offered."""
    booking = _book(clinic)
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    missed_day = second.start.astimezone(SYDNEY.tz).date()
    now = datetime.combine(missed_day + timedelta(days=2), datetime.min.time(), SYDNEY.tz)
    now = now.replace(hour=14, minute=10)
    utc_day = now.astimezone(ZoneInfo("UTC")).date()
    assert utc_day == now.date()  # 14:10 Sydney is 03:10 UTC the same day
    early = now.replace(hour=8)
    assert early.astimezone(ZoneInfo("UTC")).date() == now.date() - timedelta(days=1)
    with pytest.raises(InputError, match="not_before") as err:
        services.rebook_missed(
            clinic.db, second.id, SYDNEY, not_before=now.date() - timedelta(days=1), now=early
        )
    assert "today is" in str(err.value)
    assert "Australia/Sydney" in str(err.value)
    plan = services.rebook_missed(clinic.db, second.id, SYDNEY, preview=True, now=now)
    assert plan.not_before == now.date()
    assert plan.session.start >= now
    assert _appointments(clinic, booking.course.id)[1].status is AppointmentStatus.MISSED


def test_only_an_owed_missed_course_session_is_rebooked(clinic: Any) -> None:
    booking = _book(clinic)
    course_id = booking.course.id
    first, second = booking.appointments[0], booking.appointments[1]
    with pytest.raises(StateError, match="only a missed or cancelled appointment"):
        services.rebook_missed(clinic.db, first.id, SYDNEY, now=BEFORE_THE_COURSE)
    services.mark_missed(clinic.db, second.id)
    services.adjust_sessions(clinic.db, course_id, -1, "patient wants four sessions")
    with pytest.raises(StateError, match="needs no new booking"):
        services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    services.adjust_sessions(clinic.db, course_id, 1, "back to five")
    plan = services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    assert plan.appointment is not None
    with pytest.raises(StateError, match=f"already rebooked as appointment {plan.appointment.id}"):
        services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    services.mark_missed(clinic.db, first.id)
    services.change_course_status(clinic.db, course_id, "cancelled")
    with pytest.raises(StateError, match="cancelled"):
        services.rebook_missed(clinic.db, first.id, SYDNEY, now=BEFORE_THE_COURSE)
    review = services.book_appointment(
        clinic.db,
        clinic.patient.id,
        (datetime(2031, 9, 1, 10, tzinfo=SYDNEY.tz), datetime(2031, 9, 1, 11, tzinfo=SYDNEY.tz), 1),
        kind="review",
    )
    services.mark_missed(clinic.db, review.id)
    with pytest.raises(StateError, match="outside a course"):
        services.rebook_missed(clinic.db, review.id, SYDNEY, now=BEFORE_THE_COURSE)


def test_a_booking_that_takes_the_slot_at_the_same_moment_saves_nothing(
    clinic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-plan saw the slot free; another booking claims it before the save: the slot claim
    refuses the double booking and the whole rebooking rolls back."""
    booking = _book(clinic)
    course_id = booking.course.id
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    before = _appointments(clinic, course_id)
    other = services.register_patient(
        clinic.db,
        {
            "consent_treatment": True,
            "given_name": "Olga",
            "family_name": "Other",
            "birth_date": "1970-01-01",
        },
    )
    real = services.rebooking.replan

    def replan_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        taken = result.schedule.session(2)
        ids = services.sync_practitioners(clinic.db, SYDNEY)
        services.book_appointment(
            clinic.db, other.id, (taken.start, taken.end, ids[taken.practitioner]), kind="review"
        )
        return result

    monkeypatch.setattr(services.rebooking, "replan", replan_then_lose_the_race)
    with pytest.raises(ConflictError, match="double booking refused"):
        services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    assert _appointments(clinic, course_id) == before
    assert [a.kind.value for a in services.patient_file(clinic.db, other.id).appointments] == [
        "review"
    ]


def test_a_proposal_made_before_the_calendar_changed_is_not_saved(clinic: Any) -> None:
    booking = _book(clinic)
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    shown = services.rebook_missed(
        clinic.db, second.id, SYDNEY, preview=True, now=BEFORE_THE_COURSE
    )
    other = services.register_patient(
        clinic.db,
        {
            "consent_treatment": True,
            "given_name": "Olga",
            "family_name": "Other",
            "birth_date": "1970-01-01",
        },
    )
    services.book_appointment(
        clinic.db, other.id, (shown.session.start, shown.session.end, shown.practitioner_id)
    )
    before = _appointments(clinic, booking.course.id)
    with pytest.raises(ConflictError, match="calendar changed"):
        services.rebook_missed(
            clinic.db, second.id, SYDNEY, expect=shown.proposal, now=BEFORE_THE_COURSE
        )
    assert _appointments(clinic, booking.course.id) == before
    fresh = services.rebook_missed(clinic.db, second.id, SYDNEY, now=BEFORE_THE_COURSE)
    assert fresh.appointment is not None
    assert fresh.appointment.start != shown.session.start


def test_ics_keeps_its_uids_and_raises_the_rebooked_sessions_sequence(clinic: Any) -> None:
    booking = _book(clinic)
    course_id = booking.course.id
    planned = Calendar.from_ical(course_ics(services.course_schedule(clinic.db, course_id, SYDNEY)))
    services.mark_missed(clinic.db, booking.appointments[1].id)
    plan = services.rebook_missed(
        clinic.db,
        booking.appointments[1].id,
        SYDNEY,
        not_before=date(2031, 3, 24),
        now=BEFORE_THE_COURSE,
    )
    rebooked = Calendar.from_ical(
        course_ics(services.course_schedule(clinic.db, course_id, SYDNEY))
    )

    def events(cal: Calendar) -> dict[str, tuple[int, datetime]]:
        return {str(e["UID"]): (int(e["SEQUENCE"]), e["DTSTART"].dt) for e in cal.walk("VEVENT")}

    old, new = events(planned), events(rebooked)
    assert old.keys() == new.keys(), "same UIDs: calendars update the events"
    ordered = sorted(new.values(), key=lambda v: v[1])
    assert ordered[0][0] == 0
    assert ordered[1] == (1, plan.session.start)  # session 2: new time, SEQUENCE + 1
    moved = {m.id for m in plan.moved}
    assert moved, "a rebooking past the window moves the later sessions"
    expected = [1 if a.id in moved else 0 for a in plan.ordered[2:]]
    assert [seq for seq, _ in ordered[2:]] == expected


@pytest.mark.parametrize(
    ("timezone", "start", "not_before"),
    [
        ("Australia/Sydney", date(2031, 2, 3), date(2031, 4, 7)),  # AEDT -> AEST on Apr 6
        ("America/Los_Angeles", date(2031, 1, 6), date(2031, 3, 10)),  # PST -> PDT on Mar 9
    ],
)
def test_rebooking_across_a_dst_change_keeps_the_wall_clock_time(
    clinic: Any, timezone: str, start: date, not_before: date
) -> None:
    config = clinic_config(timezone)
    booking = _book(clinic, config, start)
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    plan = services.rebook_missed(
        clinic.db,
        second.id,
        config,
        not_before=not_before,
        now=datetime(2031, 1, 2, 9, tzinfo=config.tz),
    )
    assert plan.appointment is not None
    tz = config.tz
    first = booking.appointments[0].start.astimezone(tz)
    new = plan.appointment.start.astimezone(tz)
    assert new.date() >= not_before
    assert (new.hour, new.minute) == (first.hour, first.minute) == (10, 0)
    assert new.utcoffset() != first.utcoffset(), "the offset changed, the wall clock did not"
    assert any("later than the protocol" in w for w in plan.replan.schedule.warnings)
    assert plan.replan.gaps
    assert plan.replan.gaps[0].session_number == 2
    for a in _live(clinic, booking.course.id):
        local = a.start.astimezone(tz)
        assert (local.hour, local.minute) == (10, 0)


def test_a_chosen_practitioner_treats_the_rebooked_and_the_moved_sessions(clinic: Any) -> None:
    booking = _book(clinic)
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    plan = services.rebook_missed(
        clinic.db,
        second.id,
        SYDNEY,
        not_before=date(2031, 3, 24),
        practitioner="Bob Practitioner",
        now=BEFORE_THE_COURSE,
    )
    assert plan.appointment is not None
    assert plan.appointment.practitioner_id == clinic.bob.id
    assert plan.moved
    assert {a.practitioner_id for a in plan.moved} == {clinic.bob.id}
    with pytest.raises(InputError, match="practitioner"):
        services.rebook_missed(
            clinic.db, second.id, SYDNEY, practitioner="Nobody", now=BEFORE_THE_COURSE
        )


def test_a_course_that_can_no_longer_fit_names_the_session_and_why(clinic: Any) -> None:
    """The clinic is closed for a year from the day after the miss: nothing is stored and the
    error names session 2, the closure and that nothing is free after the window."""
    booking = _book(clinic)
    second = booking.appointments[1]
    services.mark_missed(clinic.db, second.id)
    day = second.start.astimezone(SYDNEY.tz).date()
    closed = clinic_config(
        closures=[
            {
                "start": day + timedelta(days=1),
                "end": day + timedelta(days=400),
                "reason": "flood repairs",
            }
        ]
    )
    before = _appointments(clinic, booking.course.id)
    with pytest.raises(SchedulingError) as err:
        services.rebook_missed(clinic.db, second.id, closed, now=BEFORE_THE_COURSE)
    assert isinstance(err.value, SessionSchedulingError)
    assert err.value.session_number == 2
    assert "flood repairs" in err.value.reason
    assert "session 2:" in str(err.value)
    assert _appointments(clinic, booking.course.id) == before

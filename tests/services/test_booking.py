"""Booking use-cases: courses booked all-or-nothing, moves, cancellations, ledger and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.exceptions import BlockedError, ConflictError, InputError, NotFoundError, StateError
from tests.consent_support import sign_treatment

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def slots(who: int, n: int = 3, start: datetime = T0) -> list[tuple[datetime, datetime, int]]:
    return [
        (start + timedelta(days=35 * i), start + timedelta(days=35 * i, minutes=45), who)
        for i in range(n)
    ]


def counts(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from needleplan.storage.tables import metadata

    with db.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def test_book_course_stores_snapshot_ledger_and_numbered_appointments(
    clinic: Any, protocol: Any
) -> None:
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    assert booking.course.status is CourseStatus.PLANNED
    assert booking.course.guideline_version == "test-1"
    assert booking.course.protocol == protocol
    assert booking.course.remaining_sessions == 3
    assert [a.session_number for a in booking.appointments] == [1, 2, 3]
    assert all(a.start.tzinfo is not None for a in booking.appointments)
    assert booking.appointments[0].start == T0
    ledger = services.course_file(clinic.db, booking.course.id).ledger
    assert [(e.delta, e.remaining_after) for e in ledger] == [(3, 3)]


def test_clash_in_any_session_books_nothing(clinic: Any, protocol: Any) -> None:
    services.book_appointment(
        clinic.db,
        clinic.patient.id,
        (T0 + timedelta(days=70, minutes=30), T0 + timedelta(days=70, minutes=90), clinic.alice.id),
    )
    before = counts(clinic.db)
    with pytest.raises(ConflictError, match="already booked"):
        services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    assert counts(clinic.db) == before


def test_other_practitioner_same_time_is_fine(clinic: Any, protocol: Any) -> None:
    services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "A",
            "family_name": "B",
            "birth_date": "1980-01-01",
            "consent_treatment": True,
        },
    )
    booking = services.book_course(clinic.db, other.id, protocol, slots(clinic.bob.id))
    assert len(booking.appointments) == 3


def test_adjacent_appointments_do_not_clash(clinic: Any) -> None:
    services.book_appointment(
        clinic.db, clinic.patient.id, (T0, T0 + timedelta(minutes=30), clinic.alice.id)
    )
    services.book_appointment(
        clinic.db,
        clinic.patient.id,
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=60), clinic.alice.id),
    )
    with pytest.raises(ConflictError):
        services.book_appointment(
            clinic.db,
            clinic.patient.id,
            (T0 + timedelta(minutes=55), T0 + timedelta(minutes=65), clinic.alice.id),
        )


def test_blocked_protocol_is_refused(clinic: Any, make_protocol: Any) -> None:
    with pytest.raises(BlockedError):
        services.book_course(clinic.db, clinic.patient.id, make_protocol(blocked=True), [])


def test_slots_overlapping_each_other_are_input_errors(clinic: Any, protocol: Any) -> None:
    bad = [
        (T0, T0 + timedelta(hours=1), clinic.alice.id),
        (T0 + timedelta(minutes=30), T0 + timedelta(hours=2), clinic.bob.id),
    ]
    with pytest.raises(InputError, match="overlaps"):
        services.book_course(clinic.db, clinic.patient.id, protocol, bad)


def test_naive_or_reversed_slot_is_rejected_naming_the_field(clinic: Any, protocol: Any) -> None:
    with pytest.raises(InputError, match=r"slots\[0\]\.start"):
        services.book_course(
            clinic.db,
            clinic.patient.id,
            protocol,
            [(datetime(2030, 1, 1, 9), datetime(2030, 1, 1, 10), clinic.alice.id)],
        )
    with pytest.raises(InputError, match="end must be after start"):
        services.book_course(
            clinic.db, clinic.patient.id, protocol, [(T0, T0 - timedelta(hours=1), clinic.alice.id)]
        )


def test_unknown_patient_or_practitioner_is_not_found(clinic: Any, protocol: Any) -> None:
    with pytest.raises(NotFoundError):
        services.book_course(clinic.db, 9999, protocol, slots(clinic.alice.id))
    with pytest.raises(NotFoundError):
        services.book_course(clinic.db, clinic.patient.id, protocol, slots(4242))


def test_move_frees_old_time_and_claims_new(clinic: Any, protocol: Any) -> None:
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    first = booking.appointments[0]
    new_start = T0 + timedelta(days=1)
    moved = services.move_appointment(
        clinic.db, first.id, (new_start, new_start + timedelta(minutes=45), clinic.alice.id)
    )
    assert moved.start == new_start
    other = services.book_appointment(
        clinic.db, clinic.patient.id, (T0, T0 + timedelta(minutes=45), clinic.alice.id)
    )
    assert other.start == T0
    with pytest.raises(ConflictError):
        services.move_appointment(
            clinic.db,
            booking.appointments[1].id,
            (new_start, new_start + timedelta(minutes=10), clinic.alice.id),
        )


def test_reschedule_swaps_two_appointments_atomically(clinic: Any, protocol: Any) -> None:
    a, b, _ = services.book_course(
        clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id)
    ).appointments
    moved = services.reschedule(
        clinic.db,
        [(a.id, (b.start, b.end, clinic.alice.id)), (b.id, (a.start, a.end, clinic.alice.id))],
    )
    assert [m.start for m in moved] == [b.start, a.start]


def test_cancel_frees_the_slot_and_cannot_repeat(clinic: Any) -> None:
    appt = services.book_appointment(
        clinic.db, clinic.patient.id, (T0, T0 + timedelta(minutes=30), clinic.alice.id)
    )
    cancelled = services.cancel_appointment(clinic.db, appt.id, reason="patient ill")
    assert cancelled.status is AppointmentStatus.CANCELLED
    services.book_appointment(
        clinic.db, clinic.patient.id, (T0, T0 + timedelta(minutes=30), clinic.alice.id)
    )
    with pytest.raises(StateError):
        services.cancel_appointment(clinic.db, appt.id)


def _session(who: int, at: datetime) -> dict[str, Any]:
    return {
        "performed_at": at.isoformat(),
        "areas": ["full_face"],
        "device": "Dermapen 4",
        "needle_depth_mm": {"full_face": 1.0},
        "passes": 3,
        "product": "hyaluronic serum",
        "lot": "L123",
        "practitioner_id": who,
        "adverse_events": [{"kind": "erythema", "severity": "mild"}],
    }


def test_sessions_move_course_through_active_to_completed_and_open_recall(
    clinic: Any, protocol: Any
) -> None:
    booking = services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    for i, appt in enumerate(booking.appointments):
        sign_treatment(clinic.db, clinic.patient.id)
        services.record_session(
            clinic.db, _session(clinic.alice.id, appt.start), appointment_id=appt.id
        )
        course = services.course_file(clinic.db, booking.course.id).course
        assert course.remaining_sessions == 2 - i
        assert course.status is (CourseStatus.ACTIVE if i < 2 else CourseStatus.COMPLETED)
    file = services.course_file(clinic.db, booking.course.id)
    assert sum(e.delta for e in file.ledger) == 0
    assert all(a.status is AppointmentStatus.PERFORMED for a in file.appointments)
    recalls = services.recall_list(clinic.db)
    assert len(recalls) == 1
    last = booking.appointments[-1].start.date()
    assert recalls[0].due_date == services.add_months(last, 6)


def test_record_session_twice_on_one_appointment_is_state_error(clinic: Any, protocol: Any) -> None:
    appt = services.book_course(
        clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id)
    ).appointments[0]
    sign_treatment(clinic.db, clinic.patient.id)
    services.record_session(
        clinic.db, _session(clinic.alice.id, appt.start), appointment_id=appt.id
    )
    with pytest.raises(StateError):
        services.record_session(
            clinic.db, _session(clinic.alice.id, appt.start), appointment_id=appt.id
        )


def test_session_missing_depth_for_an_area_names_the_rule(clinic: Any) -> None:
    data = _session(clinic.alice.id, T0) | {"areas": ["full_face", "neck"]}
    with pytest.raises(InputError, match="needle_depth_mm lacks a depth for neck"):
        services.record_session(clinic.db, data, patient_id=clinic.patient.id)


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["cancelled"], "cancelled"),
        (["active", "lapsed"], "lapsed"),
        (["active", "cancelled"], "cancelled"),
    ],
)
def test_legal_course_transitions(clinic: Any, protocol: Any, path: list[str], final: str) -> None:
    course = services.book_course(
        clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id)
    ).course
    for status in path:
        course = services.change_course_status(clinic.db, course.id, status)
    assert course.status.value == final


def test_illegal_transition_is_state_error_and_changes_nothing(clinic: Any, protocol: Any) -> None:
    course = services.book_course(
        clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id)
    ).course
    with pytest.raises(StateError, match="planned to completed"):
        services.change_course_status(clinic.db, course.id, "completed")
    assert services.course_file(clinic.db, course.id).course.status is CourseStatus.PLANNED


def test_cancelling_a_course_frees_its_booked_times(clinic: Any, protocol: Any) -> None:
    course = services.book_course(
        clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id)
    ).course
    services.change_course_status(clinic.db, course.id, "cancelled")
    again = services.book_course(clinic.db, clinic.patient.id, protocol, slots(clinic.alice.id))
    assert len(again.appointments) == 3


def test_adjust_sessions_records_reason_in_ledger(clinic: Any, protocol: Any) -> None:
    course = services.book_course(clinic.db, clinic.patient.id, protocol, []).course
    entry = services.adjust_sessions(clinic.db, course.id, 2, "slow response at review")
    assert entry.remaining_after == 5
    with pytest.raises(InputError):
        services.adjust_sessions(clinic.db, course.id, -9, "typo")


def test_a_patient_with_an_open_course_cannot_be_booked_a_second_one(
    clinic: Any, protocol: Any
) -> None:
    """Two open courses would double-book the patient herself; the second is refused whole."""
    start = datetime(2031, 3, 3, 9, tzinfo=UTC)
    services.book_course(
        clinic.db,
        clinic.patient.id,
        protocol,
        [(start, start + timedelta(minutes=40), clinic.alice.id)],
    )
    later = start + timedelta(minutes=45)
    before = services.appointments_between(
        clinic.db, start - timedelta(days=1), start + timedelta(days=1)
    )
    with pytest.raises(StateError, match="already has course"):
        services.book_course(
            clinic.db,
            clinic.patient.id,
            protocol,
            [(later, later + timedelta(minutes=40), clinic.bob.id)],
        )
    after = services.appointments_between(
        clinic.db, start - timedelta(days=1), start + timedelta(days=1)
    )
    assert after == before

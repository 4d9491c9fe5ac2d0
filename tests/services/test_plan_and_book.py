"""Plan and book: protocol from the assessment + clinic calendar dates + all-or-nothing booking."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.exceptions import BlockedError, StateError
from needleplan.scheduling import example_clinic
from tests.consent_support import sign_treatment


def test_plans_from_newest_assessment_and_books_every_session(clinic: Any) -> None:
    record = services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    planned = services.plan_and_book_course(
        clinic.db, clinic.patient.id, date(2030, 9, 2), example_clinic()
    )
    booking = planned.booking
    assert booking.course.assessment_id == record.id
    assert booking.course.planned_sessions == planned.booking.course.protocol.initial_sessions
    assert booking.course.guideline_version == planned.booking.course.protocol.guideline_version
    assert (
        len(booking.appointments)
        == len(planned.schedule.sessions)
        == booking.course.planned_sessions
    )
    assert [a.start for a in booking.appointments] == [s.start for s in planned.schedule.sessions]


def test_second_patient_is_dated_around_existing_bookings(clinic: Any) -> None:
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "Ann",
            "family_name": "Other",
            "birth_date": f"{date.today().year - 50}-01-01",  # 50, the reference age
            "consent_treatment": True,
        },
    )
    for pid in (clinic.patient.id, other.id):
        services.record_assessment(clinic.db, pid, reference_assessment())
    cfg = example_clinic()
    first = services.plan_and_book_course(
        clinic.db, clinic.patient.id, date(2030, 9, 2), cfg, practitioner="Marta Nowak"
    )
    second = services.plan_and_book_course(
        clinic.db, other.id, date(2030, 9, 2), cfg, practitioner="Marta Nowak"
    )
    taken = {(a.start, a.end) for a in first.booking.appointments}
    for appt in second.booking.appointments:
        assert all(appt.end <= s or appt.start >= e for s, e in taken)


def test_no_assessment_means_state_error(clinic: Any) -> None:
    with pytest.raises(StateError, match="no assessment"):
        services.plan_and_book_course(
            clinic.db, clinic.patient.id, date(2030, 9, 2), example_clinic()
        )


def test_absolute_contraindication_blocks_and_books_nothing(clinic: Any) -> None:
    data = reference_assessment().to_json_dict() | {"contraindications": ["pregnancy"]}
    services.record_assessment(clinic.db, clinic.patient.id, data)
    with pytest.raises(BlockedError):
        services.plan_and_book_course(
            clinic.db, clinic.patient.id, date(2030, 9, 2), example_clinic()
        )
    assert services.patient_file(clinic.db, clinic.patient.id).courses == []


def test_forecast_drives_recall_due_date_after_last_session(clinic: Any) -> None:
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    cfg = example_clinic()
    planned = services.plan_and_book_course(clinic.db, clinic.patient.id, date(2030, 9, 2), cfg)
    ids = services.sync_practitioners(clinic.db, cfg)
    due_rule = services.forecast_maintenance_due(cfg)
    for s, appt in zip(planned.schedule.sessions, planned.booking.appointments, strict=True):
        sign_treatment(clinic.db, clinic.patient.id)
        services.record_session(
            clinic.db,
            {
                "performed_at": appt.start.isoformat(),
                "areas": ["full_face"],
                "device": "pen",
                "needle_depth_mm": {"full_face": 1.0},
                "passes": 2,
                "practitioner_id": ids[s.practitioner],
            },
            appointment_id=appt.id,
            maintenance_due=due_rule,
        )
    (recall,) = services.recall_list(clinic.db)
    last = planned.booking.appointments[-1].start.date()
    protocol = planned.booking.course.protocol
    assert services.add_months(last, protocol.maintenance_interval_months.min) <= recall.due_date
    assert recall.due_date <= services.add_months(last, protocol.maintenance_interval_months.max)


def test_clash_between_dating_and_booking_is_redated_not_double_booked(
    clinic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another desk books the proposed first slot after it was dated: the course is re-dated."""
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    other = services.register_patient(
        clinic.db,
        {
            "consent_treatment": True,
            "given_name": "Q",
            "family_name": "Fast",
            "birth_date": "1970-01-01",
        },
    )
    cfg = example_clinic()
    ids = services.sync_practitioners(clinic.db, cfg)
    real = services.booking.schedule_course
    calls: list[int] = []

    def racing_schedule(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if not calls:
            first = result.sessions[0]
            services.book_appointment(
                clinic.db, other.id, (first.start, first.end, ids[first.practitioner])
            )
        calls.append(1)
        return result

    monkeypatch.setattr(services.booking, "schedule_course", racing_schedule)
    planned = services.plan_and_book_course(
        clinic.db, clinic.patient.id, date(2030, 9, 2), cfg, practitioner="Marta Nowak"
    )
    assert len(calls) == 2
    theirs = services.patient_file(clinic.db, other.id).appointments[0]
    for appt in planned.booking.appointments:
        assert appt.end <= theirs.start or appt.start >= theirs.end

"""Running the visit (services.visits): check in, chart, no-show, cancel with the clinic's
wall-clock rules, the acting account's role, and the audit event in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus, CourseStatus, Role
from needleplan.exceptions import (
    ConsentRequiredError,
    InputError,
    PermissionDeniedError,
    StateError,
)
from needleplan.scheduling import example_clinic
from needleplan.services import visits
from tests.consent_support import sign_treatment

T0 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
CLINIC = example_clinic()


def _slots(who: int, n: int = 2) -> list[tuple[datetime, datetime, int]]:
    return [
        (T0 + timedelta(days=35 * i), T0 + timedelta(days=35 * i, minutes=45), who)
        for i in range(n)
    ]


def _chart(who: int | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "areas": ["full_face", "neck"],
        "device": "Dermapen 4",
        "needle_depth_mm": {"full_face": 1.0, "neck": 0.5},
        "passes": 3,
        "product": "HA serum",
        "lot": "LOT-42",
        "adverse_events": [{"kind": "erythema", "severity": "mild"}],
    }
    if who is not None:
        data["practitioner_id"] = who
    data.update(extra)
    return data


@pytest.fixture
def setup(clinic: Any, protocol: Any) -> Any:
    db = clinic.db
    clinic.prac = services.create_user(
        db, "pia", "pia-password-123", Role.PRACTITIONER, practitioner_id=clinic.alice.id
    )
    clinic.desk = services.create_user(db, "finn", "finn-password-123", Role.FRONT_DESK)
    clinic.admin = services.create_user(db, "ada", "ada-password-1234", Role.ADMIN)
    clinic.booking = services.book_course(
        db,
        clinic.patient.id,
        protocol.model_copy(update={"initial_sessions": 2}),
        _slots(clinic.alice.id),
    )
    clinic.consent = sign_treatment(db, clinic.patient.id)
    return clinic


def _actions(db: Any) -> list[tuple[str, str]]:
    events, _ = services.search_audit(db, limit=1000)
    return [(e.username, e.action) for e in events]


def test_check_in_then_chart_updates_the_ledger_and_the_last_opens_the_recall(setup: Any) -> None:
    db, first, second = setup.db, *setup.booking.appointments
    arrived = visits.check_in(db, setup.desk, first.id, CLINIC, now=T0 - timedelta(minutes=10))
    assert arrived.status is AppointmentStatus.ARRIVED
    assert arrived.arrived_at == T0 - timedelta(minutes=10)
    session = visits.chart(db, setup.prac, first.id, _chart(), CLINIC, now=T0 + timedelta(hours=1))
    assert session.practitioner_id == setup.alice.id  # the actor's practitioner by default
    assert session.performed_at == T0 + timedelta(hours=1)
    assert session.lot == "LOT-42"
    course = services.course_file(db, setup.booking.course.id)
    assert course.course.status is CourseStatus.ACTIVE
    assert course.course.remaining_sessions == 1
    later = second.start + timedelta(minutes=5)
    visits.chart(db, setup.prac, second.id, _chart(), CLINIC, now=later)
    done = services.course_file(db, setup.booking.course.id)
    assert done.course.status is CourseStatus.COMPLETED
    assert [e.remaining_after for e in done.ledger] == [2, 1, 0]
    recalls = services.recall_list(db)
    assert [r.patient_id for r in recalls] == [setup.patient.id]
    assert recalls[0].due_date > later.date()
    assert ("finn", "appointment.check_in") in _actions(db)
    assert _actions(db).count(("pia", "session.record")) == 2


def test_chart_and_check_in_are_refused_before_the_window_and_store_nothing(setup: Any) -> None:
    db, first = setup.db, setup.booking.appointments[0]
    early = T0 - timedelta(minutes=31)
    with pytest.raises(InputError, match=r"cannot be charted before .*30 min before the start"):
        visits.chart(db, setup.prac, first.id, _chart(), CLINIC, now=early)
    with pytest.raises(InputError, match="cannot be checked in before"):
        visits.check_in(db, setup.desk, first.id, CLINIC, now=early)
    assert services.get_appointment(db, first.id).status is AppointmentStatus.BOOKED
    assert services.course_file(db, setup.booking.course.id).course.remaining_sessions == 2
    assert _actions(db) == [("consent-desk", "consent.sign")]  # the fixture's, nothing more


def test_chart_refuses_a_performed_at_in_the_future_naming_the_field(setup: Any) -> None:
    first = setup.booking.appointments[0]
    with pytest.raises(InputError) as caught:
        visits.chart(
            setup.db,
            setup.prac,
            first.id,
            _chart(performed_at=(T0 + timedelta(hours=2)).isoformat()),
            CLINIC,
            now=T0,
        )
    assert caught.value.problems[0].field == "performed_at"
    assert "future" in caught.value.problems[0].rule


def test_chart_refuses_bad_input_with_the_field(setup: Any) -> None:
    first = setup.booking.appointments[0]
    with pytest.raises(InputError) as caught:
        visits.chart(
            setup.db,
            setup.prac,
            first.id,
            _chart(needle_depth_mm={"full_face": 9}),
            CLINIC,
            now=T0,
        )
    assert "needle_depth_mm" in str(caught.value)


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_only_a_practitioner_charts(setup: Any, who: str) -> None:
    with pytest.raises(PermissionDeniedError):
        visits.chart(
            setup.db,
            getattr(setup, who),
            setup.booking.appointments[0].id,
            _chart(),
            CLINIC,
            now=T0,
        )


def test_no_show_only_once_started_and_never_after_check_in(setup: Any) -> None:
    db, first, second = setup.db, *setup.booking.appointments
    with pytest.raises(InputError, match="no-show before it has started"):
        visits.no_show(db, setup.desk, first.id, now=T0 - timedelta(minutes=1))
    assert visits.no_show(db, setup.desk, first.id, now=T0).status is AppointmentStatus.MISSED
    visits.check_in(db, setup.desk, second.id, CLINIC, now=second.start)
    with pytest.raises(StateError, match="cannot change from arrived to missed"):
        visits.no_show(db, setup.desk, second.id, now=second.start + timedelta(hours=1))
    assert _actions(db).count(("finn", "appointment.missed")) == 1


def test_cancel_needs_a_reason_and_records_whether_it_was_late(setup: Any) -> None:
    db, first, second = setup.db, *setup.booking.appointments
    with pytest.raises(InputError) as caught:
        visits.cancel(db, setup.desk, first.id, "  ", CLINIC, now=T0 - timedelta(days=3))
    assert caught.value.problems[0].field == "reason"
    early = visits.cancel(db, setup.desk, first.id, "holiday", CLINIC, now=T0 - timedelta(days=3))
    assert (early.status, early.cancel_reason, early.cancelled_late) == (
        AppointmentStatus.CANCELLED,
        "holiday",
        False,
    )
    late = visits.cancel(
        db, setup.admin, second.id, "ill", CLINIC, now=second.start - timedelta(hours=23)
    )
    assert late.cancelled_late is True
    details = [e.detail for e in services.search_audit(db, action="appointment.cancel")[0]]
    assert sorted(details) == [
        f"appointment {first.id} late=no",
        f"appointment {second.id} late=yes",
    ]


def test_an_arrived_visit_can_be_cancelled_when_she_leaves_untreated(setup: Any) -> None:
    first = setup.booking.appointments[0]
    visits.check_in(setup.db, setup.desk, first.id, CLINIC, now=T0)
    gone = visits.cancel(setup.db, setup.desk, first.id, "left", CLINIC, now=T0)
    assert gone.status is AppointmentStatus.CANCELLED
    assert gone.cancelled_late is True


def test_a_cancelled_course_session_is_owed_and_rebooked_like_a_missed_one(setup: Any) -> None:
    db, first = setup.db, setup.booking.appointments[0]
    cancelled = visits.cancel(db, setup.desk, first.id, "ill", CLINIC, now=T0 - timedelta(days=5))
    assert services.can_rebook(cancelled)
    plan = services.rebook_missed(db, first.id, CLINIC, now=T0 - timedelta(days=5))
    assert plan.saved
    assert plan.appointment is not None
    assert plan.appointment.status is AppointmentStatus.BOOKED
    assert services.rebooked_as(services.get_appointment(db, first.id)) == plan.appointment.id
    with pytest.raises(StateError, match="already rebooked"):
        services.rebook_missed(db, first.id, CLINIC, now=T0 - timedelta(days=5))


def test_chart_missing_lists_past_visits_neither_charted_nor_closed(setup: Any) -> None:
    db, first, second = setup.db, *setup.booking.appointments
    after_both = second.end + timedelta(hours=1)
    missing = visits.chart_missing(db, setup.prac, now=after_both)
    assert [a.id for a in missing] == [first.id, second.id]
    visits.chart(db, setup.prac, first.id, _chart(), CLINIC, now=T0 + timedelta(hours=1))
    visits.no_show(db, setup.desk, second.id, now=after_both)
    assert visits.chart_missing(db, setup.prac, now=after_both) == []
    assert visits.chart_missing(db, setup.prac, now=T0 - timedelta(days=1)) == []
    with pytest.raises(PermissionDeniedError):
        visits.chart_missing(db, setup.desk, now=after_both)


def test_a_deactivated_account_cannot_act(setup: Any) -> None:
    services.deactivate_user(setup.db, setup.desk.id)
    gone = services.find_user(setup.db, setup.desk.id)
    assert gone is not None
    with pytest.raises(PermissionDeniedError):
        visits.check_in(setup.db, gone, setup.booking.appointments[0].id, CLINIC, now=T0)


def test_charting_needs_a_current_treatment_consent(setup: Any) -> None:
    """Withdrawn consent: the chart is refused naming why, nothing changes (the visit stays
    booked, the ledger whole, no session); signing again lets the practitioner chart."""
    from needleplan.services.consent_forms import withdraw_consent

    db, first = setup.db, setup.booking.appointments[0]
    withdraw_consent(db, setup.prac, setup.patient.id, setup.consent.id, "wants to think")
    with pytest.raises(ConsentRequiredError, match="withdrew her treatment consent"):
        visits.chart(db, setup.prac, first.id, _chart(), CLINIC, now=T0 + timedelta(hours=1))
    assert services.get_appointment(db, first.id).status is AppointmentStatus.BOOKED
    assert services.course_file(db, setup.booking.course.id).course.remaining_sessions == 2
    sign_treatment(db, setup.patient.id)
    visits.chart(db, setup.prac, first.id, _chart(), CLINIC, now=T0 + timedelta(hours=1))
    assert services.get_appointment(db, first.id).status is AppointmentStatus.PERFORMED

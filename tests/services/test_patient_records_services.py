"""Keeping the record right in the library: duplicates, consent history, merge, no measurement
dated in the future, the assessment's age against the birth date, and what her learned forecast
implies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.intake import IntakeChannel
from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import (
    DuplicatePatientError,
    InputError,
    StateError,
)
from needleplan.services.learned_forecast import (
    POOR_RESPONSE_Z,
    implications_of,
    learned_forecast,
)
from tests.conftest import make_protocol_value
from tests.consent_support import sign_treatment
from tests.outcome_support import add_patient_with_outcomes

JANE = {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}


def test_name_and_birth_date_match_case_insensitively(clinic: Any) -> None:
    with pytest.raises(DuplicatePatientError, match=f"patient {clinic.patient.id}") as caught:
        services.register_patient(clinic.db, {**JANE, "given_name": "JANE"})
    assert caught.value.matches == [
        (clinic.patient.id, clinic.patient.mrn, "name and date of birth")
    ]


def test_phone_matches_by_its_digits_and_email_by_its_letters(clinic: Any) -> None:
    services.update_patient(clinic.db, clinic.patient.id, {"phone": "+44 20 7946 0958"})
    other = {"given_name": "Ann", "family_name": "Else", "birth_date": "1980-01-01"}
    with pytest.raises(DuplicatePatientError, match="same phone"):
        services.register_patient(clinic.db, {**other, "phone": "+44 (20) 7946-0958"})
    with pytest.raises(DuplicatePatientError, match="same e-mail"):
        services.register_patient(clinic.db, {**other, "email": "Jane@Example.org"})
    assert len(services.list_patients(clinic.db)) == 1


def test_confirmed_duplicate_is_registered_and_its_audit_says_which_record(clinic: Any) -> None:
    with services.audited(clinic.db, None, "patient.create", username="tester") as note:
        again = services.register_patient(clinic.db, JANE, confirm_duplicate=True, note=note)
        note.patient_id = again.id
    (event,) = services.audit_log(clinic.db, patient_id=again.id)
    assert event.detail == f"duplicate_confirmed={clinic.patient.id}"
    assert event.username == "tester"


def test_consents_given_and_withdrawn_are_kept_as_history(clinic: Any) -> None:
    db, pid = clinic.db, clinic.patient.id
    with services.audited(db, None, "patient.update", pid, username="desk1") as note:
        services.update_patient(db, pid, {"consent_contact": False, "email": None}, note=note)
    with services.audited(db, None, "patient.update", pid, username="desk2") as note:
        services.update_patient(db, pid, {"consent_research": True}, note=note)
    history = services.consent_history(db, pid)
    assert [(c.consent, c.granted, c.changed_by) for c in history][:2] == [
        ("research", True, "desk2"),
        ("contact", False, "desk1"),
    ]
    first_event = services.audit_log(db, patient_id=pid)[-1]
    assert first_event.detail == "changed=consent_contact,email"


def test_a_refused_edit_keeps_record_and_history(clinic: Any) -> None:
    db, pid = clinic.db, clinic.patient.id
    before = services.consent_history(db, pid)
    with pytest.raises(InputError, match="email"):
        services.update_patient(db, pid, {"consent_contact": False, "email": "bad"})
    assert services.consent_history(db, pid) == before
    assert services.get_patient(db, pid).consent_contact is True


def _booked(clinic: Any, pid: int, start: datetime) -> Any:
    slot = (start, start + timedelta(minutes=45), clinic.alice.id)
    return services.book_course(clinic.db, pid, make_protocol_value(1), [slot])


def test_merge_moves_every_child_record_and_deletes_the_duplicate(clinic: Any) -> None:
    db, keep = clinic.db, clinic.patient.id
    dup = services.register_patient(
        db,
        {**JANE, "phone": "+44 20 7946 0018", "consent_research": True, "consent_treatment": True},
        confirm_duplicate=True,
    )
    age = dup.age_on(datetime.now(UTC).date())
    services.record_assessment(db, dup.id, {"age": age, "severity": "mild", "areas": ["neck"]})
    booking = _booked(clinic, dup.id, datetime(2032, 3, 1, 9, tzinfo=UTC))
    services.record_measurement(
        db, dup.id, {"scale": "gais", "value": 2, "measured_at": "2025-02-01T10:00Z"}
    )
    services.add_recall(db, dup.id, datetime(2033, 1, 1).date(), reason="annual review")
    with db.transaction() as uow:  # intake answers she sent under the duplicate record
        uow.intake.add(dup.id, ("q", "1"), {}, {}, IntakeChannel.PORTAL, datetime.now(UTC), "x")
    sign_treatment(db, dup.id)
    with services.audited(db, None, "patient.merge", keep, username="tester") as note:
        result = services.merge_patients(db, keep, dup.id, note=note)
    assert result.moved == {
        "assessments": 1,
        "courses": 1,
        "appointments": 1,
        "sessions": 0,
        "measurements": 1,
        "recalls": 1,
        "consent_changes": 2,  # research and treatment, given at registration
        "outbox": 1,  # the booking's confirmation
        "waitlist": 0,
        "message_opt_outs": 0,
        "intake_responses": 1,
        "intake_kiosks": 0,
        "consent_forms": 1,  # her signed form is kept, now hers
        "portal_links": 0,
        "callback_requests": 0,
        "patient_languages": 0,
        "lead_states": 0,  # a contact request converted into her would follow her
        "patient_anonymisations": 0,  # found from the schema (issue 17, retention)
        "photos": 0,
        "online_bookings": 0,  # a consultation she booked on the public page would follow her
        "survey_answers": 0,
    }
    kept = services.patient_file(db, keep)
    assert [c.id for c in kept.courses] == [booking.course.id]
    assert kept.patient.phone == "+442079460018"  # her empty phone filled from the duplicate
    assert kept.patient.consent_research is False  # consents stay hers
    assert services.list_patients(db) == [kept.patient]
    (event,) = services.audit_log(db, patient_id=keep)
    assert event.action == "patient.merge"
    assert f"merged={dup.id}" in event.detail


def test_merge_refused_when_both_have_an_open_course_and_nothing_moves(clinic: Any) -> None:
    db, keep = clinic.db, clinic.patient.id
    dup = services.register_patient(db, {**JANE, "consent_treatment": True}, confirm_duplicate=True)
    _booked(clinic, keep, datetime(2032, 3, 1, 9, tzinfo=UTC))
    _booked(clinic, dup.id, datetime(2032, 3, 2, 9, tzinfo=UTC))
    with pytest.raises(StateError, match="both records have an open course"):
        services.merge_patients(db, keep, dup.id)
    assert len(services.patient_file(db, dup.id).courses) == 1
    with pytest.raises(InputError, match="into itself"):
        services.merge_patients(db, keep, keep)


def test_a_measurement_dated_in_the_future_is_refused_by_default(clinic: Any) -> None:
    ahead = datetime.now(UTC) + timedelta(hours=2)
    data = {"scale": "gais", "value": 2, "measured_at": ahead.isoformat()}
    with pytest.raises(InputError, match="cannot be dated in the future") as caught:
        services.record_measurement(clinic.db, clinic.patient.id, data)
    assert caught.value.problems[0].field == "measured_at"
    assert services.measurements_for(clinic.db, clinic.patient.id) == []
    stored = services.record_measurement(
        clinic.db, clinic.patient.id, data, now=ahead + timedelta(minutes=1)
    )
    assert stored.value == 2


def test_assessment_age_must_agree_with_the_birth_date(clinic: Any) -> None:
    born = clinic.patient.birth_date
    day = datetime(2025, 6, 1, 12, tzinfo=UTC)
    right = clinic.patient.age_on(day.date())
    with pytest.raises(InputError, match=f"the patient is {right} on 2025-06-01") as caught:
        services.record_assessment(
            clinic.db,
            clinic.patient.id,
            {"age": right + 3, "severity": "mild", "areas": ["neck"]},
            assessed_at=day,
        )
    assert caught.value.problems[0].field == "age"
    assert born.isoformat() in str(caught.value)
    services.record_assessment(
        clinic.db,
        clinic.patient.id,
        {"age": right, "severity": "mild", "areas": ["neck"]},
        assessed_at=day,
    )


def test_a_poor_responder_gets_an_extra_session_and_an_earlier_recall(clinic: Any) -> None:
    poor = add_patient_with_outcomes(
        clinic.db,
        clinic.alice.id,
        z=-2.0,
        seed=5,
        scales=tuple(MeasurementScale),
        course_protocol=make_protocol_value(3),
    )
    found = learned_forecast(clinic.db, poor.id, draws=300)
    assert found.measured
    assert found.outcome.update.posterior.mean <= POOR_RESPONSE_Z
    kinds = {i.kind: i for i in found.implications}
    assert "extra_session" in kinds
    assert "responds less than most patients" in kinds["extra_session"].reason
    if "recall" in kinds:
        assert kinds["recall"].text.startswith("recall earlier")
    assert all(" her " not in i.reason and " she " not in i.reason for i in found.implications)


def test_a_good_responder_gets_no_extra_session(clinic: Any) -> None:
    good = add_patient_with_outcomes(
        clinic.db,
        clinic.alice.id,
        z=1.5,
        seed=3,
        scales=tuple(MeasurementScale),
        course_protocol=make_protocol_value(3),
    )
    found = learned_forecast(clinic.db, good.id, draws=300)
    assert found.outcome.update.posterior.mean > 0.5
    assert "extra_session" not in {i.kind for i in found.implications}


def test_without_measurements_nothing_is_implied(clinic: Any) -> None:
    quiet = add_patient_with_outcomes(
        clinic.db, clinic.alice.id, z=0.0, seed=4, days=(), course_protocol=make_protocol_value(3)
    )
    found = learned_forecast(clinic.db, quiet.id, draws=200)
    assert not found.measured
    assert implications_of(found.outcome) == []

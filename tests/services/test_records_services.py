"""Patients, assessment history, measurements, recall worklist, users and the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.records import RecallStatus, Role
from needleplan.exceptions import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from tests.strategies import examples

T0 = datetime(2030, 5, 6, 9, tzinfo=UTC)


def test_register_assigns_record_number_and_keeps_fields(clinic: Any) -> None:
    p = clinic.patient
    assert p.mrn == f"P{p.id:06d}"
    assert services.find_patient(clinic.db, p.mrn) == p
    assert services.get_patient(clinic.db, p.id).email == "jane@example.org"


def test_duplicate_record_number_is_conflict(clinic: Any) -> None:
    data = {"mrn": "X1", "given_name": "A", "family_name": "B", "birth_date": "1970-01-01"}
    services.register_patient(clinic.db, data)
    with pytest.raises(ConflictError, match="mrn X1"):
        services.register_patient(clinic.db, data, confirm_duplicate=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"email": "not-an-email"}, "email"),
        ({"given_name": ""}, "given_name"),
        ({"sex": "robot"}, "sex"),
        ({"shoe_size": 9}, "shoe_size"),
    ],
)
def test_bad_patient_fields_are_named(db: Any, change: dict[str, Any], field: str) -> None:
    data = {"given_name": "A", "family_name": "B", "birth_date": "1970-01-01"} | change
    with pytest.raises(InputError, match=field):
        services.register_patient(db, data)
    assert services.list_patients(db) == []


def test_list_patients_searches_names_and_record_numbers(clinic: Any) -> None:
    services.register_patient(
        clinic.db, {"given_name": "Zoe", "family_name": "Smith", "birth_date": "1990-01-01"}
    )
    assert [p.family_name for p in services.list_patients(clinic.db, "smi")] == ["Smith"]
    assert len(services.list_patients(clinic.db)) == 2


def test_unknown_patient_is_not_found(db: Any) -> None:
    with pytest.raises(NotFoundError):
        services.get_patient(db, 404)
    with pytest.raises(NotFoundError):
        services.find_patient(db, "NOPE")


def test_assessment_history_is_kept_newest_first(clinic: Any) -> None:
    aged = reference_assessment().model_copy(update={"age": clinic.patient.age_on(T0.date())})
    first = services.record_assessment(clinic.db, clinic.patient.id, aged, assessed_at=T0)
    changed = aged.to_json_dict() | {"smoking": "current"}
    second = services.record_assessment(
        clinic.db, clinic.patient.id, changed, assessed_at=T0 + timedelta(days=90)
    )
    history = services.assessment_history(clinic.db, clinic.patient.id)
    assert [h.id for h in history] == [second.id, first.id]
    assert history[1].assessment == aged


def test_bad_assessment_names_field_and_stores_nothing(clinic: Any) -> None:
    with pytest.raises(InputError, match="age"):
        services.record_assessment(
            clinic.db, clinic.patient.id, {"age": 5, "severity": "mild", "areas": ["neck"]}
        )
    assert services.assessment_history(clinic.db, clinic.patient.id) == []


@pytest.mark.parametrize(
    ("scale", "value", "ok"),
    [
        ("gais", 1, True),
        ("gais", 6, False),
        ("gais", 2.5, False),
        ("laxity_grade", 2.5, True),
        ("cutometer_r2", 0.71, True),
        ("cutometer_r2", 1.2, False),
        ("satisfaction", 10, True),
        ("wrinkle_grade", -1, False),
    ],
)
def test_measurements_must_lie_on_their_scale(
    clinic: Any, scale: str, value: float, ok: bool
) -> None:
    data = {
        "scale": scale,
        "value": value,
        "measured_at": T0.isoformat(),
        "measured_by": clinic.alice.id,
    }
    if ok:
        m = services.record_measurement(
            clinic.db, clinic.patient.id, data, now=T0 + timedelta(days=1)
        )
        assert services.measurements_for(clinic.db, clinic.patient.id) == [m]
    else:
        with pytest.raises(InputError, match=scale):
            services.record_measurement(
                clinic.db, clinic.patient.id, data, now=T0 + timedelta(days=1)
            )


def test_a_measurement_dated_in_the_future_is_refused(clinic: Any) -> None:
    data = {"scale": "gais", "value": 2, "measured_at": T0.isoformat()}
    with pytest.raises(InputError) as err:
        services.record_measurement(clinic.db, clinic.patient.id, data, now=T0 - timedelta(hours=2))
    assert err.value.problems[0].field == "measured_at"
    assert "cannot be dated in the future" in err.value.problems[0].rule
    assert services.measurements_for(clinic.db, clinic.patient.id) == []


def test_recall_worklist_attempts_opt_out_and_closing_by_booking(clinic: Any) -> None:
    other = services.register_patient(
        clinic.db, {"given_name": "O", "family_name": "Two", "birth_date": "1960-01-01"}
    )
    r1 = services.add_recall(clinic.db, clinic.patient.id, date(2030, 6, 1))
    r2 = services.add_recall(clinic.db, other.id, date(2030, 7, 1))
    assert [r.id for r in services.recall_list(clinic.db, due_by=date(2030, 6, 15))] == [r1.id]
    services.record_contact(clinic.db, r1.id, channel="phone", outcome="no_answer")
    services.record_contact(clinic.db, r1.id, channel="sms", outcome="call_back", note="after 5pm")
    (entry,) = services.recall_list(clinic.db, due_by=date(2030, 6, 15))
    assert [a.outcome.value for a in entry.attempts] == ["no_answer", "call_back"]
    services.book_appointment(
        clinic.db,
        clinic.patient.id,
        (T0, T0 + timedelta(minutes=30), clinic.alice.id),
        kind="maintenance",
    )
    assert [r.id for r in services.recall_list(clinic.db)] == [r2.id]
    closed = services.recall_list(clinic.db, statuses=[RecallStatus.BOOKED])
    assert [r.id for r in closed] == [r1.id]
    assert services.opt_out_recall(clinic.db, r2.id).status is RecallStatus.OPTED_OUT
    with pytest.raises(StateError):
        services.record_contact(clinic.db, r2.id, channel="phone", outcome="booked")
    with pytest.raises(InputError, match="outcome"):
        services.record_contact(clinic.db, r1.id, channel="phone", outcome="shrug")


def test_users_authenticate_with_argon2_hashes_only(db: Any) -> None:
    user = services.create_user(db, "Dr.Vogel", "a very long secret", "practitioner")
    assert user.username == "dr.vogel"
    assert user.role is Role.PRACTITIONER
    assert services.authenticate(db, "dr.vogel", "a very long secret") == user
    assert services.authenticate(db, "dr.vogel", "wrong password!!") is None
    assert services.authenticate(db, "nobody", "a very long secret") is None
    with db.transaction() as uow:
        found = uow.users.credentials("dr.vogel")
        assert found is not None
        stored = found[1]
        assert stored.startswith("$argon2id$")
        assert "a very long secret" not in stored
    services.deactivate_user(db, user.id)
    assert services.authenticate(db, "dr.vogel", "a very long secret") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [
        ("ab", "long enough pw", "admin", "username"),
        ("okname", "short", "admin", "password"),
        ("okname", "long enough pw", "boss", "role"),
    ],
)
def test_bad_user_input_is_named(
    db: Any, username: str, password: str, role: str, field: str
) -> None:
    with pytest.raises(InputError, match=field):
        services.create_user(db, username, password, role)


def test_duplicate_username_is_conflict(db: Any) -> None:
    services.create_user(db, "desk", "long enough pw", "front_desk")
    with pytest.raises(ConflictError):
        services.create_user(db, "desk", "long enough pw", "front_desk")


def test_roles_are_checked(db: Any) -> None:
    desk = services.create_user(db, "desk", "long enough pw", "front_desk")
    services.require_role(desk, Role.FRONT_DESK, Role.ADMIN)
    with pytest.raises(PermissionDeniedError, match="admin"):
        services.require_role(desk, Role.ADMIN)


def test_audit_log_records_who_touched_which_patient(clinic: Any) -> None:
    user = services.create_user(clinic.db, "auditor", "long enough pw", "admin")
    services.record_audit(clinic.db, user, "patient.read", clinic.patient.id)
    services.record_audit(clinic.db, None, "backup.create")
    events = services.audit_log(clinic.db, patient_id=clinic.patient.id)
    assert [(e.username, e.action, e.patient_id) for e in events] == [
        ("auditor", "patient.read", clinic.patient.id)
    ]
    assert services.audit_log(clinic.db)[0].username == "system"


def test_update_patient_changes_only_named_fields_and_validates(clinic: Any) -> None:
    updated = services.update_patient(
        clinic.db, clinic.patient.id, {"phone": "+44 20 7946 0001", "consent_research": True}
    )
    assert updated.phone == "+442079460001"  # stored in E.164
    assert updated.consent_research is True
    assert updated.family_name == clinic.patient.family_name
    assert updated.mrn == clinic.patient.mrn
    with pytest.raises(InputError, match="email"):
        services.update_patient(clinic.db, clinic.patient.id, {"email": "nope"})
    with pytest.raises(InputError, match="favourite_colour"):
        services.update_patient(clinic.db, clinic.patient.id, {"favourite_colour": "red"})
    other = services.register_patient(
        clinic.db,
        {"mrn": "TAKEN", "given_name": "A", "family_name": "B", "birth_date": "1970-01-01"},
    )
    with pytest.raises(ConflictError):
        services.update_patient(clinic.db, clinic.patient.id, {"mrn": other.mrn})
    assert services.get_patient(clinic.db, clinic.patient.id) == updated


@pytest.mark.parametrize(
    ("detail", "found", "missed"),
    [
        ("week 2031-03-03..2031-03-09 practitioner=all patients=3,11,21", [3, 11, 21], [1, 2, 13]),
        ("show=month patients=7", [7], [1, 17, 70]),
        ("day 2031-03-03..2031-03-03 practitioner=2 patients=5,70 user=prac", [5, 70], [7, 0]),
        ("page=1 results=25", [], [1, 25]),
    ],
)
def test_audit_search_by_patient_finds_the_list_views_that_showed_her(
    db: Any, detail: str, found: list[int], missed: list[int]
) -> None:
    """A view of several patients is one event without a patient id; searching for one of them
    finds it (exact ids: 1 does not match 11, 21 or 13), and finds her own events too."""
    services.record_audit(db, None, "calendar.read", detail=detail)
    services.record_audit(db, None, "patient.read", 99)
    for patient_id in found:
        events, total = services.search_audit(db, patient_id=patient_id)
        assert [e.action for e in events] == ["calendar.read"], (patient_id, detail)
        assert total == 1
        assert [e.action for e in services.audit_log(db, patient_id=patient_id)] == [
            "calendar.read"
        ]
    for patient_id in missed:
        assert services.search_audit(db, patient_id=patient_id) == ([], 0), patient_id
    assert [e.action for e in services.search_audit(db, patient_id=99)[0]] == ["patient.read"]


def test_the_patients_detail_lists_sorted_unique_ids_last() -> None:
    assert services.audit_patients_detail("recall", [9, 3, 9, 12]) == "recall patients=3,9,12"
    assert services.audit_patients_detail("", []) == "patients="


_views = iter(range(10**9))


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    shown=st.sets(st.integers(min_value=1, max_value=250), max_size=12),
    probe=st.integers(min_value=1, max_value=250),
    who=st.sampled_from(["", " user=prac"]),
)
def test_a_list_view_is_found_by_patient_exactly_when_it_showed_her(
    db: Any, shown: set[int], probe: int, who: str
) -> None:
    """For any set of ids shown and any patient id: found if and only if she was shown."""
    action = f"view{next(_views)}.read"  # one action per example: earlier rows do not interfere
    detail = services.audit_patients_detail("week", shown) + who
    services.record_audit(db, None, action, detail=detail)
    _, total = services.search_audit(db, patient_id=probe, action=action)
    assert total == (1 if probe in shown else 0)

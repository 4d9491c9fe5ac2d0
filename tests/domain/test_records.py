"""Clinic record values: legal course transitions, measurement scales, aware datetimes, slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.domain.records import (
    COURSE_TRANSITIONS,
    CourseStatus,
    MeasurementDraft,
    MeasurementScale,
    PatientDraft,
    PerformedSessionDraft,
    SlotRequest,
    parse_record,
)
from needleplan.exceptions import InputError, StateError

LEGAL = {
    ("planned", "active"),
    ("planned", "cancelled"),
    ("active", "completed"),
    ("active", "lapsed"),
    ("active", "cancelled"),
}


@pytest.mark.parametrize(("src", "dst"), list(product([s.value for s in CourseStatus], repeat=2)))
def test_course_transitions_are_exactly_the_documented_ones(src: str, dst: str) -> None:
    a, b = CourseStatus(src), CourseStatus(dst)
    assert a.can_become(b) == ((src, dst) in LEGAL)
    if (src, dst) in LEGAL:
        assert a.require(b) is b
    else:
        with pytest.raises(StateError, match=f"from {src} to {dst}"):
            a.require(b)


def test_final_states_have_no_way_out() -> None:
    assert {s for s in CourseStatus if s.is_final} == {
        CourseStatus.COMPLETED,
        CourseStatus.LAPSED,
        CourseStatus.CANCELLED,
    }
    assert set(COURSE_TRANSITIONS) == set(CourseStatus)


@given(
    scale=st.sampled_from(list(MeasurementScale)),
    value=st.floats(allow_nan=True, allow_infinity=True),
)
def test_measurement_accepted_only_on_its_scale(scale: MeasurementScale, value: float) -> None:
    info = scale.info
    ok = (
        value == value
        and info.low <= value <= info.high
        and (not info.integer or value == int(value))
    )
    data = {"scale": scale.value, "value": value, "measured_at": "2030-01-01T10:00:00+00:00"}
    if ok:
        assert parse_record(MeasurementDraft, data).value == value
    else:
        with pytest.raises(InputError, match="value"):
            parse_record(MeasurementDraft, data)


def test_naive_datetimes_are_refused_naming_the_field() -> None:
    with pytest.raises(InputError, match=r"measured_at.*timezone-aware"):
        parse_record(
            MeasurementDraft, {"scale": "gais", "value": 2, "measured_at": "2030-01-01T10:00:00"}
        )


def test_slot_end_must_follow_start_and_last_at_most_12_hours() -> None:
    t = datetime(2030, 1, 1, 9, tzinfo=UTC)
    with pytest.raises(InputError, match="end must be after start"):
        parse_record(SlotRequest, {"start": t, "end": t, "practitioner_id": 1})
    with pytest.raises(InputError, match="12 hours"):
        parse_record(
            SlotRequest, {"start": t, "end": t + timedelta(hours=13), "practitioner_id": 1}
        )


def test_session_needs_a_depth_for_every_treated_area_and_product_for_lot() -> None:
    base = {
        "performed_at": "2030-01-01T10:00:00+01:00",
        "areas": ["full_face", "neck"],
        "device": "pen",
        "needle_depth_mm": {"full_face": 1.5, "neck": 0.5},
        "passes": 2,
        "practitioner_id": 1,
    }
    assert parse_record(PerformedSessionDraft, base).needle_depth_mm
    with pytest.raises(InputError, match="lacks a depth for neck"):
        parse_record(PerformedSessionDraft, base | {"needle_depth_mm": {"full_face": 1.5}})
    with pytest.raises(InputError, match="needle_depth_mm"):
        parse_record(
            PerformedSessionDraft, base | {"needle_depth_mm": {"full_face": 1.5, "neck": 4}}
        )
    with pytest.raises(InputError, match="lot given without product"):
        parse_record(PerformedSessionDraft, base | {"lot": "L1"})


def test_patient_problem_values_never_echo_the_whole_record() -> None:
    with pytest.raises(InputError) as info:
        parse_record(
            PatientDraft,
            {"given_name": "Secret", "family_name": "Person", "birth_date": "3000-01-01"},
        )
    assert "Person" not in str(info.value)
    assert "birth_date" in str(info.value)

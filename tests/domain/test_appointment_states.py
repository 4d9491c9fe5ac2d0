"""Appointment status: the legal transitions, the refusal message and the final states."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.domain.records import APPOINTMENT_TRANSITIONS, AppointmentStatus
from needleplan.exceptions import StateError

LEGAL = {
    ("booked", "arrived"),
    ("booked", "performed"),
    ("booked", "cancelled"),
    ("booked", "missed"),
    ("arrived", "performed"),
    ("arrived", "cancelled"),
}

ALLOWED = {"booked": "arrived, cancelled, missed, performed", "arrived": "cancelled, performed"}


@pytest.mark.parametrize(
    ("src", "dst"), list(product([s.value for s in AppointmentStatus], repeat=2))
)
def test_appointment_transitions_are_exactly_the_documented_ones(src: str, dst: str) -> None:
    a, b = AppointmentStatus(src), AppointmentStatus(dst)
    assert a.can_become(b) == ((src, dst) in LEGAL)
    if (src, dst) in LEGAL:
        assert a.require(b) is b
        assert a.require(b, appointment_id=7) is b
    else:
        allowed = ALLOWED.get(src, "none")
        with pytest.raises(StateError) as caught:
            a.require(b, appointment_id=7)
        assert str(caught.value) == (
            f"appointment 7 cannot change from {src} to {dst} (allowed from {src}: {allowed})"
        )
        with pytest.raises(StateError, match=f"^appointment cannot change from {src} to {dst} "):
            a.require(b)


def test_only_booked_and_arrived_are_not_final() -> None:
    live = {AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED}
    assert {s for s in AppointmentStatus if not s.is_final} == live
    assert {s for s in AppointmentStatus if s.is_live} == live
    assert set(APPOINTMENT_TRANSITIONS) == set(AppointmentStatus)


def test_stored_values_only_gain_arrived() -> None:
    """The values live as strings in ``appointments.status``: the old ones never change."""
    assert [s.value for s in AppointmentStatus] == [
        "booked",
        "arrived",
        "performed",
        "cancelled",
        "missed",
    ]


def test_missed_is_shown_as_no_show() -> None:
    assert AppointmentStatus.MISSED.label == "no-show"
    assert AppointmentStatus.ARRIVED.label == "checked in"
    assert AppointmentStatus.PERFORMED.label == "performed"


@given(st.lists(st.sampled_from(list(AppointmentStatus)), max_size=8))
def test_no_sequence_of_transitions_reaches_a_forbidden_state(
    targets: list[AppointmentStatus],
) -> None:
    """Whatever is tried, every accepted step is an edge of the documented machine, a refused
    step leaves the state as it was, and nothing leaves a final state or goes back to booked."""
    status = AppointmentStatus.BOOKED
    path = [status]
    for target in targets:
        before = status
        try:
            status = status.require(target)
        except StateError:
            assert status is before
            continue
        assert (before.value, status.value) in LEGAL
        path.append(status)
    assert len(path) <= 3  # booked, at most arrived, then one outcome
    assert AppointmentStatus.BOOKED not in path[1:]
    assert all(not s.is_final for s in path[:-1])
    if AppointmentStatus.MISSED in path:
        assert path == [AppointmentStatus.BOOKED, AppointmentStatus.MISSED]  # no no-show on arrival

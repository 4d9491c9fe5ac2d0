"""Appointment status: the legal transitions, the refusal message and the final states."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan.domain.records import APPOINTMENT_TRANSITIONS, AppointmentStatus
from needleplan.exceptions import StateError

LEGAL = {
    ("booked", "performed"),
    ("booked", "cancelled"),
    ("booked", "missed"),
}

ALLOWED = {"booked": "cancelled, missed, performed"}


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


def test_only_booked_is_not_final() -> None:
    assert {s for s in AppointmentStatus if not s.is_final} == {AppointmentStatus.BOOKED}
    assert set(APPOINTMENT_TRANSITIONS) == set(AppointmentStatus)


def test_stored_values_are_unchanged() -> None:
    """The values live as strings in ``appointments.status``: no migration, no new state."""
    assert [s.value for s in AppointmentStatus] == ["booked", "performed", "cancelled", "missed"]


@given(st.lists(st.sampled_from(list(AppointmentStatus)), max_size=6))
def test_a_booked_appointment_changes_status_at_most_once(
    targets: list[AppointmentStatus],
) -> None:
    status = AppointmentStatus.BOOKED
    changes = 0
    for target in targets:
        try:
            status = status.require(target)
        except StateError:
            continue
        changes += 1
    assert changes == (1 if any(t is not AppointmentStatus.BOOKED for t in targets) else 0)
    assert status.is_final == (changes == 1)

"""Shared clinics and protocols for the scheduling tests."""

from __future__ import annotations

from typing import Any

import pytest

from needleplan.domain.assessment import Area
from needleplan.domain.protocol import IntRange, Protocol
from needleplan.scheduling import ClinicConfig, example_clinic, parse_clinic


def make_protocol(
    sessions: int = 5,
    interval: tuple[int, int] = (28, 42),
    *,
    session_range: tuple[int, int] | None = None,
    maintenance: tuple[int, int] = (6, 12),
    blocked: bool = False,
    areas: tuple[Area, ...] = (Area.FULL_FACE,),
) -> Protocol:
    """A Protocol built directly (the guideline engine is tested elsewhere)."""
    lo, hi = session_range if session_range is not None else (min(sessions, 4), max(sessions, 6))
    return Protocol(
        initial_sessions=sessions,
        session_range=IntRange(min=lo, max=hi),
        interval_days=IntRange(min=interval[0], max=interval[1]),
        maintenance_interval_months=IntRange(min=maintenance[0], max=maintenance[1]),
        difficult_case=False,
        blocked=blocked,
        block_reasons=["pregnancy: do not treat"] if blocked else [],
        areas=list(areas),
        guideline_version="test",
    )


def simple_clinic_dict(**overrides: Any) -> dict[str, Any]:
    """A weekday clinic without holidays: Mon-Fri 09:00-17:00, two practitioners."""
    data: dict[str, Any] = {
        "name": "Test Clinic",
        "timezone": "Europe/Berlin",
        "location": "Teststraße 1, Berlin",
        "opening_hours": {
            d: ["09:00-17:00"] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
        },
        "practitioners": [{"name": "Ann"}, {"name": "Bo"}],
        "session_minutes": {"default": 60},
    }
    data.update(overrides)
    return data


def simple_clinic(**overrides: Any) -> ClinicConfig:
    return parse_clinic(simple_clinic_dict(**overrides))


@pytest.fixture(scope="session")
def berlin() -> ClinicConfig:
    """The bundled example clinic (Berlin, public holidays of Berlin, two practitioners)."""
    return example_clinic()


@pytest.fixture
def protocol() -> Protocol:
    """The reference patient's protocol: 5 sessions, 28-42 days apart, maintenance 6-12 months."""
    return make_protocol()

"""The services' clock: ``NEEDLEPLAN_NOW`` sets it outside production, never in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from needleplan.exceptions import InputError
from needleplan.services._clock import utc_now


def test_needleplan_now_sets_the_clock_outside_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NEEDLEPLAN_ENVIRONMENT", raising=False)
    monkeypatch.setenv("NEEDLEPLAN_NOW", "2031-03-03T09:00+01:00")
    assert utc_now() == datetime(2031, 3, 3, 8, 0, tzinfo=UTC)
    assert utc_now().tzinfo == UTC


def test_production_ignores_needleplan_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "production")
    monkeypatch.setenv("NEEDLEPLAN_NOW", "2031-03-03T09:00+01:00")
    assert abs(utc_now() - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("value", "rule"),
    [("tomorrow", "ISO 8601"), ("2031-03-03T09:00", "offset from UTC")],
)
def test_a_bad_clock_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, rule: str
) -> None:
    monkeypatch.delenv("NEEDLEPLAN_ENVIRONMENT", raising=False)
    monkeypatch.setenv("NEEDLEPLAN_NOW", value)
    with pytest.raises(InputError, match=rule) as err:
        utc_now()
    assert err.value.problems[0].field == "NEEDLEPLAN_NOW"

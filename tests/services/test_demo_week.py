"""The demo clinic shows a believable fortnight in the calendar grid, with 0 conflicts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from needleplan import services
from needleplan.domain.records import AppointmentKind
from needleplan.services import clinic_calendar
from needleplan.services.demo import demo_calendar

TODAY = date(2026, 11, 21)  # a Saturday: the fortnight is the next two weeks


def test_demo_fortnight_is_busy_and_fits_the_calendar(demo_clinic: Any) -> None:
    """The shared demo clinic (tests/demo_support.py) seen on TODAY."""
    assert demo_clinic.spec.today == TODAY
    db = demo_clinic.db
    calendar = demo_calendar()
    start = datetime.combine(TODAY + timedelta(days=2), time(0), tzinfo=calendar.tz)
    week = services.appointments_between(
        db, start.astimezone(UTC), (start + timedelta(days=5)).astimezone(UTC)
    )
    per_day = Counter(a.start.astimezone(calendar.tz).date() for a in week)
    open_days = [d for d in per_day if calendar.opening_hours.get(d.strftime("%A").lower())]
    assert len(open_days) >= 4
    assert min(per_day[d] for d in open_days) >= 3
    assert sum(per_day.values()) >= 40
    kinds = {a.kind for a in week}
    assert {AppointmentKind.CONSULTATION, AppointmentKind.REVIEW} <= kinds
    now = datetime.combine(TODAY, time(0), tzinfo=calendar.tz)
    assert clinic_calendar.affected_appointments(db, calendar, now) == []

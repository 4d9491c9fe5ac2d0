"""The scheduler's busy-time reads (docs/scale.md): epoch seconds worked out by the database
equal the appointments' own times (and an online booking held for confirmation counts), and a course dated from reads of a few windows is the course
dated from every busy time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.guideline import make_protocol
from needleplan.scheduling import example_clinic, schedule_course
from needleplan.services.appointments import HOLDING
from needleplan.services.booking import busy_index, busy_loader
from needleplan.storage.tables import OnlineBookingRow

START = date(2030, 9, 2)


def _booked(clinic: Any) -> Any:
    cfg = example_clinic()
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    services.plan_and_book_course(clinic.db, clinic.patient.id, START, cfg)
    return cfg


def _hold(db: Any, practitioner_id: int, start: datetime) -> None:
    """An online booking held for her confirmation (its time is taken)."""
    with db.transaction() as uow:
        uow.session.add(
            OnlineBookingRow(
                status="held",
                created_at=start - timedelta(days=3),
                hold_until=start - timedelta(days=2),
                practitioner_id=practitioner_id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                given_name="Held",
                family_name="Slot",
                birth_date=date(1980, 1, 1),
                email="held@example.org",
                phone="+4930555",
                language="en",
                consent_marketing=False,
            )
        )


def test_busy_epochs_are_the_appointments_times(clinic: Any) -> None:
    cfg = _booked(clinic)
    ids = services.sync_practitioners(clinic.db, cfg)
    _hold(clinic.db, next(iter(ids.values())), datetime(2030, 9, 20, 7, 0, tzinfo=UTC))
    window = datetime(2030, 8, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC)
    with clinic.db.transaction() as uow:
        spans = uow.appointments.spans_between(*window, HOLDING)
        held = uow.online_bookings.held_between(*window)
        epochs = uow.calendar.busy_epochs(*window, HOLDING)
    assert len(spans) >= 3
    assert len(held) == 1
    expected = [(p, int(s.timestamp()), int(e.timestamp())) for p, s, e in spans] + [
        (h.practitioner_id, int(h.start.timestamp()), int(h.end.timestamp())) for h in held
    ]
    assert sorted(epochs) == sorted(expected)


def test_a_course_dated_from_window_reads_is_the_one_dated_from_every_busy_time(
    clinic: Any,
) -> None:
    cfg = _booked(clinic)
    protocol = make_protocol(reference_assessment())
    begin = datetime(2030, 8, 1, tzinfo=UTC)
    every = services.busy_times(clinic.db, cfg, begin, begin + timedelta(days=500))
    whole = schedule_course(protocol, START, cfg, busy=every)
    lazy = busy_index(clinic.db, cfg)
    dated = schedule_course(protocol, START, cfg, busy=lazy)
    assert [(s.start, s.practitioner) for s in dated.sessions] == [
        (s.start, s.practitioner) for s in whole.sessions
    ]
    assert 1 <= lazy.reads <= protocol.initial_sessions + 2
    # the first course's sessions are busy: the second course does not take their places
    assert not {(s.start, s.practitioner) for s in dated.sessions} & {
        (b.start, b.practitioner) for b in every
    }


def test_the_loader_reads_the_days_asked_for(clinic: Any) -> None:
    cfg = _booked(clinic)
    first = services.busy_times(
        clinic.db, cfg, datetime(2030, 8, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC)
    )[0]
    day = first.start.astimezone(cfg.tz).date()
    load = busy_loader(clinic.db, cfg)
    at = int(first.start.timestamp())
    assert at in load(day, day).starts[first.practitioner].tolist()
    after = load(day + timedelta(days=1), day + timedelta(days=1))
    assert at not in after.starts.get(first.practitioner, np.zeros(0, dtype=np.int64)).tolist()

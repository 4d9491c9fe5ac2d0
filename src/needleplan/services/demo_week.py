"""The demo clinic's front-desk fortnight: single visits around the course sessions.

The demo's courses leave a practitioner's day mostly empty (a session every few weeks per
patient), which is not what a clinic's calendar looks like. :func:`fill_fortnight` books
consultations, reviews and maintenance visits for demo patients without an open recall (a
booking would close it) on the free times of the calendar, from tomorrow to the end of next
week, until each practitioner's working day holds a believable number of visits. Every start
comes from :func:`~needleplan.scheduling.calendar.day_options` against every booking made so
far, so none falls on a closure, holiday, day off or outside working hours, and none overlaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np

from needleplan.domain.records import AppointmentKind, SlotRequest
from needleplan.scheduling import Busy, ClinicConfig
from needleplan.scheduling.calendar import BusyIndex, SlotGrid, day_options
from needleplan.services.booking import book_appointment_in
from needleplan.storage import UnitOfWork

#: Visit kinds with their share of the demo's single visits and their length [minutes].
KINDS = (
    (AppointmentKind.CONSULTATION, 0.35, 30),
    (AppointmentKind.REVIEW, 0.30, 30),
    (AppointmentKind.MAINTENANCE, 0.35, 60),
)
#: Visits a practitioner's demo day aims at (course sessions included), drawn per day.
VISITS_PER_DAY = (5, 8)


def fill_fortnight(
    uow: UnitOfWork,
    calendar: ClinicConfig,
    busy: BusyIndex,
    grid: SlotGrid,
    staff: dict[str, int],
    patient_ids: Sequence[int],
    rng: np.random.Generator,
    today: date,
    at: datetime,
) -> tuple[BusyIndex, int]:
    """Book the single visits; returns the busy index with them and how many were booked."""
    if not patient_ids:
        return busy, 0
    monday = today - timedelta(days=today.weekday())
    booked = 0
    shares = np.array([k[1] for k in KINDS])
    for offset in range(1, (monday + timedelta(days=14) - today).days):
        day = today + timedelta(days=offset)
        for person in calendar.practitioners:
            options = day_options(calendar, person, day, 30, BusyIndex.build([]), grid)
            if options.reason is not None:
                continue
            full = day_options(calendar, person, day, 30, busy, grid)
            taken = len(options.starts) - len(full.starts)
            want = int(rng.integers(*VISITS_PER_DAY)) - taken // 2
            for _ in range(max(0, want)):
                kind, _share, minutes = KINDS[int(rng.choice(len(KINDS), p=shares))]
                free = day_options(calendar, person, day, minutes, busy, grid).starts
                if not free:
                    break
                start = free[int(rng.integers(len(free)))]
                end = start + timedelta(minutes=minutes)
                patient = int(patient_ids[int(rng.integers(len(patient_ids)))])
                slot = SlotRequest(start=start, end=end, practitioner_id=staff[person.name])
                book_appointment_in(uow, patient, slot, kind=kind, at=at)
                busy = busy.with_busy([Busy(person.name, start, end)])
                booked += 1
    return busy, booked

"""Moving one appointment: the proposal shown before saving, and saving exactly that proposal.

A move re-plans the rest of the appointment's course (:func:`~needleplan.services.rescheduling.
replan_course`), or moves the appointment alone when it belongs to no course or its course names
practitioners the clinic calendar does not list. :func:`preview_move` computes the proposal and
saves nothing; :func:`confirm_move` computes it again from the same request (new time and
practitioner) and saves the moves of that fresh proposal only, never times sent by a client. When
the fresh proposal differs from the one the user saw (``shown``), nothing is saved and
:class:`MoveProposalChangedError` carries the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from needleplan.domain.records import Appointment, AppointmentStatus
from needleplan.exceptions import InputError, SchedulingError, StateError
from needleplan.scheduling import Busy, ClinicConfig, GapReport
from needleplan.scheduling.calendar import BusyIndex, slot_problem
from needleplan.services._clock import aware
from needleplan.services._integrity import refuse_past_start
from needleplan.services.appointments import get_appointment
from needleplan.services.booking import busy_times
from needleplan.services.practitioners import list_practitioners
from needleplan.services.rescheduling import (
    course_schedule_with_appointments,
    replan_course,
    reschedule,
)
from needleplan.storage import Database


@dataclass(frozen=True)
class MoveRow:
    """One session of the proposal, its times on the clinic's wall clock."""

    number: int
    appointment_id: int
    status: str
    old_start: datetime
    new_start: datetime
    new_end: datetime
    old_practitioner: str
    new_practitioner: str
    new_practitioner_id: int

    @property
    def changed(self) -> bool:
        return (self.old_start, self.old_practitioner) != (self.new_start, self.new_practitioner)

    @property
    def key(self) -> str:
        """The move as one string (``id|start|end|practitioner id``): what a page shows and posts
        back, compared with the fresh proposal at confirmation."""
        return (
            f"{self.appointment_id}|{self.new_start.isoformat()}|{self.new_end.isoformat()}|"
            f"{self.new_practitioner_id}"
        )


@dataclass(frozen=True)
class MovePreview:
    """What a move does to the course: every session from the moved one on, the gaps beyond
    their windows with their forecast cost, warnings, the new maintenance date, and whether an
    extra session is advised."""

    rows: list[MoveRow]
    gaps: list[GapReport]
    warnings: list[str]
    maintenance: date | None
    extra_session_advised: bool

    @property
    def moves(self) -> list[MoveRow]:
        """The rows that change a booked appointment (what confirming saves)."""
        return [r for r in self.rows if r.changed and r.status == AppointmentStatus.BOOKED.value]


class MoveProposalChangedError(StateError):
    """The calendar changed between the preview and the confirmation: nothing was saved."""

    def __init__(self, preview: MovePreview) -> None:
        super().__init__(
            "nothing was moved: the calendar changed since the proposal was shown; "
            "check the new proposal and confirm again"
        )
        self.preview = preview


def preview_move(
    db: Database,
    clinic: ClinicConfig,
    appointment_id: int,
    new_start: datetime,
    practitioner_id: int,
    *,
    now: datetime | None = None,
) -> MovePreview:
    """What moving the appointment to ``new_start`` with ``practitioner_id`` does (nothing saved).

    Raises
    ------
    InputError
        ``practitioner_id`` is no practitioner here; ``new_start`` is naive or before ``now``
        (default: the clock).
    StateError
        The appointment is not booked.
    SchedulingError
        The new time is not possible, or later sessions cannot be placed in their windows.
    """
    when = aware(new_start, "new_start")
    refuse_past_start("new_start", when, aware(now, "now"), clinic.tz)
    appt = get_appointment(db, appointment_id)
    if appt.status is not AppointmentStatus.BOOKED:
        raise StateError(f"appointment {appt.id} is {appt.status.value}; only booked ones can move")
    names = {p.id: p.name for p in list_practitioners(db)}
    who = names.get(practitioner_id)
    if who is None:
        raise InputError.one("practitioner_id", practitioner_id, "is not a practitioner here")
    schedule, active = (
        course_schedule_with_appointments(db, appt.course_id, clinic)
        if appt.course_id is not None
        else (None, [])
    )
    known = {p.name for p in clinic.practitioners}
    strangers = sorted({s.practitioner for s in schedule.sessions} - known) if schedule else []
    if schedule is None or strangers or who not in known:
        warnings = (
            [
                "only this appointment moves: "
                + ", ".join(strangers or [who])
                + " is not in the clinic calendar file, so the course cannot be re-planned"
            ]
            if schedule is not None
            else []
        )
        return _move_alone(db, clinic, appt, when, who, practitioner_id, names, warnings)
    number = next(i for i, a in enumerate(active, start=1) if a.id == appt.id)
    keep = names.get(appt.practitioner_id) == who
    result = replan_course(
        db, appt.id, when, clinic, practitioner=None if keep else who, save=False
    ).replan
    ids = {name: pid for pid, name in names.items()}
    tz = clinic.tz
    rows = [
        MoveRow(
            new.number,
            old.id,
            old.status.value,
            old.start.astimezone(tz),
            new.start.astimezone(tz),
            new.end.astimezone(tz),
            names.get(old.practitioner_id, ""),
            new.practitioner,
            ids[new.practitioner],
        )
        for new, old in zip(result.schedule.sessions, active, strict=True)
        if new.number >= number
    ]
    maintenance = result.schedule.maintenance
    return MovePreview(
        rows,
        list(result.gaps),
        list(result.schedule.warnings),
        None if maintenance is None else maintenance.due,
        result.extra_session_advised,
    )


def _move_alone(
    db: Database,
    clinic: ClinicConfig,
    appt: Appointment,
    when: datetime,
    who: str,
    practitioner_id: int,
    names: dict[int, str],
    warnings: list[str],
) -> MovePreview:
    """The proposal for an appointment that moves by itself, checked against the calendar when
    its practitioner is in the clinic calendar."""
    duration = appt.end - appt.start
    if who in {p.name for p in clinic.practitioners}:
        own = Busy(names.get(appt.practitioner_id, ""), appt.start, appt.end)
        busy = [
            b
            for b in busy_times(db, clinic, when - duration, when + 2 * duration)
            if (b.practitioner, b.start, b.end) != (own.practitioner, own.start, own.end)
        ]
        problem = slot_problem(
            clinic,
            clinic.practitioner(who),
            when,
            int(duration.total_seconds() // 60),
            BusyIndex.build(busy),
        )
        if problem is not None:
            raise SchedulingError(
                f"cannot move to {when.astimezone(clinic.tz):%Y-%m-%d %H:%M}: {problem}"
            )
    tz = clinic.tz
    row = MoveRow(
        appt.session_number or 1,
        appt.id,
        appt.status.value,
        appt.start.astimezone(tz),
        when.astimezone(tz),
        (when + duration).astimezone(tz),
        names.get(appt.practitioner_id, ""),
        who,
        practitioner_id,
    )
    return MovePreview([row], [], warnings, None, False)


def confirm_move(
    db: Database,
    clinic: ClinicConfig,
    appointment_id: int,
    new_start: datetime,
    practitioner_id: int,
    shown: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[Appointment]:
    """Save the move the user confirmed: the proposal is computed again here and only its moves
    are saved (all or nothing, conflict-checked by the database).

    ``shown`` is the proposal the user saw (:attr:`MoveRow.key` of each move). When the fresh
    proposal differs, nothing is saved and :class:`MoveProposalChangedError` carries the new one; so a
    client can never save times the calendar would not have proposed.
    """
    preview = preview_move(db, clinic, appointment_id, new_start, practitioner_id, now=now)
    fresh = [r.key for r in preview.moves]
    if not fresh:
        raise StateError(f"appointment {appointment_id} is already at that time: nothing to move")
    if sorted(fresh) != sorted(shown):
        raise MoveProposalChangedError(preview)
    return reschedule(
        db,
        [
            (
                r.appointment_id,
                {"start": r.new_start, "end": r.new_end, "practitioner_id": r.new_practitioner_id},
            )
            for r in preview.moves
        ],
    )

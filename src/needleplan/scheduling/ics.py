"""iCalendar (RFC 5545) export of a course.

* One VEVENT per session. ``UID`` is ``uuid5(namespace, "<course_id>/session/<n>")@needleplan``,
  so exporting the same course again (after a move, too) gives the same UIDs and a calendar
  client updates events instead of duplicating them. ``SEQUENCE`` is the session's sequence,
  raised by re-planning whenever the session's time or practitioner changed.
* ``DTSTART``/``DTEND`` carry the clinic's ``TZID``, and the calendar includes the matching
  VTIMEZONE (generated from the IANA database by the ``icalendar`` library).
* ``SUMMARY`` and ``DESCRIPTION`` say only "Microneedling session n of N" and the practitioner:
  no patient name, no health details. ``LOCATION`` is the clinic's address.
* The maintenance recall is an iCalendar to-do component whose ``DUE`` is the recall date (a date value), with its
  own stable UID and sequence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from needleplan._version import __version__
from needleplan.scheduling.models import CourseSchedule

if TYPE_CHECKING:  # icalendar takes about 0.3 s to import; only building a calendar needs it
    from icalendar import Calendar

PRODID = f"-//needleplan//needleplan {__version__}//EN"
UID_NAMESPACE = uuid.UUID("0e7b6f5e-1f4a-5b8e-8c6e-6e6565646c70")
UID_DOMAIN = "needleplan"


def session_uid(course_id: str, number: int) -> str:
    """The stable UID of session ``number`` of course ``course_id``."""
    return f"{uuid.uuid5(UID_NAMESPACE, f'{course_id}/session/{number}')}@{UID_DOMAIN}"


def maintenance_uid(course_id: str) -> str:
    """The stable UID of the course's maintenance recall."""
    return f"{uuid.uuid5(UID_NAMESPACE, f'{course_id}/maintenance')}@{UID_DOMAIN}"


def course_calendar(schedule: CourseSchedule, *, stamp: datetime | None = None) -> Calendar:
    """The course as an :class:`icalendar.Calendar` (see the module docstring for the fields).

    Parameters
    ----------
    schedule : CourseSchedule
    stamp : datetime, optional
        DTSTAMP for every component (UTC); default now. Pass a fixed value for byte-identical
        re-exports.
    """
    from icalendar import Calendar, Event, Todo

    stamp = (stamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = Calendar.new(
        prodid=PRODID,
        name=f"{schedule.clinic_name} microneedling course".strip(),
        uid=f"{uuid.uuid5(UID_NAMESPACE, f'{schedule.course_id}/calendar')}@{UID_DOMAIN}",
    )
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    total = len(schedule.sessions)
    for s in schedule.sessions:
        event = Event.new(
            uid=session_uid(schedule.course_id, s.number),
            sequence=s.sequence,
            stamp=stamp,
            start=s.start,
            end=s.end,
            summary=f"Microneedling session {s.number} of {total}",
            description=f"Practitioner: {s.practitioner}",
            location=schedule.location or None,
        )
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    if schedule.maintenance is not None:
        todo = Todo.new(
            uid=maintenance_uid(schedule.course_id),
            sequence=schedule.maintenance.sequence,
            stamp=stamp,
            summary="Microneedling maintenance recall",
            description="Contact the patient to book a maintenance session.",
            location=schedule.location or None,
        )
        todo.add("due", schedule.maintenance.due)
        todo.add("status", "NEEDS-ACTION")
        cal.add_component(todo)
    # VTIMEZONE rules covering the course and its recall (from the IANA database).
    days = [s.start.date() for s in schedule.sessions]
    if schedule.maintenance is not None:
        days.append(schedule.maintenance.due)
    cal.add_missing_timezones(
        first_date=date(min(days).year - 1, 1, 1), last_date=date(max(days).year + 2, 1, 1)
    )
    return cal


def course_ics(schedule: CourseSchedule, *, stamp: datetime | None = None) -> bytes:
    """The course as RFC 5545 text (CRLF line endings, folded at 75 octets)."""
    return bytes(course_calendar(schedule, stamp=stamp).to_ical())

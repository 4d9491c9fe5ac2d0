"""Scheduling: dated courses in a clinic's calendar, re-planning, forecast-driven recall, iCalendar.

The public API (documented in ``docs/scheduling.md``)::

    clinic = load_clinic("clinic.toml")          # or load_clinic() for the bundled example
    course = schedule_course(protocol, date(2027, 1, 11), clinic, busy=existing)
    course = course.with_maintenance(maintenance_due(assessment, course.dates, clinic, protocol))
    result = replan(course, 3, clinic, protocol, missed=True, assessment=assessment)
    ics = course_ics(result.schedule)

Everything here is pure (no database, no network): the storage layer passes existing
appointments in as :class:`Busy` and books the :class:`ScheduledSession` values it gets back.
"""

from needleplan.scheduling.clinic import (
    ClinicConfig,
    Closure,
    HolidaySource,
    Practitioner,
    Prices,
    TimeSpan,
    Weekday,
    example_clinic,
    load_clinic,
    parse_clinic,
)
from needleplan.scheduling.course import SessionSchedulingError, course_uuid, schedule_course
from needleplan.scheduling.ics import course_calendar, course_ics, maintenance_uid, session_uid
from needleplan.scheduling.models import (
    Alternative,
    Busy,
    CourseSchedule,
    GapReport,
    MaintenanceDue,
    Replan,
    ScheduledSession,
)
from needleplan.scheduling.recall import (
    add_months,
    maintenance_due,
    noticeable_days,
    recall_day,
    threshold_crossing,
)
from needleplan.scheduling.replan import replan

__all__ = [
    "Alternative",
    "Busy",
    "ClinicConfig",
    "Closure",
    "CourseSchedule",
    "GapReport",
    "HolidaySource",
    "MaintenanceDue",
    "Practitioner",
    "Prices",
    "Replan",
    "ScheduledSession",
    "SessionSchedulingError",
    "TimeSpan",
    "Weekday",
    "add_months",
    "course_calendar",
    "course_ics",
    "course_uuid",
    "example_clinic",
    "load_clinic",
    "maintenance_due",
    "maintenance_uid",
    "noticeable_days",
    "parse_clinic",
    "recall_day",
    "replan",
    "schedule_course",
    "session_uid",
    "threshold_crossing",
]

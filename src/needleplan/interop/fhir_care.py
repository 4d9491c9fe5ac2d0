"""FHIR care-provision and scheduling resources of the export: a course as a ``CarePlan`` (one
activity per session, then maintenance) and each appointment as an ``Appointment``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.careplan import CarePlan

from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    PerformedSession,
)
from needleplan.interop.fhir_base import (
    ACTIVITY_STATUS,
    APPOINTMENT_KIND_SYSTEM,
    APPOINTMENT_STATUS,
    CAREPLAN_STATUS,
    EXT_COURSE_STATUS,
    EXT_GUIDELINE,
    EXT_PROTOCOL,
    EXT_SESSION_NUMBER,
    PROCEDURE_CODE,
    PROCEDURE_DISPLAY,
    PROCEDURE_SYSTEM,
    ExportContext,
    area_label,
    practitioner_ref,
)


def _protocol_text(course: Course) -> str:
    p = course.protocol
    areas = ", ".join(area_label(a.value) for a in p.areas)
    return (
        f"{course.planned_sessions} microneedling sessions ({areas}), "
        f"{p.interval_days.min}-{p.interval_days.max} days apart, then maintenance every "
        f"{p.maintenance_interval_months.min}-{p.maintenance_interval_months.max} months."
    )


def _session_numbers(course: Course, appointments: Iterable[Appointment]) -> list[int]:
    numbers = set(range(1, course.planned_sessions + 1))
    numbers.update(a.session_number for a in appointments if a.session_number is not None)
    return sorted(numbers)


def careplan_resource(
    ctx: ExportContext,
    course: Course,
    appointments: list[Appointment],
    sessions: list[PerformedSession],
) -> CarePlan:
    """The course as a CarePlan: one activity per session, then the maintenance activity."""
    p = course.protocol
    mine = [a for a in appointments if a.course_id == course.id]
    treatments = [a for a in mine if a.kind is AppointmentKind.TREATMENT]
    performed_by_appt: dict[int, list[PerformedSession]] = {}
    for s in sessions:
        if s.appointment_id is not None:
            performed_by_appt.setdefault(s.appointment_id, []).append(s)
    activities: list[dict[str, Any]] = []
    for number in _session_numbers(course, treatments):
        candidates = [a for a in treatments if a.session_number == number]
        live = [a for a in candidates if a.status is not AppointmentStatus.CANCELLED]
        chosen = max(live or candidates, key=lambda a: a.start) if candidates else None
        detail: dict[str, Any] = {
            "kind": "Appointment",
            "code": {
                "coding": [{"system": PROCEDURE_SYSTEM, "code": PROCEDURE_CODE}],
                "text": PROCEDURE_DISPLAY,
            },
            "description": f"Session {number} of {course.planned_sessions}",
            "status": "not-started" if chosen is None else ACTIVITY_STATUS[chosen.status],
            "extension": [{"url": EXT_SESSION_NUMBER, "valueInteger": number}],
        }
        activity: dict[str, Any] = {}
        if chosen is None:
            detail["scheduledString"] = (
                f"{p.interval_days.min}-{p.interval_days.max} days after the previous session"
            )
        else:
            detail["scheduledPeriod"] = {
                "start": ctx.local(chosen.start),
                "end": ctx.local(chosen.end),
            }
            detail["performer"] = [practitioner_ref(ctx, chosen.practitioner_id)]
            done = performed_by_appt.get(chosen.id, [])
            if done:
                activity["outcomeReference"] = [
                    {"reference": ctx.urn("session", s.id)} for s in done
                ]
        activity["detail"] = detail
        activities.append(activity)
    m = p.maintenance_interval_months
    activities.append(
        {
            "detail": {
                "kind": "Appointment",
                "code": {
                    "coding": [{"system": PROCEDURE_SYSTEM, "code": PROCEDURE_CODE}],
                    "text": PROCEDURE_DISPLAY,
                },
                "description": f"Maintenance session every {m.min}-{m.max} months",
                "status": "not-started",
                "scheduledTiming": {
                    "repeat": {
                        "frequency": 1,
                        "period": m.min,
                        "periodMax": m.max,
                        "periodUnit": "mo",
                    }
                },
            }
        }
    )
    notes = [{"text": f"{r.factor}: {r.effect}"} for r in p.rationale]
    notes += [{"text": f"Warning: {w}"} for w in p.warnings]
    if course.note:
        notes.append({"text": course.note})
    data: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": ctx.rid("course", course.id),
        "identifier": [ctx.identifier("course", course.id)],
        "extension": [
            {"url": EXT_COURSE_STATUS, "valueCode": course.status.value},
            {"url": EXT_GUIDELINE, "valueString": course.guideline_version},
            {
                "url": EXT_PROTOCOL,
                "valueString": json.dumps(
                    course.protocol.model_dump(mode="json"), separators=(",", ":")
                ),
            },
        ],
        "status": CAREPLAN_STATUS[course.status],
        "intent": "plan",
        "title": f"Microneedling course ({course.planned_sessions} sessions)",
        "description": _protocol_text(course),
        "subject": ctx.patient_ref,
        "created": ctx.local(course.created_at),
        "activity": activities,
    }
    booked = sorted(
        (a for a in treatments if a.status is not AppointmentStatus.CANCELLED),
        key=lambda a: a.start,
    )
    if booked:
        data["period"] = {"start": ctx.local(booked[0].start), "end": ctx.local(booked[-1].end)}
    if notes:
        data["note"] = notes
    return CarePlan.model_validate(data)


def appointment_resource(ctx: ExportContext, appointment: Appointment) -> FhirAppointment:
    """One appointment; start and end carry the clinic's UTC offset on that day."""
    a = appointment
    what = f"Microneedling {a.kind.value}"
    if a.session_number is not None:
        what += f", session {a.session_number}"
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": ctx.rid("appointment", a.id),
        "identifier": [ctx.identifier("appointment", a.id)],
        "status": APPOINTMENT_STATUS[a.status],
        "serviceType": [
            {
                "coding": [{"system": APPOINTMENT_KIND_SYSTEM, "code": a.kind.value}],
                "text": a.kind.value,
            }
        ],
        "description": what,
        "start": ctx.local(a.start),
        "end": ctx.local(a.end),
        "minutesDuration": round((a.end - a.start).total_seconds() / 60),
        "participant": [
            {"actor": ctx.patient_ref, "required": "required", "status": "accepted"},
            {
                "actor": practitioner_ref(ctx, a.practitioner_id),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if a.session_number is not None:
        data["extension"] = [{"url": EXT_SESSION_NUMBER, "valueInteger": a.session_number}]
    if a.course_id is not None:
        data["supportingInformation"] = [{"reference": ctx.urn("course", a.course_id)}]
    if a.note:
        data["comment"] = a.note
    return FhirAppointment.model_validate(data)

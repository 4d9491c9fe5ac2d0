"""FHIR R4 export: a patient's record as a collection Bundle validated by ``fhir.resources``.

Mapping (see ``docs/interop.md`` for every field):

=================  ===============================================================
needleplan         FHIR resource
=================  ===============================================================
Patient            ``Patient`` (demographics and contact only, never clinical notes)
Practitioner       ``Practitioner`` (name), the target of performer references
Course             ``CarePlan`` (protocol snapshot, one activity per session, maintenance)
Appointment        ``Appointment`` (times in the clinic's time zone offset)
PerformedSession   ``Procedure`` (areas, device, needle depth, passes, product, lot)
Measurement        ``Observation`` (scale code, value with UCUM unit, effective time)
SignedConsent      ``Consent`` with the signed PDF attached (``fhir_consent.py``)
=================  ===============================================================

The resources are built with the R4-family models of ``fhir.resources`` (the ``R4B`` package,
FHIR 4.3.0, whose Patient, CarePlan, Appointment, Procedure and Observation are the R4 4.0.1
structures); only elements that exist in R4 4.0.1 are used.

Every resource id and Bundle ``fullUrl`` is a UUID 5 of the record's identity
(``needleplan:<clinic name>:<kind>:<database id>``), so exporting the same record twice gives the
same ``urn:uuid:`` and a receiver can update instead of duplicating.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.resource import Resource

from needleplan.domain.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Course,
    CourseStatus,
    Measurement,
    MeasurementScale,
    Patient,
    PerformedSession,
    Practitioner,
    Sex,
)
from needleplan.interop.fhir_media import media_resources
from needleplan.storage import Database

BASE = "https://needleplan.org/fhir"
SCALE_SYSTEM = f"{BASE}/CodeSystem/scale"
AREA_SYSTEM = f"{BASE}/CodeSystem/area"
PROCEDURE_SYSTEM = f"{BASE}/CodeSystem/procedure"
APPOINTMENT_KIND_SYSTEM = f"{BASE}/CodeSystem/appointment-kind"
COURSE_STATUS_SYSTEM = f"{BASE}/CodeSystem/course-status"
MRN_SYSTEM = f"{BASE}/sid/mrn"
RECORD_SYSTEM = f"{BASE}/sid/record"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

EXT_COURSE_STATUS = f"{BASE}/StructureDefinition/course-status"
EXT_PROTOCOL = f"{BASE}/StructureDefinition/protocol-snapshot"
EXT_GUIDELINE = f"{BASE}/StructureDefinition/guideline-version"
EXT_NEEDLE_DEPTH = f"{BASE}/StructureDefinition/needle-depth"
EXT_PASSES = f"{BASE}/StructureDefinition/passes"
EXT_DEVICE = f"{BASE}/StructureDefinition/device"
EXT_PRODUCT = f"{BASE}/StructureDefinition/product"
EXT_LOT = f"{BASE}/StructureDefinition/lot"
EXT_SESSION_NUMBER = f"{BASE}/StructureDefinition/session-number"

DEFAULT_CLINIC = ("needleplan clinic", "UTC")

NAMESPACE = uuid.UUID("5d0c3f2e-8a57-5b8e-9c1d-6e0f4a3b2c19")
"""The UUID 5 namespace of needleplan record identities (fixed forever)."""

PROCEDURE_CODE = "microneedling"
PROCEDURE_DISPLAY = "Microneedling (collagen induction therapy)"

GENDER = {
    Sex.FEMALE: "female",
    Sex.MALE: "male",
    Sex.OTHER: "other",
    Sex.UNDISCLOSED: "unknown",
}
APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.ARRIVED: "arrived",
    AppointmentStatus.PERFORMED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.MISSED: "noshow",
}
CAREPLAN_STATUS = {
    CourseStatus.PLANNED: "active",
    CourseStatus.ACTIVE: "active",
    CourseStatus.COMPLETED: "completed",
    CourseStatus.LAPSED: "revoked",
    CourseStatus.CANCELLED: "revoked",
}
ACTIVITY_STATUS = {
    AppointmentStatus.BOOKED: "scheduled",
    AppointmentStatus.ARRIVED: "in-progress",
    AppointmentStatus.PERFORMED: "completed",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.MISSED: "not-started",
}
UCUM_UNIT = {"grade": "{grade}", "points": "{score}", "ratio": "1"}
# LOINC: none of the five scales needleplan records (GAIS, wrinkle grade, laxity grade,
# Cutometer R2, 0-10 satisfaction) has a LOINC code we could verify, so every Observation is
# coded in the local scale CodeSystem (docs/interop.md). Do not guess codes.
SCALE_CATEGORY = {
    MeasurementScale.SATISFACTION: ("survey", "Survey"),
}


def record_uuid(clinic_name: str, kind: str, record_id: int) -> uuid.UUID:
    """The stable UUID 5 of one record (``kind`` is ``patient``, ``course``, ...)."""
    return uuid.uuid5(NAMESPACE, f"needleplan:{clinic_name}:{kind}:{record_id}")


def _area_label(value: str) -> str:
    return value.replace("_", " ")


def _area_concept(area: str) -> dict[str, Any]:
    return {
        "coding": [{"system": AREA_SYSTEM, "code": area, "display": _area_label(area)}],
        "text": _area_label(area),
    }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class _Context:
    """What every mapping needs: the clinic identity, its time zone and the patient reference."""

    clinic_name: str
    timezone: str
    patient_id: int

    def urn(self, kind: str, record_id: int) -> str:
        return f"urn:uuid:{record_uuid(self.clinic_name, kind, record_id)}"

    def rid(self, kind: str, record_id: int) -> str:
        return str(record_uuid(self.clinic_name, kind, record_id))

    def local(self, when: datetime) -> str:
        """An instant in the clinic's time zone, with its offset (``2031-01-06T09:00:00+00:00``)."""
        return when.astimezone(ZoneInfo(self.timezone)).isoformat()

    def identifier(self, kind: str, record_id: int) -> dict[str, Any]:
        return {"system": f"{RECORD_SYSTEM}/{kind}", "value": str(record_id)}

    @property
    def patient_ref(self) -> dict[str, Any]:
        return {"reference": self.urn("patient", self.patient_id)}


def patient_resource(ctx: _Context, patient: Patient) -> FhirPatient:
    """Demographics and contact details; the patient's free-text notes are never exported."""
    telecom: list[dict[str, Any]] = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": ctx.rid("patient", patient.id),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                        }
                    ]
                },
                "system": MRN_SYSTEM,
                "value": patient.mrn,
            },
            ctx.identifier("patient", patient.id),
        ],
        "active": True,
        "name": [
            {
                "use": "official",
                "text": patient.display_name,
                "family": patient.family_name,
                "given": [patient.given_name],
            }
        ],
        "gender": GENDER[patient.sex],
        "birthDate": patient.birth_date.isoformat(),
    }
    if telecom:
        data["telecom"] = telecom
    return FhirPatient.model_validate(data)


def practitioner_resource(ctx: _Context, practitioner: Practitioner) -> FhirPractitioner:
    return FhirPractitioner.model_validate(
        {
            "resourceType": "Practitioner",
            "id": ctx.rid("practitioner", practitioner.id),
            "identifier": [ctx.identifier("practitioner", practitioner.id)],
            "active": practitioner.active,
            "name": [{"text": practitioner.name}],
        }
    )


def _protocol_text(course: Course) -> str:
    p = course.protocol
    areas = ", ".join(_area_label(a.value) for a in p.areas)
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
    ctx: _Context,
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
            detail["performer"] = [_practitioner_ref(ctx, chosen.practitioner_id)]
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


def _practitioner_ref(ctx: _Context, practitioner_id: int) -> dict[str, Any]:
    return {"reference": ctx.urn("practitioner", practitioner_id)}


def appointment_resource(ctx: _Context, appointment: Appointment) -> FhirAppointment:
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
                "actor": _practitioner_ref(ctx, a.practitioner_id),
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


def procedure_resource(ctx: _Context, session: PerformedSession) -> Procedure:
    """One performed session: areas as body sites, device, depth per area, passes, product, lot."""
    s = session
    depth_ext = [
        {
            "url": EXT_NEEDLE_DEPTH,
            "extension": [
                {"url": "area", "valueCode": area.value},
                {
                    "url": "depth",
                    "valueQuantity": {
                        "value": _number(depth),
                        "unit": "mm",
                        "system": UCUM,
                        "code": "mm",
                    },
                },
            ],
        }
        for area, depth in s.needle_depth_mm.items()
    ]
    extensions: list[dict[str, Any]] = [
        {"url": EXT_DEVICE, "valueString": s.device},
        *depth_ext,
        {"url": EXT_PASSES, "valueInteger": s.passes},
    ]
    if s.product:
        extensions.append({"url": EXT_PRODUCT, "valueString": s.product})
    if s.lot:
        extensions.append({"url": EXT_LOT, "valueString": s.lot})
    depths = ", ".join(f"{_area_label(a.value)} {d:g} mm" for a, d in s.needle_depth_mm.items())
    summary = f"Device {s.device}; needle depth {depths}; {s.passes} passes"
    if s.product:
        summary += f"; product {s.product}" + (f", lot {s.lot}" if s.lot else "")
    notes = [{"text": summary + "."}]
    if s.notes:
        notes.append({"text": s.notes})
    for event in s.adverse_events:
        notes.append(
            {
                "text": f"Adverse event: {event.kind} ({event.severity})"
                + (f": {event.note}" if event.note else "")
            }
        )
    data: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": ctx.rid("session", s.id),
        "identifier": [ctx.identifier("session", s.id)],
        "extension": extensions,
        "status": "completed",
        "code": {
            "coding": [
                {"system": PROCEDURE_SYSTEM, "code": PROCEDURE_CODE, "display": PROCEDURE_DISPLAY}
            ],
            "text": PROCEDURE_DISPLAY,
        },
        "subject": ctx.patient_ref,
        "performedDateTime": ctx.local(s.performed_at),
        "performer": [{"actor": _practitioner_ref(ctx, s.practitioner_id)}],
        "bodySite": [_area_concept(a.value) for a in s.areas],
        "usedCode": [{"text": s.device}],
        "note": notes,
    }
    if s.course_id is not None:
        data["basedOn"] = [{"reference": ctx.urn("course", s.course_id)}]
    if s.adverse_events:
        data["complication"] = [{"text": f"{e.kind} ({e.severity})"} for e in s.adverse_events]
    return Procedure.model_validate(data)


def observation_resource(ctx: _Context, measurement: Measurement) -> Observation:
    """One measurement: the scale as code (LOINC where known, else local), value with unit."""
    m = measurement
    info = m.scale.info
    codings = [{"system": SCALE_SYSTEM, "code": m.scale.value, "display": info.description}]
    cat_code, cat_display = SCALE_CATEGORY.get(m.scale, ("exam", "Exam"))
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ctx.rid("measurement", m.id),
        "identifier": [ctx.identifier("measurement", m.id)],
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": cat_code, "display": cat_display}]}
        ],
        "code": {"coding": codings, "text": info.description},
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.local(m.measured_at),
        "valueQuantity": {
            "value": _number(m.value),
            "unit": info.unit,
            "system": UCUM,
            "code": UCUM_UNIT[info.unit],
        },
    }
    if m.measured_by is not None:
        data["performer"] = [_practitioner_ref(ctx, m.measured_by)]
    if m.area is not None:
        data["bodySite"] = _area_concept(m.area.value)
    if m.course_id is not None:
        data["basedOn"] = [{"reference": ctx.urn("course", m.course_id)}]
    if m.note:
        data["note"] = [{"text": m.note}]
    return Observation.model_validate(data)


def _entry(resource: Resource) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{resource.id}",
        "resource": resource,  # already validated; pydantic does not validate it again
    }


def patient_bundle(db: Database, patient_id: int) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of one patient's record, as a JSON-ready dict.

    Parameters
    ----------
    db : Database
        The clinic database.
    patient_id : int
        The patient's database id.

    Returns
    -------
    dict
        The Bundle (validated by ``fhir.resources``): the Patient, the Practitioners her records
        name, a CarePlan per course, an Appointment per appointment, a Procedure per performed
        session, an Observation per measurement, a QuestionnaireResponse per intake
        (:mod:`needleplan.interop.fhir_intake`) and a Consent per signed consent form (its PDF
        attached). Ids and ``fullUrl`` values are stable.

    Raises
    ------
    NotFoundError
        when there is no such patient.
    """
    from needleplan import services

    record = services.patient_file(db, patient_id)
    with db.transaction() as uow:
        clinic = uow.clinics.first()
        staff = {p.id: p for p in uow.clinics.practitioners()}
    # A database with patients but no clinic row yet uses the defaults ensure_clinic would store.
    name, zone = (clinic.name, clinic.timezone) if clinic is not None else DEFAULT_CLINIC
    ctx = _Context(name, zone, patient_id)
    named: set[int] = set()
    named.update(a.practitioner_id for a in record.appointments)
    named.update(s.practitioner_id for s in record.sessions)
    named.update(m.measured_by for m in record.measurements if m.measured_by is not None)
    resources: list[Resource] = [patient_resource(ctx, record.patient)]
    resources += [practitioner_resource(ctx, staff[i]) for i in sorted(named) if i in staff]
    resources += [
        careplan_resource(ctx, c, record.appointments, record.sessions) for c in record.courses
    ]
    resources += [appointment_resource(ctx, a) for a in record.appointments]
    resources += [procedure_resource(ctx, s) for s in record.sessions]
    resources += [observation_resource(ctx, m) for m in record.measurements]
    from needleplan.interop.fhir_intake import intake_resources  # it imports this module

    resources += intake_resources(ctx, db, patient_id)  # QuestionnaireResponse per intake
    resources += _consents(db, ctx)
    resources += media_resources(db, ctx)  # her photos (fhir_media.py)
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": ctx.rid("bundle", patient_id),
            "type": "collection",
            "entry": [_entry(r) for r in resources],
        }
    )
    result: dict[str, Any] = json.loads(bundle.model_dump_json())
    return result


def _consents(db: Database, ctx: _Context) -> list[Resource]:
    """Her signed consent forms as ``Consent`` resources with the PDFs (fhir_consent.py)."""
    from needleplan.domain.consent_forms import standings
    from needleplan.interop.fhir_consent import consent_resource

    with db.transaction() as uow:
        forms = standings(uow.consent_forms.for_patient(ctx.patient_id))
        pdfs = {f.id: uow.consent_forms.pdf(f.id) for f in forms}
    return [
        consent_resource(
            f,
            pdfs[f.id],
            rid=ctx.rid("consent", f.id),
            identifier=ctx.identifier("consent", f.id),
            patient_ref=ctx.patient_ref,
            local=ctx.local,
        )
        for f in forms
    ]


def parse_bundle(data: dict[str, Any]) -> Bundle:
    """Parse (and so validate) a Bundle dict with ``fhir.resources``."""
    return Bundle.model_validate(data)


__all__ = [
    "NAMESPACE",
    "SCALE_SYSTEM",
    "appointment_resource",
    "careplan_resource",
    "observation_resource",
    "parse_bundle",
    "patient_bundle",
    "patient_resource",
    "practitioner_resource",
    "procedure_resource",
    "record_uuid",
]

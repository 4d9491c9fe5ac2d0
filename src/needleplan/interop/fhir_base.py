"""The shared ground of the FHIR R4 export (:mod:`needleplan.interop.fhir`): needleplan's code
systems and extension URLs, the status and unit maps, the stable record UUIDs and the export
context every resource mapping receives.

The resource mappings live by family beside it: ``fhir_admin`` (Patient, Practitioner),
``fhir_care`` (CarePlan, Appointment), ``fhir_clinical`` (Procedure, Observation) and the
earlier ``fhir_consent``, ``fhir_intake`` and ``fhir_media``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from needleplan.domain.records import AppointmentStatus, CourseStatus, MeasurementScale, Sex

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


def area_label(value: str) -> str:
    return value.replace("_", " ")


def area_concept(area: str) -> dict[str, Any]:
    return {
        "coding": [{"system": AREA_SYSTEM, "code": area, "display": area_label(area)}],
        "text": area_label(area),
    }


def fhir_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class ExportContext:
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


def practitioner_ref(ctx: ExportContext, practitioner_id: int) -> dict[str, Any]:
    return {"reference": ctx.urn("practitioner", practitioner_id)}

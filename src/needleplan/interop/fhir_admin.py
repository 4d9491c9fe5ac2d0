"""FHIR administration resources of the export: the patient (``Patient``) and the practitioners
her records name (``Practitioner``)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner

from needleplan.domain.records import Patient, Practitioner
from needleplan.interop.fhir_base import GENDER, MRN_SYSTEM, ExportContext


def patient_resource(ctx: ExportContext, patient: Patient) -> FhirPatient:
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


def practitioner_resource(ctx: ExportContext, practitioner: Practitioner) -> FhirPractitioner:
    return FhirPractitioner.model_validate(
        {
            "resourceType": "Practitioner",
            "id": ctx.rid("practitioner", practitioner.id),
            "identifier": [ctx.identifier("practitioner", practitioner.id)],
            "active": practitioner.active,
            "name": [{"text": practitioner.name}],
        }
    )

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

This module assembles the Bundle; the mappings live by resource family in ``fhir_base`` (code
systems, maps, record UUIDs, the export context), ``fhir_admin`` (Patient, Practitioner),
``fhir_care`` (CarePlan, Appointment), ``fhir_clinical`` (Procedure, Observation),
``fhir_consent``, ``fhir_intake`` and ``fhir_media``. Their public names are re-exported here.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from needleplan.interop.fhir_admin import patient_resource, practitioner_resource
from needleplan.interop.fhir_base import (
    ACTIVITY_STATUS,
    APPOINTMENT_KIND_SYSTEM,
    APPOINTMENT_STATUS,
    AREA_SYSTEM,
    BASE,
    CAREPLAN_STATUS,
    COURSE_STATUS_SYSTEM,
    DEFAULT_CLINIC,
    EXT_COURSE_STATUS,
    EXT_DEVICE,
    EXT_GUIDELINE,
    EXT_LOT,
    EXT_NEEDLE_DEPTH,
    EXT_PASSES,
    EXT_PRODUCT,
    EXT_PROTOCOL,
    EXT_SESSION_NUMBER,
    GENDER,
    MRN_SYSTEM,
    NAMESPACE,
    OBSERVATION_CATEGORY,
    PROCEDURE_CODE,
    PROCEDURE_DISPLAY,
    PROCEDURE_SYSTEM,
    RECORD_SYSTEM,
    SCALE_CATEGORY,
    SCALE_SYSTEM,
    UCUM,
    UCUM_UNIT,
    ExportContext,
    record_uuid,
)
from needleplan.interop.fhir_care import appointment_resource, careplan_resource
from needleplan.interop.fhir_clinical import observation_resource, procedure_resource
from needleplan.interop.fhir_media import media_resources
from needleplan.storage import Database

#: The export context's earlier (private) name, kept for callers of this module.
_Context = ExportContext


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
    ctx = ExportContext(name, zone, patient_id)
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


def _consents(db: Database, ctx: ExportContext) -> list[Resource]:
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
    "ACTIVITY_STATUS",
    "APPOINTMENT_KIND_SYSTEM",
    "APPOINTMENT_STATUS",
    "AREA_SYSTEM",
    "BASE",
    "CAREPLAN_STATUS",
    "COURSE_STATUS_SYSTEM",
    "DEFAULT_CLINIC",
    "EXT_COURSE_STATUS",
    "EXT_DEVICE",
    "EXT_GUIDELINE",
    "EXT_LOT",
    "EXT_NEEDLE_DEPTH",
    "EXT_PASSES",
    "EXT_PRODUCT",
    "EXT_PROTOCOL",
    "EXT_SESSION_NUMBER",
    "GENDER",
    "MRN_SYSTEM",
    "NAMESPACE",
    "OBSERVATION_CATEGORY",
    "PROCEDURE_CODE",
    "PROCEDURE_DISPLAY",
    "PROCEDURE_SYSTEM",
    "RECORD_SYSTEM",
    "SCALE_CATEGORY",
    "SCALE_SYSTEM",
    "UCUM",
    "UCUM_UNIT",
    "ExportContext",
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

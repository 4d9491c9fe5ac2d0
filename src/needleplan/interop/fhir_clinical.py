"""FHIR clinical resources of the export: each performed session as a ``Procedure`` (areas,
device, depth per area, passes, product, lot) and each measurement as an ``Observation``."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure

from needleplan.domain.records import Measurement, PerformedSession
from needleplan.interop.fhir_base import (
    EXT_DEVICE,
    EXT_LOT,
    EXT_NEEDLE_DEPTH,
    EXT_PASSES,
    EXT_PRODUCT,
    OBSERVATION_CATEGORY,
    PROCEDURE_CODE,
    PROCEDURE_DISPLAY,
    PROCEDURE_SYSTEM,
    SCALE_CATEGORY,
    SCALE_SYSTEM,
    UCUM,
    UCUM_UNIT,
    ExportContext,
    area_concept,
    area_label,
    fhir_number,
    practitioner_ref,
)


def procedure_resource(ctx: ExportContext, session: PerformedSession) -> Procedure:
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
                        "value": fhir_number(depth),
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
    depths = ", ".join(f"{area_label(a.value)} {d:g} mm" for a, d in s.needle_depth_mm.items())
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
        "performer": [{"actor": practitioner_ref(ctx, s.practitioner_id)}],
        "bodySite": [area_concept(a.value) for a in s.areas],
        "usedCode": [{"text": s.device}],
        "note": notes,
    }
    if s.course_id is not None:
        data["basedOn"] = [{"reference": ctx.urn("course", s.course_id)}]
    if s.adverse_events:
        data["complication"] = [{"text": f"{e.kind} ({e.severity})"} for e in s.adverse_events]
    return Procedure.model_validate(data)


def observation_resource(ctx: ExportContext, measurement: Measurement) -> Observation:
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
            "value": fhir_number(m.value),
            "unit": info.unit,
            "system": UCUM,
            "code": UCUM_UNIT[info.unit],
        },
    }
    if m.measured_by is not None:
        data["performer"] = [practitioner_ref(ctx, m.measured_by)]
    if m.area is not None:
        data["bodySite"] = area_concept(m.area.value)
    if m.course_id is not None:
        data["basedOn"] = [{"reference": ctx.urn("course", m.course_id)}]
    if m.note:
        data["note"] = [{"text": m.note}]
    return Observation.model_validate(data)

"""Signed consent forms in the FHIR export (interop.fhir_consent): one ``Consent`` per form,
the signed PDF attached byte for byte, its SHA-256 as an identifier, status active for the
form in force and inactive for superseded or withdrawn ones, photo uses as nested provisions."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from needleplan.interop.fhir import parse_bundle, patient_bundle
from needleplan.interop.fhir_consent import PHOTO_USE_SYSTEM, SHA256_SYSTEM
from needleplan.services import consent_forms as cf
from tests.consent_support import SIGNING_DESK, signature_png


def _consents(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Consent"]


def test_each_signed_form_is_a_consent_with_its_pdf(clinic: Any) -> None:
    db, pid = clinic.db, clinic.patient.id
    treatment = cf.sign_consent(db, SIGNING_DESK, pid, "treatment", signature_png(), "tablet")
    old_photo = cf.sign_consent(db, SIGNING_DESK, pid, "photo", signature_png(), "tablet")
    photo = cf.sign_consent(
        db, SIGNING_DESK, pid, "photo", signature_png(), "tablet", ["teaching", "marketing"]
    )
    cf.withdraw_consent(db, SIGNING_DESK, pid, photo.id, "no more marketing")
    bundle = patient_bundle(db, pid)
    parse_bundle(bundle)  # validates
    found = {c["identifier"][0]["value"]: c for c in _consents(bundle)}
    assert set(found) == {str(treatment.id), str(old_photo.id), str(photo.id)}

    t = found[str(treatment.id)]
    assert t["status"] == "active"
    assert t["scope"]["coding"][0]["code"] == "treatment"
    assert t["category"][0]["coding"][0]["code"] == "59284-0"
    assert t["patient"]["reference"].startswith("urn:uuid:")
    pdf = base64.b64decode(t["sourceAttachment"]["data"])
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == treatment.sha256
    assert {"system": SHA256_SYSTEM, "value": treatment.sha256} in t["identifier"]
    sha1 = base64.b64encode(hashlib.sha1(pdf, usedforsecurity=False).digest()).decode()
    assert t["sourceAttachment"]["hash"] == sha1
    assert t["sourceAttachment"]["contentType"] == "application/pdf"

    assert found[str(old_photo.id)]["status"] == "inactive"  # superseded
    p = found[str(photo.id)]
    assert p["status"] == "inactive"  # withdrawn
    assert p["scope"]["coding"][0]["code"] == "patient-privacy"
    assert "end" in p["provision"]["period"]
    uses = [n["purpose"][0] for n in p["provision"]["provision"]]
    assert {u["code"] for u in uses} == {"record", "teaching", "marketing"}
    assert {u["system"] for u in uses} == {PHOTO_USE_SYSTEM}


def test_the_export_is_stable_and_without_forms_has_no_consent(clinic: Any) -> None:
    db, pid = clinic.db, clinic.patient.id
    assert _consents(patient_bundle(db, pid)) == []
    cf.sign_consent(db, SIGNING_DESK, pid, "treatment", signature_png(), "tablet")
    assert patient_bundle(db, pid) == patient_bundle(db, pid)

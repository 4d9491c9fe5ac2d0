"""FHIR R4 ``Consent`` resources for a patient's signed consent forms (part of her export).

Mapping (``docs/interop.md``):

======================  ==============================================================
needleplan              FHIR ``Consent`` (R4 4.0.1 elements only)
======================  ==============================================================
form in force           ``status`` ``active``; superseded or withdrawn: ``inactive``
kind ``treatment``      ``scope`` consentscope#treatment; ``photo``: #patient-privacy
every form              ``category`` LOINC 59284-0 (Patient Consent), and the kind in
                        the needleplan consent-kind CodeSystem
signed at               ``dateTime`` (clinic time zone offset)
the signed PDF          ``sourceAttachment``: ``application/pdf``, the bytes (base64),
                        ``hash`` (SHA-1, as R4 defines it), size, title with the version
SHA-256 of the PDF      an ``identifier`` (system ``.../sid/consent-pdf-sha256``)
photo uses              ``provision`` ``permit`` with one nested ``provision`` per use
                        (needleplan photo-use CodeSystem: record, teaching, marketing)
withdrawal              ``provision.period.end`` = when she withdrew (the form is kept)
======================  ==============================================================
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.consent import Consent

from needleplan.domain.consent_forms import (
    ConsentKind,
    ConsentStanding,
    PhotoUse,
    SignedConsent,
)

BASE = "https://needleplan.org/fhir"
CONSENT_KIND_SYSTEM = f"{BASE}/CodeSystem/consent-kind"
PHOTO_USE_SYSTEM = f"{BASE}/CodeSystem/photo-use"
SHA256_SYSTEM = f"{BASE}/sid/consent-pdf-sha256"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"

SCOPE = {
    ConsentKind.TREATMENT: ("treatment", "Treatment"),
    ConsentKind.PHOTO: ("patient-privacy", "Privacy Consent"),
}
KIND_DISPLAY = {
    ConsentKind.TREATMENT: "Microneedling treatment consent",
    ConsentKind.PHOTO: "Clinical photograph consent",
}


def consent_resource(
    form: SignedConsent,
    pdf: bytes,
    *,
    rid: str,
    identifier: dict[str, Any],
    patient_ref: dict[str, Any],
    local: Callable[[datetime], str],
) -> Consent:
    """One signed form as a validated ``Consent`` with its PDF attached.

    ``rid`` is the stable resource id, ``identifier`` the record identifier, ``patient_ref`` the
    reference to her Patient and ``local`` renders an instant in the clinic's time zone (all
    from the export's context, :mod:`needleplan.interop.fhir`).
    """
    scope_code, scope_display = SCOPE[form.kind]
    provision: dict[str, Any] = {"type": "permit"}
    if form.withdrawn_at is not None:
        provision["period"] = {"start": local(form.signed_at), "end": local(form.withdrawn_at)}
    if form.kind is ConsentKind.PHOTO:
        provision["provision"] = [
            {
                "type": "permit",
                "purpose": [{"system": PHOTO_USE_SYSTEM, "code": use.value, "display": use.value}],
            }
            for use in PhotoUse
            if use in form.uses
        ]
    data: dict[str, Any] = {
        "resourceType": "Consent",
        "id": rid,
        "identifier": [identifier, {"system": SHA256_SYSTEM, "value": form.sha256}],
        "status": "active" if form.standing is ConsentStanding.CURRENT else "inactive",
        "scope": {
            "coding": [{"system": SCOPE_SYSTEM, "code": scope_code, "display": scope_display}]
        },
        "category": [
            {"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]},
            {
                "coding": [
                    {
                        "system": CONSENT_KIND_SYSTEM,
                        "code": form.kind.value,
                        "display": KIND_DISPLAY[form.kind],
                    }
                ]
            },
        ],
        "patient": patient_ref,
        "dateTime": local(form.signed_at),
        "sourceAttachment": {
            "contentType": "application/pdf",
            "data": base64.b64encode(pdf).decode("ascii"),
            "size": len(pdf),
            "hash": base64.b64encode(hashlib.sha1(pdf, usedforsecurity=False).digest()).decode(),
            "title": f"{KIND_DISPLAY[form.kind]}, template version {form.template_version}",
            "creation": local(form.signed_at),
        },
        "provision": provision,
    }
    return Consent.model_validate(data)


__all__ = ["CONSENT_KIND_SYSTEM", "PHOTO_USE_SYSTEM", "SHA256_SYSTEM", "consent_resource"]

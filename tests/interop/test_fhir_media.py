"""Her photos in the FHIR export: one ``Media`` per photo with the view, the session it belongs
to, the cleaned JPEG (its SHA-1 as R4 defines ``hash``) and the SHA-256 identifier."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from needleplan.interop.fhir import parse_bundle, patient_bundle
from needleplan.interop.fhir_media import PHOTO_SHA256_SYSTEM, PHOTO_VIEW_SYSTEM


def test_each_photo_is_a_media_resource(populated: Any) -> None:
    db, pid = populated.db, populated.patient.id
    bundle = patient_bundle(db, pid)
    parse_bundle(bundle)
    media = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"]
    with db.transaction() as uow:
        (photo,) = uow.photos.of_patient(pid)
    (resource,) = media
    assert resource["status"] == "completed"
    assert resource["view"]["coding"][0] == {
        "system": PHOTO_VIEW_SYSTEM,
        "code": "front",
        "display": "Front",
    }
    image = base64.b64decode(resource["content"]["data"])
    assert hashlib.sha256(image).hexdigest() == photo.sha256
    assert resource["content"]["contentType"] == "image/jpeg"
    assert resource["content"]["hash"] == base64.b64encode(hashlib.sha1(image).digest()).decode()
    assert {"system": PHOTO_SHA256_SYSTEM, "value": photo.sha256} in resource["identifier"]
    assert (resource["width"], resource["height"]) == (photo.width, photo.height)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert resource["partOf"][0]["reference"] in urls  # her Appointment of that session
    assert resource["subject"]["reference"] in urls


def test_a_patient_without_photos_has_no_media(populated: Any) -> None:
    with populated.db.transaction() as uow:
        others = [i for i in uow.patients.mrns_by_id() if i != populated.patient.id]
    bundle = patient_bundle(populated.db, others[0])
    assert not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"]

"""FHIR R4 ``Media`` resources for a patient's before and after photos (part of her export).

Mapping (``docs/interop.md``):

======================  ==============================================================
needleplan              FHIR ``Media`` (R4 4.0.1 elements only)
======================  ==============================================================
a stored photo          ``status`` ``completed``, ``type`` media-type#image
standard view           ``view``: the needleplan photo-view CodeSystem (front, left_45,
                        right_45, left_profile, right_profile)
course session          ``partOf``: her Appointment of that session
taken at                ``createdDateTime`` (clinic time zone offset); uploaded: ``issued``
uploaded by             ``operator.display`` (the account name)
image                   ``content``: ``image/jpeg``, the bytes (base64, metadata already
                        stripped), ``hash`` (SHA-1, as R4 defines it), size; ``width``,
                        ``height``
SHA-256 of the image    an ``identifier`` (system ``.../sid/photo-sha256``), the file's name
                        in the media folder
======================  ==============================================================
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fhir.resources.R4B.media import Media

from needleplan.domain.photos import VIEW_LABELS, Photo
from needleplan.storage import Database
from needleplan.storage.media import media_dir, read_media

BASE = "https://needleplan.org/fhir"
PHOTO_VIEW_SYSTEM = f"{BASE}/CodeSystem/photo-view"
PHOTO_SHA256_SYSTEM = f"{BASE}/sid/photo-sha256"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"


def media_resource(photo: Photo, image: bytes, ctx: Any) -> Media:
    """One photo as a validated ``Media`` with its JPEG attached. ``ctx`` is the export's
    context (:mod:`needleplan.interop.fhir`: ids, references, clinic time zone)."""
    data: dict[str, Any] = {
        "resourceType": "Media",
        "id": ctx.rid("photo", photo.id),
        "identifier": [
            ctx.identifier("photo", photo.id),
            {"system": PHOTO_SHA256_SYSTEM, "value": photo.sha256},
        ],
        "partOf": [{"reference": ctx.urn("appointment", photo.appointment_id)}],
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}]},
        "view": {
            "coding": [
                {
                    "system": PHOTO_VIEW_SYSTEM,
                    "code": photo.view.value,
                    "display": VIEW_LABELS[photo.view],
                }
            ]
        },
        "subject": ctx.patient_ref,
        "createdDateTime": ctx.local(photo.taken_at),
        "issued": ctx.local(photo.uploaded_at),
        "operator": {"display": photo.uploaded_by},
        "width": photo.width,
        "height": photo.height,
        "content": {
            "contentType": "image/jpeg",
            "data": base64.b64encode(image).decode("ascii"),
            "size": len(image),
            "hash": base64.b64encode(hashlib.sha1(image, usedforsecurity=False).digest()).decode(),
            "title": f"{VIEW_LABELS[photo.view]}, {ctx.local(photo.taken_at)[:10]}",
            "creation": ctx.local(photo.taken_at),
        },
    }
    return Media.model_validate(data)


def media_resources(db: Database, ctx: Any, media_root: Path | None = None) -> list[Media]:
    """Her photos as ``Media`` resources, oldest first."""
    with db.transaction() as uow:
        photos = uow.photos.of_patient(ctx.patient_id)
    root = media_root if media_root is not None else media_dir(db.engine)
    return [media_resource(p, read_media(root, p.sha256), ctx) for p in photos]


__all__ = ["PHOTO_SHA256_SYSTEM", "PHOTO_VIEW_SYSTEM", "media_resource", "media_resources"]

"""Her before and after photos on her own handout (docs/consent.md, "Before and after photos").

Only while her photo consent is in force: the ``record`` use that every photo consent grants is
enough for a copy in her own handout (the photos stay within her care; no teaching or marketing
use is involved). Without a current photo consent (never signed, or withdrawn) the handout shows
no photos, and nothing is read or audited.

Per standard view with at least two photos, the pair is her first photo of that view (before
treatment) and her newest (after), the same pair the compare page opens with. The thumbnails
(no metadata, :mod:`needleplan.services.photo_images`) are read from the media folder with their
hashes checked, in one transaction with the ``photo.handout`` audit event (``photos=<ids>``),
recorded for the account that asked for the handout (a practitioner on the staff page) or her
own link (``patient-link``, the portal).
"""

from __future__ import annotations

from pathlib import Path

from needleplan.domain.consent_forms import ConsentKind
from needleplan.domain.photos import HandoutPhoto, Photo, PhotoPair
from needleplan.domain.records import User
from needleplan.services.audit import audited
from needleplan.services.consent_forms import current_in
from needleplan.services.photos import root_of, timeline
from needleplan.storage import Database
from needleplan.storage.media import read_media


def photo_pairs(photos: list[Photo]) -> list[tuple[Photo, Photo]]:
    """``(first, newest)`` of each view with at least two photos, in the views' order."""
    return [(line[0], line[-1]) for line in timeline(photos).values() if len(line) >= 2]


def handout_photo_pairs(
    db: Database,
    patient_id: int,
    viewer: User | str,
    *,
    media_root: Path | None = None,
) -> list[PhotoPair]:
    """The before and after thumbnails of each view for her handout, or ``[]`` when her photo
    consent is not in force or no view has two photos. ``viewer`` is the account asking (its
    role needs the clinical permission) or the name of her link; audited ``photo.handout``."""
    root = root_of(db, media_root)
    with db.transaction() as uow:
        if current_in(uow, patient_id, ConsentKind.PHOTO) is None:
            return []
        pairs = photo_pairs(uow.photos.of_patient(patient_id))
        if not pairs:
            return []
        ids = ",".join(f"{a.id},{b.id}" for a, b in pairs)
        user = viewer if isinstance(viewer, User) else None
        name = viewer if isinstance(viewer, str) else None
        with audited(db, user, "photo.handout", patient_id, f"photos={ids}", username=name):

            def thumb(photo: Photo) -> HandoutPhoto:
                data = read_media(root, photo.thumb_sha256)
                return HandoutPhoto(photo.id, photo.view, photo.taken_at, data)

            return [PhotoPair(a.view, thumb(a), thumb(b)) for a, b in pairs]


__all__ = ["handout_photo_pairs", "photo_pairs"]

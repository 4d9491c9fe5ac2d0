"""Before and after photos as values: the standard views and one stored photo.

A photo belongs to a patient and to one of her course sessions (an appointment) and shows one
of the :class:`PhotoView` standard views, so the same view can be compared across her course.
The image bytes are not part of the value: they live in the media folder under the SHA-256 of
the stored (cleaned, re-encoded) image (:mod:`needleplan.storage.media`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from needleplan.domain.language import N_
from needleplan.exceptions import InputError


class PhotoView(StrEnum):
    """The standard views of a facial photo series."""

    FRONT = "front"
    LEFT_45 = "left_45"
    RIGHT_45 = "right_45"
    LEFT_PROFILE = "left_profile"
    RIGHT_PROFILE = "right_profile"


#: The views' names (marked for translation: her handout shows them in her language).
VIEW_LABELS: dict[PhotoView, str] = {
    PhotoView.FRONT: N_("Front"),
    PhotoView.LEFT_45: N_("Left 45°"),
    PhotoView.RIGHT_45: N_("Right 45°"),
    PhotoView.LEFT_PROFILE: N_("Left profile"),
    PhotoView.RIGHT_PROFILE: N_("Right profile"),
}


def parse_view(value: PhotoView | str, field: str = "view") -> PhotoView:
    """``value`` as a :class:`PhotoView`, or an InputError listing the views."""
    try:
        return PhotoView(str(value).strip().lower())
    except ValueError:
        raise InputError.one(
            field, value, "must be one of " + ", ".join(v.value for v in PhotoView)
        ) from None


@dataclass(frozen=True)
class HandoutPhoto:
    """One thumbnail on her handout: its view, when it was taken, the JPEG bytes."""

    photo_id: int
    view: PhotoView
    taken_at: datetime
    jpeg: bytes


@dataclass(frozen=True)
class PhotoPair:
    """The before and after thumbnails of one view, side by side on her handout."""

    view: PhotoView
    before: HandoutPhoto
    after: HandoutPhoto


@dataclass(frozen=True)
class Photo:
    """A stored photo: who, which session and view, when, and the hashes and sizes of the
    image and its thumbnail (both JPEG, without any metadata)."""

    id: int
    patient_id: int
    appointment_id: int
    view: PhotoView
    taken_at: datetime
    sha256: str
    byte_size: int
    width: int
    height: int
    thumb_sha256: str
    thumb_width: int
    thumb_height: int
    uploaded_by: str
    uploaded_at: datetime

    @property
    def view_label(self) -> str:
        return VIEW_LABELS[self.view]

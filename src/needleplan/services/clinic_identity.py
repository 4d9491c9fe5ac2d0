"""The clinic's public identity (name, address, phone, e-mail, website, logo) for any page.

:func:`clinic_identity` reads it from a calendar (the one in force:
:func:`~needleplan.services.clinic_calendar.effective_clinic`); the public estimator, the
patient portal and the handout call it rather than reading the calendar's keys themselves.

The logo is uploaded on the admin's settings page: :func:`check_logo` accepts PNG and JPEG only
(SVG and everything else is refused: an SVG can carry scripts), at most :data:`MAX_LOGO_BYTES`
and :data:`MAX_LOGO_PIXELS` a side, decodes it and re-encodes it (which drops embedded metadata
such as camera or location data). :func:`store_logo` keeps it in the database by the SHA-256 of
its bytes (never in a world-readable folder; backups carry it) and the calendar names it in its
``logo`` key; the app serves it at :data:`LOGO_PATH`.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Final

from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.clinic import LOGO_NAME
from needleplan.services._clock import utc_now
from needleplan.storage import Database
from needleplan.storage.repositories import MediaFile

#: Largest logo upload [bytes].
MAX_LOGO_BYTES: Final = 512 * 1024
#: Largest logo width or height [pixels].
MAX_LOGO_PIXELS: Final = 2000
#: Where the app serves a stored logo (the name follows).
LOGO_PATH: Final = "/clinic/logo/"
_TYPES: Final = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg")}


@dataclass(frozen=True)
class ClinicIdentity:
    """What the clinic's public pages show about it (empty text: not given)."""

    name: str
    address: str
    phone: str
    email: str
    website: str
    logo_url: str

    @property
    def phone_link(self) -> str:
        """A ``tel:`` link target (digits and a leading +)."""
        digits = "".join(c for c in self.phone if c.isdigit() or c == "+")
        return f"tel:{digits}" if digits else ""


def clinic_identity(clinic: ClinicConfig) -> ClinicIdentity:
    """The public identity of ``clinic`` (its address is the calendar's ``location``)."""
    return ClinicIdentity(
        name=clinic.name,
        address=clinic.location,
        phone=clinic.phone,
        email=clinic.email,
        website=clinic.website,
        logo_url=f"{LOGO_PATH}{clinic.logo}" if clinic.logo else "",
    )


@dataclass(frozen=True)
class CheckedLogo:
    """A logo that passed :func:`check_logo`: its stored name, type and (re-encoded) bytes."""

    name: str
    content_type: str
    data: bytes


def check_logo(data: bytes, filename: str = "") -> CheckedLogo:
    """Check an uploaded logo and re-encode it.

    Raises
    ------
    InputError
        (field ``logo``) for an empty or too large file, an SVG or any type but PNG and JPEG, a
        file that does not decode, or one larger than :data:`MAX_LOGO_PIXELS` a side.
    """
    shown = filename[-60:] or "the file"
    if not data:
        raise InputError.one("logo", shown, "is empty: choose a PNG or JPEG file")
    if len(data) > MAX_LOGO_BYTES:
        raise InputError.one(
            "logo", f"{shown} ({len(data)} bytes)", f"must be at most {MAX_LOGO_BYTES // 1024} KB"
        )
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype")) or b"<svg" in head:
        raise InputError.one("logo", shown, "must be PNG or JPEG: SVG is refused (it can run code)")
    from PIL import Image, UnidentifiedImageError  # deferred: only uploads need it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or ""
                if kind not in _TYPES:
                    raise InputError.one("logo", shown, "must be a PNG or JPEG image")
                width, height = image.size
                if max(width, height) > MAX_LOGO_PIXELS:
                    raise InputError.one(
                        "logo",
                        f"{shown} ({width}x{height})",
                        f"must be at most {MAX_LOGO_PIXELS} pixels wide and high",
                    )
                image.load()
                clean = _reencode(image, kind)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning):
        raise InputError.one("logo", shown, "must be a PNG or JPEG image that opens") from None
    extension, content_type = _TYPES[kind]
    name = f"{hashlib.sha256(clean).hexdigest()}.{extension}"
    return CheckedLogo(name, content_type, clean)


def _reencode(image: object, kind: str) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA", "P") else "RGBA"
        image.convert(mode).save(out, format="PNG", optimize=True)
    return out.getvalue()


def store_logo(db: Database, logo: CheckedLogo, username: str) -> str:
    """Keep a checked logo (joins the transaction open in this thread, if any); its name."""
    with db.transaction() as uow:
        uow.clinic_media.add(logo.name, logo.content_type, logo.data, utc_now(), username[:40])
    return logo.name


def stored_logo(db: Database, name: str) -> MediaFile | None:
    """A stored logo by its name, or None (also for a name that is not a logo's)."""
    if not LOGO_NAME.match(name):
        return None
    with db.transaction() as uow:
        return uow.clinic_media.get(name)


__all__ = [
    "LOGO_PATH",
    "MAX_LOGO_BYTES",
    "MAX_LOGO_PIXELS",
    "CheckedLogo",
    "ClinicIdentity",
    "check_logo",
    "clinic_identity",
    "store_logo",
    "stored_logo",
]

"""Photos in tests, made with Pillow (no binary fixtures): JPEGs with GPS EXIF and an
orientation tag, a decompression bomb, and a one-call photo consent."""

from __future__ import annotations

import io
from typing import Any

from tests.consent_support import SIGNING_DESK, signature_png

#: EXIF tags: Orientation, GPSInfo (the IFD pointer), Make.
ORIENTATION, GPS_IFD, MAKE = 0x0112, 0x8825, 0x010F


def jpeg(
    width: int = 400,
    height: int = 200,
    *,
    gps: bool = True,
    orientation: int | None = None,
    color: tuple[int, int, int] = (200, 120, 100),
    fmt: str = "JPEG",
) -> bytes:
    """A photo: the left half ``color``, the right half dark blue, with GPS and camera EXIF
    (and an Orientation tag when given), as a real phone would write it."""
    from PIL import Image

    image = Image.new("RGB", (width, height), color)
    image.paste((10, 20, 120), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[MAKE] = "PhoneCam"
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), comment=b"taken at home")
    return out.getvalue()


def png_bomb(side: int = 12_000) -> bytes:
    """A tiny PNG that declares ``side`` x ``side`` pixels (144 million by default)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def gif() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, format="GIF")
    return out.getvalue()


def sign_photo(db: Any, patient_id: int, uses: tuple[str, ...] = ()) -> Any:
    """Her photo consent (``record`` plus ``uses``), signed now."""
    from needleplan.services.consent_forms import sign_consent

    return sign_consent(
        db, SIGNING_DESK, patient_id, "photo", signature_png(), "pytest", list(uses)
    )

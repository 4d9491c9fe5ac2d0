"""Cleaning an uploaded photo with Pillow: checks, orientation, metadata removal, thumbnail.

:func:`clean_photo` refuses (an :class:`~needleplan.exceptions.InputError` naming the field,
the value and the rule):

* an empty file, or one over :data:`MAX_PHOTO_BYTES`;
* bytes Pillow does not recognise as an image;
* an image format other than :data:`ALLOWED_FORMATS` (JPEG, PNG, WebP; HEIC/HEIF too when the
  ``pillow-heif`` plug-in is installed);
* an image of more than :data:`MAX_PIXELS` pixels, checked from the header before any pixel is
  decoded, so a decompression bomb (a small file that expands to gigabytes) is never decoded;
* a damaged or truncated file.

What it keeps: the pixels, turned upright by the EXIF ``Orientation`` tag, in RGB (a
transparent background becomes white), re-encoded as a new JPEG made from the raw pixels. No
metadata of the upload survives: EXIF (GPS position, camera, time), XMP, IPTC, ICC profile and
comments are all dropped. The thumbnail is made the same way, at most
:data:`THUMB_SIZE` pixels on its longer side.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from needleplan.exceptions import InputError

#: The largest upload accepted [bytes] (15 MiB: a full-resolution phone photo fits).
MAX_PHOTO_BYTES = 15 * 1024 * 1024
#: The most pixels an image may have (width x height), read from its header before decoding.
MAX_PIXELS = 40_000_000
#: The longer side of a thumbnail [pixels].
THUMB_SIZE = 320
#: JPEG quality of the stored image and of the thumbnail.
JPEG_QUALITY = 90
THUMB_QUALITY = 80


def _heif_available() -> bool:
    if importlib.util.find_spec("pillow_heif") is None:
        return False
    plugin = importlib.import_module("pillow_heif")  # pragma: no cover - optional plug-in
    plugin.register_heif_opener()  # pragma: no cover
    return True  # pragma: no cover


#: Pillow's format names accepted (MPO is the multi-picture JPEG many phones write).
ALLOWED_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "MPO", "PNG", "WEBP"} | ({"HEIF"} if _heif_available() else set())
)
_NAMES = "JPEG, PNG or WebP" + (" or HEIC" if "HEIF" in ALLOWED_FORMATS else "")


@dataclass(frozen=True)
class CleanPhoto:
    """The stored image and thumbnail (JPEG bytes, no metadata) and their sizes [pixels]."""

    image: bytes
    size: tuple[int, int]
    thumb: bytes
    thumb_size: tuple[int, int]


def _encode(image: Image.Image, quality: int) -> bytes:
    """A new JPEG of ``image``'s pixels only (a fresh image: none of the source's info)."""
    bare = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def clean_photo(data: bytes, field: str = "file", name: str = "") -> CleanPhoto:
    """Check an uploaded photo and return it upright, without metadata, with a thumbnail.

    ``name`` (the uploaded file's name) is only used in messages.
    """
    shown = name or f"{len(data)} bytes"
    if not data:
        raise InputError.one(field, shown, "is empty: choose or take a photo")
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError.one(
            field,
            f"{name} ({len(data)} bytes)".strip(),
            f"must be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MiB",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InputError.one(
            field, shown, f"has too many pixels (at most {MAX_PIXELS:,}): refused unread"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError.one(field, shown, f"is not an image ({_NAMES})") from None
    with opened:
        if opened.format not in ALLOWED_FORMATS:
            raise InputError.one(field, f"{shown}: {opened.format}", f"must be {_NAMES}")
        width, height = opened.size
        if width * height > MAX_PIXELS:
            raise InputError.one(
                field,
                f"{shown}: {width}x{height} pixels",
                f"has too many pixels (at most {MAX_PIXELS:,}): refused unread",
            )
        try:
            opened.load()
            upright = ImageOps.exif_transpose(opened) or opened
            rgb = _rgb(upright)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise InputError.one(field, shown, "is damaged or truncated") from None
        image = _encode(rgb, JPEG_QUALITY)
        small = rgb.copy()
        small.thumbnail((THUMB_SIZE, THUMB_SIZE))
        thumb = _encode(small, THUMB_QUALITY)
        return CleanPhoto(image, rgb.size, thumb, small.size)

"""The signature image a patient draws, checked, and the signed consent form built as a PDF.

:func:`check_signature` refuses what is not a real signature: not a PNG, too large (bytes or
pixels, before decoding), or empty (too little ink: a blank canvas or a single tap).
:func:`consent_pdf` lays out the template's kind, version and text, her name, the time, the
device and the signature image (fpdf2, DejaVu fonts so any name prints).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from needleplan.domain.consent_forms import ConsentKind, ConsentTemplate, PhotoUse
from needleplan.exceptions import InputError

#: The largest signature accepted: bytes of the PNG, and pixels on each side.
SIGNATURE_MAX_BYTES = 2_000_000
SIGNATURE_MAX_SIDE = 4000
#: The least ink (dark, visible pixels) and the least width or height of the inked area, in
#: pixels, for a drawing to count as a signature.
MIN_INK_PIXELS = 60
MIN_INK_EXTENT = 20
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

USE_WORDS = {
    PhotoUse.RECORD: "kept in my clinical record",
    PhotoUse.TEACHING: "teaching clinicians (anonymised)",
    PhotoUse.MARKETING: "the clinic's marketing",
}


def check_signature(png: bytes, field: str = "signature") -> bytes:
    """``png`` if it is a PNG image with a drawn signature, else an InputError naming ``field``."""
    from PIL import Image, UnidentifiedImageError

    if not png:
        raise InputError.one(field, "", "is required: sign in the box")
    if len(png) > SIGNATURE_MAX_BYTES:
        raise InputError.one(
            field, f"{len(png)} bytes", f"must be at most {SIGNATURE_MAX_BYTES} bytes"
        )
    if not png.startswith(PNG_MAGIC):
        raise InputError.one(field, png[:8].hex(), "must be a PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(png), formats=["PNG"])
            width, height = image.size
            if max(width, height) > SIGNATURE_MAX_SIDE:
                raise InputError.one(
                    field,
                    f"{width}x{height}",
                    f"must be at most {SIGNATURE_MAX_SIDE} pixels on each side",
                )
            rgba = image.convert("RGBA")
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as exc:
        raise InputError.one(field, type(exc).__name__, "must be a readable PNG image") from None
    # ink: visible (alpha) and dark (the pen is dark on a light or transparent canvas)
    alpha = rgba.getchannel("A").point(lambda a: 255 if a >= 128 else 0)
    dark = rgba.convert("L").point(lambda v: 255 if v < 160 else 0)
    from PIL import ImageChops

    ink = ImageChops.multiply(alpha, dark)
    count = sum(ink.histogram()[255:])
    box = ink.getbbox()
    extent = max(box[2] - box[0], box[3] - box[1]) if box else 0
    if count < MIN_INK_PIXELS or extent < MIN_INK_EXTENT:
        raise InputError.one(field, "empty", "is empty: the patient must sign in the box")
    return png


@dataclass(frozen=True)
class ConsentDocument:
    """What the PDF of a signed form shows."""

    clinic_name: str
    template: ConsentTemplate
    uses: frozenset[PhotoUse]
    signer_name: str
    signed_at: datetime
    device: str
    signature_png: bytes
    recorded_by: str


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _wrap(pdf: Any, text: str, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` at spaces (a word longer than a line
    is cut), paragraph breaks kept. Linear in the text, unlike ``multi_cell``'s line breaker,
    which measures the whole line again at every character."""
    widths: dict[str, float] = {}
    table = getattr(pdf.current_font, "cw", None)  # a core font's glyph widths [1/1000 em]
    core = isinstance(table, dict) and all(ch in table for ch in text)

    def measure(word: str) -> float:
        if word not in widths:
            if core:
                assert isinstance(table, dict)
                widths[word] = sum(table[ch] for ch in word) * pdf.font_size / 1000
            else:
                widths[word] = float(pdf.get_string_width(word))
        return widths[word]

    space = measure(" ")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: list[str] = []
        used = 0.0
        for word in paragraph.split(" "):
            while measure(word) > width and len(word) > 1:  # a word wider than the line
                cut = len(word)
                while cut > 1 and measure(word[:cut]) > width:
                    cut = max(1, cut * 3 // 4)
                if current:
                    lines.append(" ".join(current))
                    current, used = [], 0.0
                lines.append(word[:cut])
                word = word[cut:]
            extra = measure(word) + (space if current else 0.0)
            if current and used + extra > width:
                lines.append(" ".join(current))
                current, used = [word], measure(word)
            else:
                current.append(word)
                used += extra
        lines.append(" ".join(current))
    return lines


def consent_pdf(doc: ConsentDocument) -> bytes:
    """The signed form as PDF bytes (its creation date is the signing time)."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    texts = (doc.clinic_name, doc.template.title, doc.template.body, doc.signer_name, doc.device)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(doc.signed_at)
    pdf.set_title(doc.template.title)
    pdf.set_creator("needleplan")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    if all(_latin1(t) for t in (*texts, doc.recorded_by)):
        family = "helvetica"  # a core font: no font file to parse (about 5x faster)
    else:
        family = "DejaVu"  # any script a name or text may use
        fonts = _font_dir()
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_page()

    def line(height: float, text: str, *, wrap: bool = False) -> None:
        for part in _wrap(pdf, text, pdf.epw) if wrap else [text]:
            pdf.cell(0, height, part, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font(family, "B", 10)
    pdf.set_text_color(31, 111, 178)
    line(6, doc.clinic_name)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(family, "B", 16)
    line(8, doc.template.title, wrap=True)
    pdf.set_font(family, "", 8)
    pdf.set_text_color(90, 90, 90)
    kind = "treatment consent" if doc.template.kind is ConsentKind.TREATMENT else "photo consent"
    line(5, f"Form: {kind}, template version {doc.template.version}")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.set_font(family, "", 10)
    line(5, doc.template.body, wrap=True)
    if doc.template.kind is ConsentKind.PHOTO:
        pdf.ln(2)
        pdf.set_font(family, "B", 10)
        line(6, "The uses I agree to:")
        pdf.set_font(family, "", 10)
        for use in PhotoUse:
            mark = "[yes]" if use in doc.uses else "[no]"
            line(5, f"{mark} {USE_WORDS[use]}")
    pdf.ln(4)
    pdf.set_font(family, "B", 10)
    line(6, f"Signed by: {doc.signer_name}")
    pdf.set_font(family, "", 9)
    when = doc.signed_at.isoformat(timespec="seconds")
    line(5, f"Signed at: {when}")
    line(5, f"Device: {doc.device}", wrap=True)
    line(5, f"Witnessed by: {doc.recorded_by}")
    pdf.ln(2)
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    pdf.image(io.BytesIO(doc.signature_png), w=80)
    raw = pdf.output()
    return bytes(raw)


__all__ = [
    "MIN_INK_EXTENT",
    "MIN_INK_PIXELS",
    "SIGNATURE_MAX_BYTES",
    "SIGNATURE_MAX_SIDE",
    "ConsentDocument",
    "check_signature",
    "consent_pdf",
]

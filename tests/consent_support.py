"""Signing consent forms in tests: a drawn signature and a one-call treatment consent.

A course session cannot be charted without a current signed treatment consent, so every test
or fixture that charts a session signs one first with :func:`sign_treatment`.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from needleplan.domain.records import Role, User

#: The account the helpers sign as (a named actor outside the database, audited by name).
SIGNING_DESK = User(
    id=0, username="consent-desk", role=Role.FRONT_DESK, created_at=datetime(2030, 1, 1, tzinfo=UTC)
)


def signature_png(width: int = 300, height: int = 100, *, strokes: int = 1) -> bytes:
    """A PNG of a scribbled signature: dark strokes on a transparent canvas."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for k in range(strokes):
        draw.line(
            [(10, 70 - 5 * k), (60, 20), (110, 80), (170, 25), (240, 75 - 5 * k)],
            fill=(20, 20, 60, 255),
            width=4,
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def blank_png(width: int = 300, height: int = 100) -> bytes:
    """A PNG of an empty (transparent) canvas."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def sign_treatment(db: Any, patient_id: int, actor: User | None = None) -> Any:
    """Her current treatment consent, signed now unless she has one (so her sessions may be
    charted)."""
    from needleplan.services.consent_forms import current_consent, sign_consent

    current = current_consent(db, patient_id, "treatment")
    if current is not None:
        return current
    return sign_consent(
        db, actor or SIGNING_DESK, patient_id, "treatment", signature_png(), "pytest"
    )

"""Signed consent forms as values: the kinds of form, the uses a photo consent allows, the
versioned templates, a signed form and its standing (current, superseded, withdrawn).

A patient signs a *template* (one kind, one version); the signed form keeps the template's
kind, version and text, her name, when and on which device she signed, and the SHA-256 of the
PDF the clinic stores. Forms are never deleted: a withdrawal is recorded on the form (who, when,
why), and a newer signature of the same kind supersedes the older one. The form *in force* for
a kind is the newest one, unless it was withdrawn (then there is none until she signs again).

The rules for text a clinic may save as a template (:func:`check_template_text`) and for the
uses a photo consent may name (:func:`parse_uses`) live here so the library, the CLI and the web
app refuse the same input with the same message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from needleplan.exceptions import InputError


class ConsentKind(StrEnum):
    """What a form consents to."""

    TREATMENT = "treatment"  # the microneedling treatment itself
    PHOTO = "photo"  # clinical photographs, with the uses she chooses


class PhotoUse(StrEnum):
    """What the clinic may do with her photographs. ``record`` (kept in her clinical record) is
    part of every photo consent; ``teaching`` (anonymised, for training clinicians) and
    ``marketing`` (the clinic's own publicity) are her choice."""

    RECORD = "record"
    TEACHING = "teaching"
    MARKETING = "marketing"


class ConsentStanding(StrEnum):
    """Where a signed form stands now."""

    CURRENT = "current"
    SUPERSEDED = "superseded"  # a newer form of the same kind was signed
    WITHDRAWN = "withdrawn"


#: Limits of a template a clinic saves (characters).
TITLE_MAX = 200
BODY_MAX = 20_000
#: Limits of the other texts on a form (characters).
SIGNER_MAX = 200
DEVICE_MAX = 400
REASON_MAX = 500


def parse_kind(kind: ConsentKind | str, field: str = "kind") -> ConsentKind:
    """``kind`` as a :class:`ConsentKind`, or an InputError listing the kinds."""
    try:
        return ConsentKind(str(kind).strip().lower())
    except ValueError:
        raise InputError.one(
            field, kind, "must be one of " + ", ".join(k.value for k in ConsentKind)
        ) from None


def parse_uses(
    kind: ConsentKind, uses: Iterable[PhotoUse | str] | None, field: str = "uses"
) -> frozenset[PhotoUse]:
    """The uses a form of ``kind`` grants. A treatment consent grants none (naming a use is
    refused); a photo consent always includes ``record`` and any of ``teaching`` and
    ``marketing`` she chose. Unknown uses are refused naming the value."""
    given = [str(u).strip().lower() for u in (uses or ())]
    if kind is ConsentKind.TREATMENT:
        if given:
            raise InputError.one(field, ",".join(given)[:80], "a treatment consent has no uses")
        return frozenset()
    chosen: set[PhotoUse] = {PhotoUse.RECORD}
    for use in given:
        try:
            chosen.add(PhotoUse(use))
        except ValueError:
            raise InputError.one(
                field, use[:40], "must be any of " + ", ".join(u.value for u in PhotoUse)
            ) from None
    return frozenset(chosen)


def _one_line(value: str, field: str, limit: int, *, required: bool = True) -> str:
    clean = (value or "").strip()
    if required and not clean:
        raise InputError.one(field, value, "is required")
    if len(clean) > limit:
        raise InputError.one(field, clean[:40] + "...", f"must be at most {limit} characters")
    if any(ord(ch) < 32 for ch in clean):
        raise InputError.one(field, clean[:40], "must be one line without control characters")
    return clean


def check_template_text(title: str, body: str) -> tuple[str, str]:
    """The cleaned title and body of a template, or an InputError naming the field: the title
    one line of 1 to :data:`TITLE_MAX` characters, the body 1 to :data:`BODY_MAX` characters of
    text (line breaks allowed, no other control characters)."""
    clean_title = _one_line(title, "title", TITLE_MAX)
    clean_body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not clean_body:
        raise InputError.one("body", body[:40] if body else body, "is required: the form's text")
    if len(clean_body) > BODY_MAX:
        raise InputError.one(
            "body", f"{len(clean_body)} characters", f"must be at most {BODY_MAX} characters"
        )
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in clean_body):
        raise InputError.one("body", clean_body[:40], "must not contain control characters")
    return clean_title, clean_body


def clean_reason(reason: str) -> str:
    """Why a form is withdrawn: one line of 1 to :data:`REASON_MAX` characters."""
    return _one_line(reason, "reason", REASON_MAX)


def clean_device(device: str) -> str:
    """The signing device as recorded (a browser's user agent): control characters dropped,
    cut to :data:`DEVICE_MAX` characters; ``unknown device`` when none was given."""
    clean = "".join(ch for ch in (device or "") if ord(ch) >= 32).strip()
    return clean[:DEVICE_MAX] or "unknown device"


@dataclass(frozen=True)
class ConsentTemplate:
    """One version of the text of one kind of form (versions are never changed)."""

    id: int
    kind: ConsentKind
    version: int
    title: str
    body: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class SignedConsent:
    """One signed form (without its PDF bytes): what she signed, when, on which device, the
    PDF's SHA-256, and its withdrawal if any. ``standing`` is set by the list it comes in."""

    id: int
    patient_id: int
    kind: ConsentKind
    template_id: int
    template_version: int
    uses: frozenset[PhotoUse]
    signer_name: str
    signed_at: datetime
    device: str
    sha256: str
    recorded_by: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_reason: str = ""
    standing: ConsentStanding = ConsentStanding.CURRENT

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


def standings(forms: Iterable[SignedConsent]) -> list[SignedConsent]:
    """``forms`` (of one patient) with their standing, newest first: per kind the newest form
    is current unless withdrawn, every older one superseded (or withdrawn if it was)."""
    ordered = sorted(forms, key=lambda f: (f.signed_at, f.id), reverse=True)
    seen: set[ConsentKind] = set()
    out: list[SignedConsent] = []
    for form in ordered:
        if form.withdrawn:
            standing = ConsentStanding.WITHDRAWN
        elif form.kind in seen:
            standing = ConsentStanding.SUPERSEDED
        else:
            standing = ConsentStanding.CURRENT
        seen.add(form.kind)
        out.append(replace(form, standing=standing))
    return out


__all__ = [
    "BODY_MAX",
    "DEVICE_MAX",
    "REASON_MAX",
    "SIGNER_MAX",
    "TITLE_MAX",
    "ConsentKind",
    "ConsentStanding",
    "ConsentTemplate",
    "PhotoUse",
    "SignedConsent",
    "check_template_text",
    "clean_device",
    "clean_reason",
    "parse_kind",
    "parse_uses",
]

"""The consent texts needleplan ships: version 1 of each kind's template.

A clinic's records start with these (written as version 1 the first time a template of the kind
is read); admins edit them in the app, each save a new version. Plain wording on purpose: the
patient reads it on a tablet before she signs.
"""

from __future__ import annotations

from needleplan.domain.consent_forms import ConsentKind

TREATMENT_TITLE = "Consent to microneedling treatment"
TREATMENT_BODY = """\
I am asking the clinic to treat my skin with microneedling (collagen induction therapy).

What happens: a device with fine needles makes many tiny punctures in the skin of the treated \
areas. The skin repairs these small wounds and, over the following weeks and months, builds new \
collagen and elastin. A course is usually several sessions a few weeks apart, and the effect \
fades over the years unless maintenance sessions follow.

What I can expect afterwards: redness, warmth, tightness and mild swelling for one to three days \
are usual; pinpoint bleeding during the session, dryness, flaking and slight bruising can occur.

Less common risks: infection, a flare of cold sores, acne or rosacea, dark or light patches of \
skin (more likely on darker skin and after sun exposure), an allergic reaction to a product \
applied to the skin, and, rarely, scarring.

What it cannot promise: results differ between people. The clinic's forecast of how much my skin \
tightens and for how long is an estimate for planning, not a guarantee.

I have told the practitioner about my health, my medicines (including isotretinoin and blood \
thinners), pregnancy or breastfeeding, a tendency to keloid scars, skin infections, recent \
radiation and diabetes, and I will tell the clinic if any of this changes before a session. I \
will follow the aftercare advice I am given, including protecting the skin from the sun.

I have had the chance to ask questions and have had them answered. I may withdraw this consent \
at any time by telling the clinic; treatment already given is not affected."""

PHOTO_TITLE = "Consent to clinical photographs"
PHOTO_BODY = """\
The clinic photographs the treated areas before and after treatment to see how my skin responds \
and to plan my care.

Record: photographs are kept in my clinical record, stored securely, and seen only by the staff \
treating me. This use is part of every photo consent.

Teaching (only if I ticked it): photographs may be shown to clinicians in training. My name is \
never shown, and the clinic crops or covers features that would identify me where it can. Even \
so, someone who knows me well might recognise me.

Marketing (only if I ticked it): photographs may appear in the clinic's own publicity, such as \
its website, leaflets or social media. Once published, a picture may be copied by others, and \
the clinic cannot recall every copy.

I may withdraw this consent, or any of these uses, at any time by telling the clinic. The clinic \
will then stop new uses; photographs already in my clinical record stay there as part of it."""

#: kind -> (title, body) of the shipped version 1.
SHIPPED: dict[ConsentKind, tuple[str, str]] = {
    ConsentKind.TREATMENT: (TREATMENT_TITLE, TREATMENT_BODY),
    ConsentKind.PHOTO: (PHOTO_TITLE, PHOTO_BODY),
}

#: Who a shipped template is recorded as created by.
SHIPPED_BY = "needleplan"

__all__ = [
    "PHOTO_BODY",
    "PHOTO_TITLE",
    "SHIPPED",
    "SHIPPED_BY",
    "TREATMENT_BODY",
    "TREATMENT_TITLE",
]

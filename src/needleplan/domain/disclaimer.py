"""The sentence every interface shows beside a plan or a forecast."""

from __future__ import annotations

from needleplan.domain.language import N_

DISCLAIMER = N_(
    "needleplan is decision support for trained practitioners, not a diagnosis. "
    "Estimates come from a population model calibrated to published clinic guidance; "
    "a qualified practitioner must assess every patient."
)

"""Plain words for what a forecast's band is and where the model is weakly informed.

One source for the CLI, the handout and the web pages, so they say the same thing (issue 15).
"""

from __future__ import annotations

#: What the p10-p90 band is, and what it leaves out.
BAND_MEANING = (
    "The range is how differently patients with the same answers respond in the model (8 in 10 "
    "of them fall inside it). It does not include how unsure the model itself is, so the true "
    "spread is wider."
)

#: Where the forecast stands on weak evidence.
EVIDENCE_LIMIT = (
    "How the result fades over the years rests on weak evidence: no trial has followed patients "
    "for more than about 6 months after a course, so the long-term fade comes from review "
    "articles, not measurements."
)

#: What "months noticeable" counts (docs/model.md, "Headline metrics").
HEADLINE_MEANING = (
    "Months noticeable count every stretch of noticeable firming after the last session of the "
    "series up to the end of the chart; with regular top-ups it is the least over top-ups at "
    "any interval up to the one chosen, so coming back less often never shows more months."
)


def band_phrase(p10: float, p90: float, *, p90_censored: bool = False) -> str:
    """``"model spread between patients: 20-45 months"``, honest about what the band is."""
    hi = f"{'at least ' if p90_censored else ''}{p90:.0f}"
    return f"spread between patients in the model: {p10:.0f}-{hi} months"

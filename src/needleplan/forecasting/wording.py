"""Plain words for what a forecast's band is and where the model is weakly informed.

One source for the CLI, the handout and the web pages, so they say the same thing (issue 15).
"""

from __future__ import annotations

#: What the p10-p90 band is made of (both parts, in plain words).
BAND_MEANING = (
    "The range combines two things: how differently patients with the same answers respond, and "
    "how unsure the model's own numbers are, because only a few small studies measured the "
    "result. 8 in 10 of the model's outcomes fall inside it; it cannot know everything that "
    "makes one patient different."
)

#: The two parts of the band, short (tables, captions).
BAND_PARTS = "patients differ, and the model's own numbers are uncertain"

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


#: Factors whose effect in the model rests on especially weak evidence, in plain words
#: (keys of ``ForecastResult.factors``; docs/model.md, "Covariates").
WEAK_FACTOR_NOTES: dict[str, str] = {
    "menopause=recent": (
        "How menopause speeds the loss of firmness rests on weak evidence (a lay summary of "
        "studies), so her forecast after menopause is less certain than the range shows."
    ),
    "menopause=past": (
        "How menopause speeds the loss of firmness rests on weak evidence (a lay summary of "
        "studies), so her forecast after menopause is less certain than the range shows."
    ),
    "conditions=diabetes": (
        "How diabetes changes the result is uncertain: one small study found wounds healed as "
        "fast as in people without diabetes, so the model assumes only a modest effect."
    ),
}


def factor_notes(factors: tuple[str, ...] | list[str]) -> list[str]:
    """The weak-evidence notes for the factors present, each once, in a stable order."""
    seen: list[str] = []
    for key in factors:
        note = WEAK_FACTOR_NOTES.get(key)
        if note is not None and note not in seen:
            seen.append(note)
    return seen


def band_phrase(
    p10: float, p90: float, *, p90_censored: bool = False, parameters: bool = True
) -> str:
    """``"range in the model, as patients differ and ...: 20-45 months"``, naming what the band
    holds: the spread between patients and, with ``parameters``, the model's own uncertainty."""
    hi = f"{'at least ' if p90_censored else ''}{p90:.0f}"
    what = (
        "as patients differ and the model's own numbers are uncertain"
        if parameters
        else "the spread between patients only"
    )
    return f"range in the model, {what}: {p10:.0f}-{hi} months"

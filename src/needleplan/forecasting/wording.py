"""Plain words for what a forecast's band is and where the model is weakly informed.

One source for the CLI, the handout and the web pages, so they say the same thing (issue 15).
"""

from __future__ import annotations

from collections.abc import Callable

from needleplan.domain.language import N_

#: What the p10-p90 band is made of (both parts, in plain words).
BAND_MEANING = N_(
    "The range combines two things. First, patients with the same answers respond differently. "
    "Second, the model's own numbers are uncertain, including how much each answer (such as "
    "smoking or diabetes) changes the result, because only a few small studies measured it. 8 "
    "in 10 of the model's outcomes fall inside it; it cannot know everything that makes one "
    "patient different."
)

#: The two parts of the band, short (tables, captions).
BAND_PARTS = (
    "patients differ, and the model's own numbers (including each answer's effect) are uncertain"
)

#: Where the forecast stands on weak evidence.
EVIDENCE_LIMIT = N_(
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
    "menopause=recent": N_(
        "How menopause speeds the loss of firmness rests on weak evidence (a lay summary of "
        "studies), so a forecast after menopause is less certain than the range shows."
    ),
    "menopause=past": N_(
        "How menopause speeds the loss of firmness rests on weak evidence (a lay summary of "
        "studies), so a forecast after menopause is less certain than the range shows."
    ),
    "conditions=diabetes": N_(
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


#: Which calibration a patient's forecast used, in her words (the handout).
CALIBRATION_SHIPPED = N_(
    "The forecast uses the model as shipped with needleplan (published studies and guidance)."
)
CALIBRATION_CLINIC = N_("The forecast uses this clinic's own calibration (%(label)s).")


def _same(text: str) -> str:
    return text


def band_phrase(
    p10: float,
    p90: float,
    *,
    p90_censored: bool = False,
    parameters: bool = True,
    gettext: Callable[[str], str] = _same,
) -> str:
    """``"range in the model, as patients differ and ...: 20-45 months"``, naming what the band
    holds: the spread between patients and, with ``parameters``, the model's own uncertainty.
    ``gettext`` translates it (a whole sentence per case; the handout passes the reader's)."""
    values = {"low": f"{p10:.0f}", "high": f"{p90:.0f}"}
    if parameters and p90_censored:
        text = N_(
            "range in the model, as patients differ and the model's own numbers are uncertain: "
            "%(low)s-at least %(high)s months"
        )
    elif parameters:
        text = N_(
            "range in the model, as patients differ and the model's own numbers are uncertain: "
            "%(low)s-%(high)s months"
        )
    elif p90_censored:
        text = N_(
            "range in the model, the spread between patients only: %(low)s-at least %(high)s months"
        )
    else:
        text = N_("range in the model, the spread between patients only: %(low)s-%(high)s months")
    return gettext(text) % values


#: A clinic's own noticeable threshold, named where its months are shown (a whole sentence).
THRESHOLD_NOTE = N_(
    "Months noticeable count from this clinic's threshold of %(value)s %% improvement (the "
    "model's own value, derived from the rating scales, is %(derived)s %%)."
)


def threshold_note(
    base_threshold: float | None, *, gettext: Callable[[str], str] = _same
) -> str | None:
    """The sentence naming a clinic's own noticeable threshold, or ``None`` when the forecast
    used the model's derived value (``ForecastResult.base_threshold``)."""
    from needleplan.forecasting.params import default_params

    derived = default_params().noticeable_threshold
    if base_threshold is None or abs(base_threshold - derived) < 1e-9:
        return None
    return gettext(THRESHOLD_NOTE) % {"value": f"{base_threshold:g}", "derived": f"{derived:g}"}

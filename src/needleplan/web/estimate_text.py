"""The public estimator's words: its answer labels, and the texts its script shows.

Every text here is English and marked with ``N_`` for extraction; the page translates the labels
in its template and hands :func:`script_strings` (already translated) to ``estimate.js`` as JSON,
so the script builds no sentence of its own. Placeholders in script texts are ``{name}``.
"""

from __future__ import annotations

from needleplan import i18n
from needleplan.domain import (
    Aftercare,
    Area,
    Contraindication,
    Goal,
    Severity,
    Smoking,
    SunExposure,
)
from needleplan.domain.language import N_
from needleplan.forecasting.wording import WEAK_FACTOR_NOTES

# Plain-word labels for the forms; the values are the assessment's JSON values.
ESTIMATE_AREAS: list[tuple[str, str]] = [
    (Area.FULL_FACE.value, N_("Whole face")),
    (Area.UNDER_EYES.value, N_("Under the eyes")),
    (Area.FOREHEAD.value, N_("Forehead")),
    (Area.CHEEKS.value, N_("Cheeks")),
    (Area.PERIORAL.value, N_("Around the mouth")),
    (Area.NECK.value, N_("Neck")),
    (Area.CHEST.value, N_("Chest / décolletage")),
    (Area.HANDS.value, N_("Backs of the hands")),
    (Area.ARMS.value, N_("Upper arms")),
    (Area.ABDOMEN.value, N_("Tummy")),
    (Area.THIGHS.value, N_("Thighs")),
    (Area.KNEES.value, N_("Knees")),
    (Area.BACK.value, N_("Back")),
]
ESTIMATE_SEVERITY: list[tuple[str, str]] = [
    (Severity.MILD.value, N_("Slightly crepey, or I want to prevent ageing")),
    (Severity.MODERATE.value, N_("Some loss of firmness and fine lines")),
    (Severity.ADVANCED.value, N_("Clear sagging (jowls) and deeper wrinkles")),
    (Severity.SEVERE.value, N_("Very loose skin that has lost its bounce")),
]
ESTIMATE_GOAL: list[tuple[str, str]] = [
    (Goal.PREVENTIVE.value, N_("Keep my skin as it is for longer")),
    (Goal.SUBTLE.value, N_("A small, subtle improvement")),
    (Goal.NOTICEABLE.value, N_("Tighter skin that people notice")),
    (Goal.MAXIMAL.value, N_("As much lift and smoothing as possible")),
]
ESTIMATE_SMOKING: list[tuple[str, str]] = [
    (Smoking.NEVER.value, N_("I have never smoked")),
    (Smoking.FORMER.value, N_("I used to smoke")),
    (Smoking.CURRENT.value, N_("I smoke now")),
]
ESTIMATE_SUN: list[tuple[str, str]] = [
    (SunExposure.LOW.value, N_("Mostly indoors")),
    (SunExposure.MODERATE.value, N_("Some time outdoors")),
    (SunExposure.HIGH.value, N_("Outdoors a lot (work, sport, sunny holidays)")),
]
ESTIMATE_AFTERCARE: list[tuple[str, str]] = [
    (Aftercare.GOOD.value, N_("Yes, I will follow the aftercare closely")),
    (Aftercare.FAIR.value, N_("Mostly")),
    (Aftercare.POOR.value, N_("Probably not")),
]
ESTIMATE_STOPPERS: list[tuple[str, str]] = [
    (Contraindication.PREGNANCY.value, N_("I am pregnant")),
    (Contraindication.ACTIVE_INFECTION.value, N_("I have a skin infection where I want treatment")),
    (Contraindication.ACTIVE_ACNE.value, N_("I have active, inflamed acne there")),
    (Contraindication.ISOTRETINOIN_RECENT.value, N_("I took isotretinoin in the last 6 months")),
    (Contraindication.RECENT_RADIATION.value, N_("I had radiotherapy there recently")),
    (Contraindication.ANTICOAGULANTS.value, N_("I take blood thinners")),
    (Contraindication.KELOID_TENDENCY.value, N_("My scars tend to grow thick (keloids)")),
]


#: The texts estimate.js (and the chart helper in np.js) shows, by key.
SCRIPT_TEXTS: dict[str, str] = {
    "sessions_one": N_("{n} session"),
    "sessions_other": N_("{n} sessions"),
    "spacing": N_("every {min}–{max} weeks"),
    "upkeep": N_("one session every {min}–{max} months"),
    "series_label": N_("After the sessions, no top-ups"),
    "maintenance_label": N_("With a top-up every {n} months"),
    "reading": N_(
        "Without top-ups, most people like you notice the tightening for about {median} after "
        "the last session (in the model 8 in 10 outcomes are between {low} and {high}: people "
        "with the same answers differ, and the model's own numbers are uncertain). Regular "
        "top-ups keep it going much longer. How the result fades over the years rests on weak "
        "evidence: no trial has followed patients for more than about 6 months after a course."
    ),
    "months_one": N_("{n} month"),
    "months_other": N_("{n} months"),
    "years": N_("{n} years"),
    "at_least": N_("at least {x}"),
    "axis_years": N_("years from the first session"),
    "axis_gain": N_("firmness gain (%) vs. before treatment"),
    "untreated": N_("without treatment (ageing)"),
    "noticeable": N_("noticeable"),
    "no_forecast": N_("No forecast"),
    "error_age": N_("Please enter your age in whole years, from 18 to 90."),
    "error_areas": N_("Please tick at least one area."),
    "error_answers": N_("Please check your answers."),
    "error_forecast": N_("The forecast is not available just now. Please try again later."),
    "error_network": N_("Could not reach the clinic's server. Please try again."),
    # Why treatment must wait, in plain words, by contraindication (blocked plans, warnings).
    "reason.pregnancy": N_(
        "Microneedling is not started during pregnancy; it can wait until after."
    ),
    "reason.active_infection": N_(
        "A skin infection in the area must be treated, and the skin healed, before needling."
    ),
    "reason.active_acne": N_(
        "Inflamed acne in the area must be treated first: needling could spread it."
    ),
    "reason.isotretinoin_recent": N_(
        "After isotretinoin, the skin needs 6 months from the last dose before needling "
        "(healing and scarring risk)."
    ),
    "reason.recent_radiation": N_(
        "Skin treated with radiotherapy heals poorly; treatment waits, and your oncologist is "
        "asked first."
    ),
    "reason.anticoagulants": N_(
        "Blood thinners mean more bleeding and bruising; the practitioner needles gently and "
        "checks with your doctor."
    ),
    "reason.keloid_tendency": N_(
        "Scars that grow thick: the practitioner tests a small area first and needles gently."
    ),
}
#: The weak-evidence note of each factor (``weak:<factor>``; the estimator shows those of the
#: factors her forecast carries: the same words as the CLI and the handout).
SCRIPT_TEXTS.update({f"weak:{key}": note for key, note in WEAK_FACTOR_NOTES.items()})


def script_strings(language: str) -> dict[str, str]:
    """:data:`SCRIPT_TEXTS` in ``language``, plus its code (``lang``) for number formatting."""
    texts = {key: i18n.gettext(language, text) for key, text in SCRIPT_TEXTS.items()}
    texts["lang"] = language
    return texts


__all__ = [
    "ESTIMATE_AFTERCARE",
    "ESTIMATE_AREAS",
    "ESTIMATE_GOAL",
    "ESTIMATE_SEVERITY",
    "ESTIMATE_SMOKING",
    "ESTIMATE_STOPPERS",
    "ESTIMATE_SUN",
    "SCRIPT_TEXTS",
    "script_strings",
]

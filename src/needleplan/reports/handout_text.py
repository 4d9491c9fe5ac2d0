"""The handout's content and its words, in her language (docs/languages.md).

:class:`Handout` holds what the handout shows; :func:`handout_sections` writes it as titled
plain-text sections in ``handout.language``: every sentence is a whole gettext message with
named placeholders (never pieced together across languages), dates and numbers formatted by
Babel. The guideline's own texts (its reasons and milestones) are the clinic's data: the bundled
guideline's are in the catalogue (``needleplan.guideline.texts``), a clinic's own wording prints
as its guideline file words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import NDArray

from needleplan import DISCLAIMER
from needleplan.domain.language import N_
from needleplan.domain.photos import PhotoPair
from needleplan.domain.protocol import Protocol
from needleplan.forecasting.chain import ForecastResult
from needleplan.forecasting.result import DEFAULT_CALIBRATION
from needleplan.forecasting.wording import (
    BAND_MEANING,
    CALIBRATION_CLINIC,
    CALIBRATION_SHIPPED,
    EVIDENCE_LIMIT,
    band_phrase,
    factor_notes,
    threshold_note,
)
from needleplan.guideline.texts import patient_reason
from needleplan.i18n import Translator

AFTERCARE = (
    N_(
        "Your skin may look pink, feel warm or tight for one to three days, like a mild sunburn. "
        "This is the normal start of the repair that firms the skin."
    ),
    N_(
        "For the first 24 hours, leave the treated skin bare: no make-up, no perfumed products "
        "and no exfoliating acids or retinoids. Your practitioner may give you a plain "
        "moisturiser."
    ),
    N_(
        "Wash gently with lukewarm water and a mild cleanser, and pat dry with a clean towel. "
        "Do not rub, scrub or pick at flaking skin."
    ),
    N_(
        "Stay out of strong sun for the first days and use a broad-spectrum sunscreen (SPF 30 or "
        "more) every day. Sun protection also helps the results last longer."
    ),
    N_("For two days, skip saunas, swimming pools and hard exercise that makes you sweat a lot."),
    N_("Wait about a week before restarting retinoids, acids or other strong skincare."),
    N_(
        "Call the clinic if redness or swelling gets worse after the third day, if you see pus, "
        "or if you have a fever."
    ),
)

#: Section titles (the PDF puts the chart after :data:`RESULTS_TITLE`).
PLAN_TITLE = N_("Your treatment plan")
RESULTS_TITLE = N_("How long results last")

#: Treated areas as the handout names them.
AREA_WORDS: dict[str, str] = {
    "under_eyes": N_("under the eyes"),
    "forehead": N_("forehead"),
    "cheeks": N_("cheeks"),
    "perioral": N_("around the mouth"),
    "full_face": N_("full face"),
    "neck": N_("neck"),
    "chest": N_("chest"),
    "hands": N_("hands"),
    "arms": N_("arms"),
    "abdomen": N_("abdomen"),
    "thighs": N_("thighs"),
    "knees": N_("knees"),
    "back": N_("back"),
}
#: Visit kinds other than a course session.
KIND_WORDS: dict[str, str] = {
    "consultation": N_("consultation"),
    "maintenance": N_("maintenance session"),
    "review": N_("review"),
    "session": N_("session"),
}


@dataclass(frozen=True)
class Visit:
    """One booked visit, in the clinic's time zone."""

    start: datetime
    end: datetime
    practitioner: str
    session_number: int | None
    kind: str


@dataclass(frozen=True)
class Handout:
    """Everything the handout shows."""

    clinic_name: str
    patient_name: str | None
    timezone: str
    protocol: Protocol
    scenarios: tuple[tuple[str, ForecastResult], ...]
    visits: tuple[Visit, ...] = ()
    sessions_done: int = 0
    issued: date | None = None
    #: Her skin without treatment on the forecast's days [% of pre-treatment]; the chart draws
    #: it when a curve goes below zero (:func:`needleplan.forecasting.standard.untreated_ageing`).
    untreated: NDArray[np.float64] | None = None
    #: Sessions of her open course still owed (missed or cancelled and not booked again).
    owed: int = 0
    #: The day her last course was completed, when she has no open course.
    completed_on: date | None = None
    #: When her next maintenance visit is due (her open recall entry).
    next_maintenance: date | None = None
    #: The language it is written in (a shipped language code).
    language: str = "en"
    #: Her before and after thumbnails per view (only with her photo consent in force;
    #: :func:`needleplan.services.handout_photos.handout_photo_pairs`).
    photos: tuple[PhotoPair, ...] = ()


def scenario_labels(sessions: int, months: int, language: str = "en") -> tuple[str, str]:
    """The two forecast scenarios' names: the series alone, and with maintenance."""
    t = Translator(language)
    return (
        t.ngettext("%(n)d session, no maintenance", "%(n)d sessions, no maintenance", sessions)
        % {"n": sessions},
        t.ngettext(
            "%(n)d session + maintenance every %(months)d months",
            "%(n)d sessions + maintenance every %(months)d months",
            sessions,
        )
        % {"n": sessions, "months": months},
    )


# --------------------------------------------------------------------------- plain words


def _words(value: str) -> str:
    return value.replace("_", " ")


def plain_reasons(protocol: Protocol, language: str = "en") -> list[str]:
    """The protocol's rationale as sentences a patient understands (no scores, no citations)."""
    t = Translator(language)
    out: list[str] = []
    for item in protocol.rationale:
        factor, effect = item.factor, item.effect
        if factor.startswith("severity:"):
            level = factor.split(":", 1)[1].split("(")[0].strip()
            out.append(
                t.gettext(
                    "Your skin's looseness is %(level)s; this sets the starting number of sessions."
                )
                % {"level": t.gettext(_words(level))}
            )
        elif factor.startswith("areas:"):
            areas = ", ".join(
                t.gettext(AREA_WORDS.get(a.strip(), _words(a.strip())))
                for a in factor.split(":", 1)[1].split(",")
            )
            out.append(
                t.gettext("Areas to treat: %(areas)s. Larger or more areas need more sessions.")
                % {"areas": areas}
            )
        elif factor.startswith("goal:"):
            goal = _words(factor.split(":", 1)[1].strip())
            out.append(
                t.gettext("Your goal (%(goal)s) changes how many sessions make sense.")
                % {"goal": t.gettext(goal)}
            )
        elif factor == "difficult case":
            out.append(
                t.gettext(
                    "Several things slow your skin's response, so the plan has more sessions, "
                    "closer together."
                )
            )
        elif factor == "maintenance":
            if "shorter window" in effect:
                out.append(
                    t.gettext(
                        "Some of your factors make results fade sooner, so maintenance comes "
                        "earlier than usual."
                    )
                )
        elif factor == "tier bounds":
            continue
        else:
            reason = effect.split(": ", 1)[1] if ": " in effect else effect
            out.append(t.gettext(patient_reason(reason)))
    return out


# Severity and goal values as the sentences above name them (extracted for translation).
_LEVEL_WORDS = (N_("mild"), N_("moderate"), N_("advanced"), N_("severe"))
_GOAL_WORDS = (N_("preventive"), N_("subtle"), N_("noticeable"), N_("maximal"))


def _lasts(label: str, result: ForecastResult, t: Translator) -> str:
    m = result.milestones
    band = m.noticeable_months_after_last_initial
    if m.peak_improvement < result.noticeable_threshold:
        return t.gettext(
            "%(label)s: a typical patient like you would not see a noticeable firming."
        ) % {"label": label}
    if m.noticeable_censored:
        return t.gettext(
            "%(label)s: a typical patient like you still sees a noticeable difference at the end "
            "of the chart (%(years)s years)."
        ) % {"label": label, "years": t.number(result.years, 0)}
    return t.gettext(
        "%(label)s: a typical patient like you sees a noticeable difference for about "
        "%(months)s months after the last session of the series (%(band)s)."
    ) % {
        "label": label,
        "months": t.number(band.median, 0),
        "band": band_phrase(
            band.p10,
            band.p90,
            p90_censored=band.p90_censored,
            parameters=result.parameter_uncertainty,
            gettext=t.gettext,
        ),
    }


@dataclass(frozen=True)
class Section:
    """One titled block: an optional lead paragraph, then paragraphs or bullet points."""

    title: str
    paragraphs: tuple[str, ...]
    bullets: bool = False
    lead: str = ""

    @property
    def text(self) -> str:
        return "\n".join([self.title, *([self.lead] if self.lead else []), *self.paragraphs])


def _plan(handout: Handout, t: Translator) -> list[str]:
    p = handout.protocol
    areas = ", ".join(t.gettext(AREA_WORDS.get(a.value, _words(a.value))) for a in p.areas)
    m = p.maintenance_interval_months
    if handout.completed_on is not None:
        done = handout.sessions_done
        plan = [
            t.ngettext(
                "You completed your course of %(n)d microneedling session for: %(areas)s on "
                "%(day)s.",
                "You completed your course of %(n)d microneedling sessions for: %(areas)s on "
                "%(day)s.",
                done,
            )
            % {"n": done, "areas": areas, "day": t.date(handout.completed_on)},
            t.gettext(
                "One maintenance session every %(min)d to %(max)d months keeps the results for "
                "longer."
            )
            % {"min": m.min, "max": m.max},
        ]
    else:
        plan = [
            t.gettext(
                "We suggest %(n)d microneedling sessions for: %(areas)s (a range of %(min)d to "
                "%(max)d is usual for skin like yours)."
            )
            % {
                "n": p.initial_sessions,
                "areas": areas,
                "min": p.session_range.min,
                "max": p.session_range.max,
            },
            t.gettext(
                "Sessions are %(min)d to %(max)d days apart, about %(days)d days. The gap gives "
                "your skin time to build new collagen before the next session."
            )
            % {
                "min": p.interval_days.min,
                "max": p.interval_days.max,
                "days": p.recommended_interval_days,
            },
            t.gettext(
                "After the series, one maintenance session every %(min)d to %(max)d months keeps "
                "the results for longer."
            )
            % {"min": m.min, "max": m.max},
        ]
    if handout.next_maintenance is not None:
        plan.append(
            t.gettext("Your next maintenance visit is due around %(day)s.")
            % {"day": t.date(handout.next_maintenance)}
        )
    return plan


def _appointments(handout: Handout, t: Translator) -> Section:
    lines = []
    for v in handout.visits:
        when = t.datetime(v.start)
        if v.session_number is not None:
            line = t.gettext("%(when)s: session %(n)d with %(practitioner)s") % {
                "when": when,
                "n": v.session_number,
                "practitioner": v.practitioner,
            }
        else:
            line = t.gettext("%(when)s: %(kind)s with %(practitioner)s") % {
                "when": when,
                "kind": t.gettext(KIND_WORDS.get(v.kind, v.kind)),
                "practitioner": v.practitioner,
            }
        lines.append(line)
    intro = t.gettext("Times are local clinic time (%(zone)s).") % {"zone": handout.timezone}
    if handout.sessions_done:
        done = handout.sessions_done
        intro = t.ngettext(
            "You have had %(n)d session so far. %(times)s",
            "You have had %(n)d sessions so far. %(times)s",
            done,
        ) % {"n": done, "times": intro}
    if handout.owed:
        owed = handout.owed
        lines.append(
            t.ngettext(
                "%(n)d session of your course is still to be booked again (missed or cancelled): "
                "please ask the front desk.",
                "%(n)d sessions of your course are still to be booked again (missed or "
                "cancelled): please ask the front desk.",
                owed,
            )
            % {"n": owed}
        )
    if not lines:
        lines = [t.gettext("No further sessions are booked yet: please ask the front desk.")]
    return Section(t.gettext("Your appointments"), tuple(lines), bullets=True, lead=intro)


def _evidence_notes(handout: Handout, t: Translator) -> list[str]:
    """Where her forecast rests on especially weak evidence, and the calibration it used."""
    if not handout.scenarios:
        return []
    result = handout.scenarios[0][1]
    notes = [t.gettext(n) for n in factor_notes(result.factors)]
    if result.calibration == DEFAULT_CALIBRATION:
        notes.append(t.gettext(CALIBRATION_SHIPPED))
    else:
        notes.append(t.gettext(CALIBRATION_CLINIC) % {"label": result.calibration})
    threshold = threshold_note(result.base_threshold, gettext=t.gettext)  # the clinic's own
    if threshold is not None:
        notes.append(threshold)
    return notes


def handout_sections(handout: Handout) -> list[Section]:
    """The handout's text, section by section (the chart goes after "How long results last")."""
    t = Translator(handout.language)
    p = handout.protocol
    sections = [
        Section(t.gettext(PLAN_TITLE), tuple(_plan(handout, t))),
        Section(
            t.gettext("Why this plan"),
            tuple(plain_reasons(p, handout.language)),
            bullets=True,
        ),
    ]
    if handout.completed_on is None and (handout.visits or handout.sessions_done or handout.owed):
        sections.append(_appointments(handout, t))
    sections.append(
        Section(
            t.gettext(RESULTS_TITLE),
            (
                t.gettext(
                    "The chart shows how much firmer your skin is expected to be, compared with "
                    "before treatment, for patients like you. Results build for a few months "
                    "after the last session, then slowly fade as the skin keeps ageing."
                ),
                *(_lasts(label, result, t) for label, result in handout.scenarios),
                f"{t.gettext(BAND_MEANING)} {t.gettext(EVIDENCE_LIMIT)}",
                *_evidence_notes(handout, t),
            ),
        )
    )
    if p.milestones:
        sections.append(
            Section(
                t.gettext("What to expect"),
                tuple(t.gettext(m) for m in p.milestones),
                bullets=True,
            )
        )
    sections.append(
        Section(
            t.gettext("Looking after your skin"),
            tuple(t.gettext(a) for a in AFTERCARE),
            bullets=True,
        )
    )
    sections.append(
        Section(
            t.gettext("Please note"),
            (
                t.gettext(
                    "These figures are estimates for patients like you, not a promise: your own "
                    "result may be better or worse. Your practitioner will review the plan at "
                    "each visit."
                ),
                t.gettext(DISCLAIMER),
            ),
        )
    )
    return sections


__all__ = [
    "AFTERCARE",
    "Handout",
    "Section",
    "Visit",
    "handout_sections",
    "plain_reasons",
    "scenario_labels",
]

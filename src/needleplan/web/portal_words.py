"""Her portal pages' words: their language, dates on the clinic's clock, and refusals in her
words (docs/languages.md, the portal's routes in :mod:`needleplan.web.routes.portal`).

The page's language is ``?lang=`` when the clinic offers it (kept in the page's links, forms and
redirects), else the language on her record, else her browser's, else the clinic's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import Request

from needleplan import i18n
from needleplan.domain.language import N_, SOURCE_LANGUAGE
from needleplan.exceptions import (
    ConflictError,
    InputError,
    NeedleplanError,
    NotFoundError,
    SchedulingError,
)
from needleplan.forecasting.wording import threshold_note
from needleplan.scheduling import ClinicConfig
from needleplan.services import portal
from needleplan.services.learned_forecast import LearnedForecast
from needleplan.storage import Database
from needleplan.web.i18n import offered_languages, public_context


@dataclass(frozen=True)
class PortalTimes:
    """Dates and times for the pages, on the clinic's wall clock, in the page's language."""

    clinic: ClinicConfig
    lang: str = SOURCE_LANGUAGE

    def __call__(self, value: datetime) -> str:
        return i18n.format_datetime(value.astimezone(self.clinic.tz), self.lang)

    def day(self, value: datetime) -> str:
        return i18n.format_date(value.astimezone(self.clinic.tz).date(), self.lang, "short_day")

    def hour(self, value: datetime) -> str:
        return i18n.format_datetime(value.astimezone(self.clinic.tz), self.lang, "time")

    def long_date(self, value: date) -> str:
        return i18n.format_date(value, self.lang)

    def day_month(self, value: date) -> str:
        return i18n.format_date(value, self.lang, "day_month")


def portal_language(request: Request, db: Database, patient_id: int) -> dict[str, Any]:
    """Her page's language and what its links need to keep it (see the module docstring)."""
    from needleplan.services.patients import patient_language
    from needleplan.web.i18n import page_clinic

    cached: dict[str, Any] | None = getattr(request.state, "portal_lang", None)
    if cached is not None:
        return cached
    offered, default = offered_languages(page_clinic(request))
    own = patient_language(db, patient_id)
    requested = request.query_params.get("lang")
    lang = i18n.negotiate(
        requested=requested[:16] if requested else None,
        accept_language=None
        if own in offered
        else request.headers.get("accept-language", "")[:1000],
        offered=offered,
        default=own if own in offered else default,
    )
    keep = bool(requested) and requested == lang
    found = {
        **public_context(request),
        "lang": lang,
        "lang_query": f"?lang={lang}" if keep else "",
        "lang_param": f"&lang={lang}" if keep else "",
    }
    request.state.portal_lang = found
    return found


def keep_language(request: Request) -> str:
    """``&lang=..`` when the page's language came from ``?lang=`` (so a redirect keeps it)."""
    found: str = getattr(request.state, "portal_lang", {}).get("lang_param", "")
    return found


def say(request: Request, message: str, **values: Any) -> str:
    """``message`` in the page's language (once :func:`portal_language` has run)."""
    lang = getattr(request.state, "portal_lang", {}).get("lang", SOURCE_LANGUAGE)
    text = i18n.gettext(lang, message)
    return text % values if values else text


def problem_words(request: Request, exc: NeedleplanError) -> str:
    """What went wrong, in her words and her language.

    The services word their refusals in English; a refusal whose exact words the catalogue
    translates is shown translated, any other one as a plain sentence of its kind."""
    lang = getattr(request.state, "portal_lang", {}).get("lang", SOURCE_LANGUAGE)
    if isinstance(exc, portal.CallTheClinicError):
        if exc.phone:
            return say(
                request,
                N_(
                    "This visit is less than %(hours)s hours away, so it can no longer be changed "
                    "online: please call the clinic on %(phone)s."
                ),
                hours=exc.hours,
                phone=exc.phone,
            )
        return say(
            request,
            N_(
                "This visit is less than %(hours)s hours away, so it can no longer be changed "
                "online: please call the clinic."
            ),
            hours=exc.hours,
        )
    if isinstance(exc, ConflictError | SchedulingError):
        return say(
            request,
            N_(
                "That time is no longer free, or the rest of your course cannot be fitted around "
                "it. Please pick another time."
            ),
        )
    if isinstance(exc, NotFoundError):
        return say(request, N_("This visit is not one of yours, or it no longer exists."))
    english = "; ".join(p.rule for p in exc.problems) if isinstance(exc, InputError) else str(exc)
    translated = i18n.gettext(lang, english)
    if translated != english or lang == SOURCE_LANGUAGE:
        return translated
    if isinstance(exc, InputError):
        return say(request, N_("Please pick one of the times shown."))
    return say(request, N_("This cannot be changed online any more. Please call the clinic."))


__all__ = ["PortalTimes", "keep_language", "portal_language", "problem_words", "say"]


def threshold_words(request: Request, found: LearnedForecast | None) -> str | None:
    """The clinic's own noticeable threshold named in her language, or ``None`` when her
    forecast counts from the model's derived value (or there is none)."""
    if found is None:
        return None
    base = found.outcome.update.personal.base_threshold
    return threshold_note(base, gettext=lambda text: say(request, text))

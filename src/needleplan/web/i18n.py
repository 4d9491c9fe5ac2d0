"""The language of a page, and gettext in the page templates (docs/languages.md).

Public pages (the estimator, the contact result, the unsubscribe page) speak her language:
``?lang=de`` when the clinic offers it (then kept in the page's links and forms), else the first
of her browser's ``Accept-Language`` languages the clinic offers, else the clinic's
``default_language``. Staff pages are in English (their texts are marked for translation; a
German catalogue for them is not shipped yet), so :data:`STAFF_LANGUAGES` holds English only.

Templates use Jinja's i18n extension (``{% trans %}``, ``_()``); the page's language is the
``lang`` value of the template context, so one environment serves every request.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from fastapi import Request
from jinja2 import Environment, pass_context

from needleplan import i18n
from needleplan.domain.language import LANGUAGE_NAMES, SHIPPED_LANGUAGES, SOURCE_LANGUAGE
from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig
from needleplan.services.clinic_identity import clinic_identity as identity_of
from needleplan.web.deps import get_clinic

#: The languages staff pages are shipped in.
STAFF_LANGUAGES: tuple[str, ...] = (SOURCE_LANGUAGE,)


def page_clinic(request: Request) -> ClinicConfig | None:
    """The clinic in force for this request (None when its saved version no longer validates)."""
    if not hasattr(request.state, "page_clinic"):
        try:
            request.state.page_clinic = get_clinic(request)
        except InputError:
            request.state.page_clinic = None
    clinic: ClinicConfig | None = request.state.page_clinic
    return clinic


def offered_languages(clinic: ClinicConfig | None) -> tuple[list[str], str]:
    """``(languages the clinic offers, its default)``."""
    if clinic is None:
        return list(SHIPPED_LANGUAGES), SOURCE_LANGUAGE
    return list(clinic.languages), clinic.default_language


def public_language(request: Request) -> str:
    """The language of a public page for this request (see the module docstring)."""
    offered, default = offered_languages(page_clinic(request))
    requested = request.query_params.get("lang")
    return i18n.negotiate(
        requested=requested[:16] if requested else None,
        accept_language=request.headers.get("accept-language", "")[:1000],
        offered=offered,
        default=default,
    )


def public_context(request: Request) -> dict[str, Any]:
    """What a public page's template needs to speak her language and keep it in its links."""
    lang = public_language(request)
    offered, _default = offered_languages(page_clinic(request))
    requested = request.query_params.get("lang")
    keep = bool(requested) and requested == lang
    return {
        "lang": lang,
        # appended to the page's own links and form actions when the language came from ?lang=
        "lang_query": f"?lang={lang}" if keep else "",
        "lang_choices": [(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
    }


def clinic_identity(clinic: ClinicConfig | None) -> dict[str, str] | None:
    """The clinic as its public page shows it: name, address, phone (readable and ``tel:``)."""
    if clinic is None:
        return None
    phone_text = clinic.phone
    if clinic.phone:
        try:
            phone_text = phonenumbers.format_number(
                phonenumbers.parse(clinic.phone, None),
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            )
        except phonenumbers.NumberParseException:  # a local number without its country code
            phone_text = clinic.phone
    return {
        "name": clinic.name,
        "address": clinic.location,
        "phone": phone_text,
        "phone_uri": f"tel:{re.sub(r'[^0-9+]', '', clinic.phone)}" if clinic.phone else "",
        "email": clinic.email,
        "website": clinic.website,
        # an uploaded logo (the settings form) wins over a path given in the clinic file
        "logo_url": identity_of(clinic).logo_url or clinic.logo_url,
    }


def _lang(context: Any) -> str:
    lang = context.get("lang") if hasattr(context, "get") else None
    return lang if isinstance(lang, str) and lang in SHIPPED_LANGUAGES else SOURCE_LANGUAGE


@pass_context
def _gettext(context: Any, message: str) -> str:
    return i18n.gettext(_lang(context), message)


@pass_context
def _ngettext(context: Any, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(_lang(context), singular, plural, n)


@pass_context
def format_number(context: Any, value: float, digits: int = 0) -> str:
    return i18n.format_number(value, _lang(context), digits)


@pass_context
def format_money(context: Any, value: float, currency: str) -> str:
    return i18n.format_money(value, currency, _lang(context))


@pass_context
def clinic_languages(context: Any) -> list[tuple[str, str]]:
    """``(code, name)`` of each language the clinic offers (e.g. for a handout in each)."""
    offered, _default = offered_languages(page_clinic(context["request"]))
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in offered]


@pass_context
def translate_data(context: Any, value: Any) -> str:
    """The ``tr`` filter: a text from the clinic's data files (guideline, questionnaire) or a
    service's fixed words, in the page's language when the catalogue holds it, else as written.
    Unlike ``_()`` it formats nothing, so a ``%`` in the text is safe."""
    text = "" if value is None else str(value)
    return i18n.gettext(_lang(context), text) if text else text


def install(env: Environment) -> None:
    """Give ``env`` gettext (newstyle: ``_("%(n)s sessions", n=4)``) and the Babel formatters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters["tr"] = translate_data
    env.globals["format_number"] = format_number
    env.globals["format_money"] = format_money
    env.globals["clinic_languages"] = clinic_languages
    env.globals.setdefault("lang", SOURCE_LANGUAGE)


__all__ = [
    "STAFF_LANGUAGES",
    "clinic_identity",
    "install",
    "offered_languages",
    "page_clinic",
    "public_context",
    "public_language",
]

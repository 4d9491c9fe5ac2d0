"""Patient-facing text in her language: gettext catalogues (Babel), locale choice, formatting.

Every text a patient reads (the public estimator, the contact and unsubscribe pages, the messages
she receives, the handout) is written in English and marked for translation; each other shipped
language (:data:`needleplan.domain.language.SHIPPED_LANGUAGES`) has a catalogue::

    src/needleplan/locale/messages.pot                    the template (``make messages``)
    src/needleplan/locale/<lang>/LC_MESSAGES/messages.po  the translation (committed)
    src/needleplan/locale/<lang>/LC_MESSAGES/messages.mo  compiled by ``make setup`` (optional)

A catalogue is read from its ``.mo`` when that file is at least as new as the ``.po``, else the
``.po`` is compiled in memory on first use, so a fresh clone works without a build step. Fuzzy
entries are never used.

Dates, numbers and money are formatted with Babel for the language (``format_*`` below), so a
German reader sees "Montag, 5. April 2027, 10:00" and "1.234,50 €".
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency as _babel_currency
from babel.numbers import format_decimal as _babel_decimal
from babel.support import Translations

from needleplan.domain.language import N_, SHIPPED_LANGUAGES, SOURCE_LANGUAGE

#: Where the catalogues live (package data).
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: The gettext domain of every catalogue.
DOMAIN = "messages"

#: Date patterns (CLDR syntax) per language; a language not listed uses Babel's own formats.
#: ``weekday_datetime``: a visit in a message; ``weekday_day``: a visit's day in a subject line;
#: ``date``: a due date.
_PATTERNS: dict[str, dict[str, str]] = {
    "en": {
        "weekday_datetime": "EEEE d MMMM y, HH:mm",
        "weekday_day": "EEEE d MMMM",
        "date": "d MMMM y",
        "day_month": "d MMMM",
        "short_day": "EEE d MMM",
        "time": "HH:mm",
    },
    "de": {
        "weekday_datetime": "EEEE, d. MMMM y, HH:mm 'Uhr'",
        "weekday_day": "EEEE, d. MMMM",
        "date": "d. MMMM y",
        "day_month": "d. MMMM",
        "short_day": "EEE, d. MMM",
        "time": "HH:mm",
    },
}
_FALLBACK_PATTERNS = {"weekday_datetime": "full", "weekday_day": "full", "date": "long"}


def catalogue_path(language: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The translations of ``language`` (identity for English and for a language without a
    catalogue)."""
    if language == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    po, mo = catalogue_path(language), catalogue_path(language, ".mo")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return Translations(fp=fp, domain=DOMAIN)
    if not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    """``message`` in ``language`` (the English text when it has no translation)."""
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


class Translator:
    """Texts and formats of one language, handed to code that writes for one reader."""

    def __init__(self, language: str) -> None:
        self.language = language if language in SHIPPED_LANGUAGES else SOURCE_LANGUAGE
        self._t = translations(self.language)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def date(self, value: date, pattern: str = "date") -> str:
        return format_date(value, self.language, pattern)

    def datetime(self, value: datetime, pattern: str = "weekday_datetime") -> str:
        return format_datetime(value, self.language, pattern)

    def number(self, value: float | int | Decimal, digits: int = 0) -> str:
        return format_number(value, self.language, digits)

    def money(self, value: float | int | Decimal, currency: str) -> str:
        return format_money(value, currency, self.language)


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


def _pattern(language: str, name: str) -> str:
    return _PATTERNS.get(language, {}).get(name) or _FALLBACK_PATTERNS.get(name, name)


def format_date(value: date, language: str, pattern: str = "date") -> str:
    """``value`` as a date in ``language`` (``pattern``: a name above or a CLDR pattern)."""
    return str(_babel_date(value, _pattern(language, pattern), locale=_locale(language)))


def format_datetime(value: datetime, language: str, pattern: str = "weekday_datetime") -> str:
    """``value`` (already on the clinic's wall clock) as text in ``language``; no zone shift."""
    return str(
        _babel_datetime(
            value, _pattern(language, pattern), tzinfo=value.tzinfo, locale=_locale(language)
        )
    )


def format_number(value: float | int | Decimal, language: str, digits: int = 0) -> str:
    """``value`` with ``digits`` decimals and the language's separators (``1.234,5`` in German)."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return str(_babel_decimal(value, pattern, locale=_locale(language)))


def format_money(value: float | int | Decimal, currency: str, language: str) -> str:
    """``value`` in ``currency`` (ISO 4217) as the language writes money (``1.234,50 €``)."""
    return str(_babel_currency(value, currency, locale=_locale(language)))


def parse_accept_language(header: str | None) -> list[str]:
    """The primary language codes of an ``Accept-Language`` header, most wanted first.

    ``de-CH, en;q=0.8, *;q=0.1`` -> ``["de", "en"]``; malformed parts and ``q=0`` are ignored
    (RFC 9110 section 12.5.4). At most 32 parts of a header are read.
    """
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().split("-")[0].lower()
        if not code.isascii() or not code.isalpha() or not 1 <= len(code) <= 8:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, raw = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            wanted.append((-quality, position, code))
    seen: list[str] = []
    for _q, _p, code in sorted(wanted):
        if code not in seen:
            seen.append(code)
    return seen


def negotiate(
    *,
    requested: str | None,
    accept_language: str | None,
    offered: Sequence[str],
    default: str,
) -> str:
    """The language of a page: ``requested`` (``?lang=``) when offered, else the first of her
    browser's languages that is offered, else ``default``."""
    if requested:
        code = requested.strip().lower()
        if code in offered:
            return code
    for code in parse_accept_language(accept_language):
        if code in offered:
            return code
    return default


__all__ = [
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "Translator",
    "catalogue_path",
    "format_date",
    "format_datetime",
    "format_money",
    "format_number",
    "gettext",
    "negotiate",
    "ngettext",
    "parse_accept_language",
    "translations",
]

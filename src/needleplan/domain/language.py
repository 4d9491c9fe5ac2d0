"""The languages needleplan speaks to patients: codes, and the check a setting must pass.

English is the source language of every text; each other language ships a gettext catalogue
under ``needleplan/locale/<code>/LC_MESSAGES/`` (see :mod:`needleplan.i18n` and
``docs/languages.md``). A clinic offers some of these languages and picks one as its default; a
patient may prefer one of them.
"""

from __future__ import annotations

#: Every language with a complete catalogue of patient-facing texts (English is the source).
SHIPPED_LANGUAGES: tuple[str, ...] = ("en", "de")

#: The language texts are written in; it needs no catalogue.
SOURCE_LANGUAGE = "en"

#: Each language's own name, for a language switch.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "de": "Deutsch"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction (``make messages``) without translating it here: the
    text is translated where it is shown, in the reader's language."""
    return message


def check_language(value: object) -> str:
    """``value`` as a shipped language code (lower case), else ValueError naming the choices."""
    code = str(value).strip().lower().replace("_", "-") if isinstance(value, str) else None
    if code not in SHIPPED_LANGUAGES:
        raise ValueError(
            f"{value!r} is not a language needleplan ships; choose one of "
            + ", ".join(SHIPPED_LANGUAGES)
        )
    return code


__all__ = ["LANGUAGE_NAMES", "N_", "SHIPPED_LANGUAGES", "SOURCE_LANGUAGE", "check_language"]

"""The translation catalogues: complete for every shipped language, and in step with the code.

``make messages`` extracts every marked text into ``messages.pot``; each shipped language's
``.po`` must translate every entry (nothing untranslated, nothing fuzzy) with the same
placeholders as the English text, or a patient would read English or a broken sentence.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from needleplan import i18n
from needleplan.domain.language import SHIPPED_LANGUAGES, SOURCE_LANGUAGE

ROOT = Path(__file__).resolve().parents[2]
POT = i18n.LOCALE_DIR / "messages.pot"
TRANSLATED = [lang for lang in SHIPPED_LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def _key(message: Message) -> str | tuple[str, ...]:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {_key(m) for m in catalog if m.id}


def _extracted() -> set[str | tuple[str, ...]]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fp:
        method_map, options_map = parse_mapping_cfg(fp, str(ROOT / "babel.cfg"))
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_shipped_language_but_the_source_has_a_catalogue() -> None:
    assert TRANSLATED, "German at least"
    for lang in TRANSLATED:
        assert i18n.catalogue_path(lang).is_file(), lang


def test_the_template_holds_exactly_what_the_code_marks() -> None:
    """Extraction finds nothing missing from messages.pot, and the .pot holds nothing stale
    (run ``make messages`` after changing a marked text)."""
    extracted, pot = _extracted(), _ids(_read(POT))
    assert extracted - pot == set(), "marked in the code but not in messages.pot"
    assert pot - extracted == set(), "in messages.pot but no longer in the code"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_is_complete_and_nothing_is_fuzzy(lang: str) -> None:
    catalog = _read(i18n.catalogue_path(lang), lang)
    pot = _ids(_read(POT))
    assert pot - _ids(catalog) == set(), f"{lang}: entries of messages.pot missing"
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s and s.strip() for s in strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert untranslated == []
    assert fuzzy == []
    # what `pybabel compile` (make setup) checks: placeholders of compatible types, plurals
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert problems == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_every_placeholder(lang: str) -> None:
    """A translation uses the same %(name)s / {name} placeholders as the English text."""
    wrong = []
    for message in _read(i18n.catalogue_path(lang), lang):
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((ids[0], text))
    assert wrong == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_are_read_from_the_po_without_a_build_step(
    lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone has no .mo files: the .po is compiled in memory on first use."""
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    target = tmp_path / lang / "LC_MESSAGES"
    target.mkdir(parents=True)
    source = Path(i18n.__file__).resolve().parent.parent / "locale" / lang / "LC_MESSAGES"
    (target / "messages.po").write_bytes((source / "messages.po").read_bytes())
    i18n.translations.cache_clear()
    try:
        assert not (target / "messages.mo").exists()
        assert i18n.gettext(lang, "Your estimate") != "Your estimate"
    finally:
        i18n.translations.cache_clear()

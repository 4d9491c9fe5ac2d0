"""Search keys of names: how the staff's patient search and the duplicate check compare them.

A key is the name case-folded (``str.casefold``: ``ß`` and ``ẞ`` become ``ss``), decomposed
(NFKD) with its accents dropped, and a few letters that do not decompose written out in
Latin (``Ł`` ``l``, ``Ø`` ``o``, ``Æ`` ``ae``, ``Œ`` ``oe``, ``Đ``/``Ð`` ``d``, ``Þ`` ``th``,
the dotless ``ı`` ``i``); runs of white space become one space. So ``Özdemir``, ``özdemir``
and ``Ozdemir`` share the key ``ozdemir``, ``Núñez`` and ``Nunez`` the key ``nunez``, and
``Straße`` and ``Strasse`` the key ``strasse``: the same on SQLite and PostgreSQL, whose own
``lower()`` differ (SQLite's folds only ASCII letters).

German umlauts are also written out as ``ae``, ``oe``, ``ue`` (passports do): a search word is
tried as typed, with each such pair as its single letter (``Mueller`` also finds ``Müller``,
whose key is ``muller``) and with each umlaut spelled out (``Müller`` also finds ``Mueller``),
:func:`search_keys`. A name is found by the start of
any of its words (``ludenscheidt`` finds ``Müller-Lüdenscheidt``), :func:`later_words`.
"""

from __future__ import annotations

import unicodedata

#: Letters NFKD leaves whole, as they are written in Latin letters.
_WRITTEN_OUT = str.maketrans(
    {"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
#: Umlauts typed as two letters, and the single letter their key has.
_SPELLED_UMLAUTS = (("ae", "a"), ("oe", "o"), ("ue", "u"))
#: Umlauts (case-folded, composed) spelled out.
_SPELL_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def name_key(name: str) -> str:
    """The search key of ``name`` (see the module): case, accents and spacing folded."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(bare.translate(_WRITTEN_OUT).split())


#: What separates the words of a name's key (besides spaces): ``Müller-Lüdenscheidt``.
_WORD_BREAKS = str.maketrans({"-": " ", "‐": " ", "–": " ", "/": " "})


def later_words(key: str) -> frozenset[str]:
    """The words of a name's key after its first (``muller-ludenscheidt`` gives
    ``{"ludenscheidt"}``; ``van der berg`` gives ``{"der", "berg"}``): the search finds a name
    by the start of any of its words, the first through the key itself."""
    words = key.translate(_WORD_BREAKS).split()
    return frozenset(w for w in words[1:] if w != words[0])


def search_keys(word: str) -> tuple[str, ...]:
    """The keys a search word matches names by: its own key; when it spells umlauts out
    (``ae``, ``oe``, ``ue``) also the key with each pair as one letter; when it has umlauts
    (``ä``, ``ö``, ``ü``) also the key with each spelled out."""
    key = name_key(word)
    short = key
    for pair, letter in _SPELLED_UMLAUTS:
        short = short.replace(pair, letter)
    spelled = name_key(unicodedata.normalize("NFC", word.casefold()).translate(_SPELL_OUT))
    return tuple(dict.fromkeys((key, short, spelled)))


__all__ = ["later_words", "name_key", "search_keys"]

"""Choosing her language and writing dates, numbers and money as that language does."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan import i18n
from needleplan.domain.language import check_language

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", ["de", "en"]),
        ("en;q=0.2, de", ["de", "en"]),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr", "en", "de"]),
        ("de;q=0, en", ["en"]),
        ("", []),
        (None, []),
        ("de;q=abc, en", ["en"]),
        ("12, <script>, de", ["de"]),
    ],
)
def test_accept_language_is_read_by_quality(header: str | None, expected: list[str]) -> None:
    assert i18n.parse_accept_language(header) == expected


@given(st.text(max_size=400))
def test_no_accept_language_header_crashes_the_parser(header: str) -> None:
    for code in i18n.parse_accept_language(header):
        assert code.isascii()
        assert code.isalpha()
        assert code == code.lower()


@pytest.mark.parametrize(
    ("requested", "header", "offered", "default", "expected"),
    [
        ("de", "en", ["en", "de"], "en", "de"),  # ?lang= wins
        ("fr", "de", ["en", "de"], "en", "de"),  # not offered: her browser's next
        (None, "fr, de;q=0.5", ["en", "de"], "en", "de"),
        (None, "de", ["en"], "en", "en"),  # the clinic does not offer German
        (None, "fr", ["en", "de"], "de", "de"),  # nothing fits: the clinic's default
        ("DE", None, ["en", "de"], "en", "de"),
    ],
)
def test_the_page_language_is_asked_then_browser_then_clinic_default(
    requested: str | None, header: str | None, offered: list[str], default: str, expected: str
) -> None:
    got = i18n.negotiate(
        requested=requested, accept_language=header, offered=offered, default=default
    )
    assert got == expected


def test_dates_follow_the_language() -> None:
    visit = datetime(2027, 4, 5, 10, 0, tzinfo=BERLIN)
    assert i18n.format_datetime(visit, "de") == "Montag, 5. April 2027, 10:00 Uhr"
    assert i18n.format_datetime(visit, "en") == "Monday 5 April 2027, 10:00"
    assert i18n.format_date(date(2027, 12, 24), "de") == "24. Dezember 2027"
    assert i18n.format_date(date(2027, 12, 24), "en") == "24 December 2027"


def test_numbers_and_money_follow_the_language() -> None:
    assert i18n.format_number(1234.5, "de", 1) == "1.234,5"
    assert i18n.format_number(1234.5, "en", 1) == "1,234.5"
    assert i18n.format_money(1234.5, "EUR", "de") == "1.234,50\xa0€"
    assert i18n.format_money(1234.5, "EUR", "en") == "€1,234.50"


def test_plurals_follow_the_catalogue() -> None:
    one = i18n.ngettext("de", "%(n)d session, no maintenance", "%(n)d sessions, no maintenance", 1)
    many = i18n.ngettext("de", "%(n)d session, no maintenance", "%(n)d sessions, no maintenance", 5)
    assert (one % {"n": 1}, many % {"n": 5}) == (
        "1 Sitzung, ohne Auffrischung",
        "5 Sitzungen, ohne Auffrischung",
    )


def test_english_is_the_source_and_an_unknown_text_stays_as_written() -> None:
    assert i18n.gettext("en", "Your estimate") == "Your estimate"
    assert i18n.gettext("de", "a text nobody marked") == "a text nobody marked"


@pytest.mark.parametrize("bad", ["fr", "", "english", "de-DE-x", 3, None])
def test_a_language_setting_must_be_shipped(bad: object) -> None:
    with pytest.raises(ValueError, match="choose one of en, de"):
        check_language(bad)


def test_language_codes_are_normalised() -> None:
    assert check_language(" DE ") == "de"

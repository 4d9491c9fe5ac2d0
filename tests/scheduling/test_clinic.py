"""The clinic configuration: the bundled example loads, bad files name file, key and rule."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from needleplan.domain.assessment import Area
from needleplan.exceptions import ConfigError, InputError
from needleplan.scheduling import ClinicConfig, load_clinic, parse_clinic
from tests.scheduling.conftest import simple_clinic, simple_clinic_dict


def test_bundled_example_clinic_loads_with_zone_holidays_prices(berlin: ClinicConfig) -> None:
    assert berlin.timezone == "Europe/Berlin"
    assert str(berlin.tz) == "Europe/Berlin"
    assert berlin.holiday(date(2027, 3, 29)) == "Easter Monday"
    assert berlin.holiday(date(2027, 3, 8)) == "Women's Day"  # a Berlin-only holiday
    assert berlin.holiday(date(2027, 3, 9)) is None
    assert berlin.closure(date(2027, 12, 27)) is not None
    assert berlin.prices is not None
    assert berlin.prices.currency == "EUR"
    assert berlin.recall_threshold == pytest.approx(4.9)
    assert berlin.preferred_start == time(10, 0)
    assert [p.name for p in berlin.practitioners] == [
        "Dr. Lena Vogel",
        "Marta Nowak",
        "Dr. Aylin Kaya",
    ]


def test_subdivision_holidays_differ_from_the_country() -> None:
    """Women's Day is a public holiday in Berlin but not in Bavaria."""
    bavaria = simple_clinic(holidays={"country": "DE", "subdivision": "BY"})
    assert bavaria.holiday(date(2027, 3, 8)) is None
    assert bavaria.holiday(date(2027, 1, 6)) == "Epiphany"


def test_session_length_is_the_sum_of_area_minutes_rounded_to_the_slot_grid() -> None:
    clinic = simple_clinic(session_minutes={"default": 40, "full_face": 50, "neck": 20})
    assert clinic.session_duration_minutes([Area.FULL_FACE]) == 60  # 50 -> next 15 minutes
    assert clinic.session_duration_minutes([Area.FULL_FACE, Area.NECK]) == 75  # 70 -> 75
    assert clinic.session_duration_minutes([Area.CHEST]) == 45  # default 40 -> 45


def test_practitioner_days_off_accept_dates_and_ranges(berlin: ClinicConfig) -> None:
    lena = berlin.practitioner("Dr. Lena Vogel")
    assert lena.day_off(date(2027, 4, 19)) is not None
    assert lena.day_off(date(2027, 7, 25)) is not None
    assert lena.day_off(date(2027, 7, 31)) is None


def test_unknown_practitioner_is_an_input_error_listing_the_names(berlin: ClinicConfig) -> None:
    with pytest.raises(InputError) as err:
        berlin.practitioner("Nobody")
    assert err.value.problems[0].field == "practitioner"
    assert "Marta Nowak" in err.value.problems[0].rule


@pytest.mark.parametrize(
    ("override", "field", "rule_part"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"opening_hours": {"monday": ["9-17"]}}, "opening_hours.monday.0", "is not a span"),
        ({"opening_hours": {"monday": ["17:00-09:00"]}}, "opening_hours.monday.0", "ends before"),
        (
            {"opening_hours": {"monday": ["09:00-13:00", "12:00-17:00"]}},
            "opening_hours",
            "overlap",
        ),
        ({"opening_hours": {"funday": ["09:00-17:00"]}}, "opening_hours.funday.[key]", "monday"),
        ({"opening_hours": {"monday": ["09:00-25:00"]}}, "opening_hours.monday.0", "time of day"),
        ({"holidays": {"country": "XX"}}, "holidays", "not supported"),
        ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "holidays", "BE"),
        ({"practitioners": []}, "practitioners", "at least 1"),
        ({"practitioners": [{"name": "A"}, {"name": "A"}]}, "clinic", "unique: A"),
        ({"session_minutes": {"nose": 30}}, "session_minutes", "'nose' is not an area"),
        ({"session_minutes": {"neck": 2}}, "session_minutes", "outside 5-480"),
        (
            {"closures": [{"start": date(2027, 2, 2), "end": date(2027, 2, 1)}]},
            "closures.0",
            "ends",
        ),
        (
            {"prices": {"initial_session": 1, "maintenance_session": 1, "currency": "euro"}},
            "prices.currency",
            "pattern",
        ),
        ({"recall_threshold": 0}, "recall_threshold", "greater than 0"),
        ({"colour": "blue"}, "colour", "unknown field"),
        ({"preferred_start": "ten"}, "preferred_start", "not a time"),
    ],
)
def test_bad_config_names_the_file_key_and_rule(
    tmp_path: Path, override: dict[str, Any], field: str, rule_part: str
) -> None:
    data = simple_clinic_dict(**override)
    path = tmp_path / "clinic.toml"
    path.write_text(_to_toml(data), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_clinic(path)
    assert err.value.source == str(path)
    problem = err.value.problems[0]
    assert problem.field == field
    assert rule_part in problem.rule
    assert str(path) in str(err.value)


def test_missing_file_and_broken_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_clinic(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_clinic(broken)


def test_config_must_open_on_some_day() -> None:
    with pytest.raises(ConfigError, match="open on at least one day"):
        parse_clinic(simple_clinic_dict(opening_hours={"monday": []}))


def test_the_example_file_round_trips_through_its_own_schema(berlin: ClinicConfig) -> None:
    """Dumping the parsed example and validating it again gives the same config."""
    dumped = berlin.model_dump(mode="json")
    assert parse_clinic(dumped) == berlin


def _to_toml(data: dict[str, Any]) -> str:
    """A tiny TOML writer for the test configs (strings, numbers, dates, lists, tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, int | float | date):
            return str(v) if not isinstance(v, date) else v.isoformat()
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + "}"
        raise TypeError(type(v))

    return "\n".join(f'"{k}" = {value(v)}' for k, v in data.items()) + "\n"

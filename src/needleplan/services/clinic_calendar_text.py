"""The clinic calendar as TOML text: validate it, and the two quick edits made to the text itself.

- :func:`parse_clinic_toml`: text -> :class:`~needleplan.scheduling.ClinicConfig`, or one
  :class:`~needleplan.exceptions.ConfigError` naming key, value and rule.
- :func:`with_closure` / :func:`with_leave`: one more closure or period off, applied with
  ``tomlkit`` so the admin's comments and layout survive.

Split out of :mod:`needleplan.services.clinic_calendar`, which re-exports these names.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date
from importlib import resources
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from needleplan.exceptions import ConfigError, FieldProblem, InputError
from needleplan.scheduling import ClinicConfig, parse_clinic
from needleplan.scheduling.clinic import EXAMPLE_CLINIC

#: The longest calendar text accepted [characters] (the bundled example has about 2,600).
MAX_TOML_CHARS = 100_000
#: Longest note on a version, closure reason or leave reason [characters].
MAX_NOTE_CHARS = 200
MAX_REASON_CHARS = 120

# --------------------------------------------------------------------------- parsing

_TOML_POSITION = re.compile(r"at line (\d+), column (\d+)")


def parse_clinic_toml(text: str, *, source: str = "clinic calendar") -> ClinicConfig:
    """Validate calendar TOML text into a :class:`~needleplan.scheduling.ClinicConfig`.

    Raises
    ------
    ConfigError
        for text that is empty, too long or not TOML (field ``toml``, the offending line as the
        value, the position and TOML's complaint as the rule), or for a key that breaks the
        schema (the key's dotted path, its value, the rule).
    """
    if not isinstance(text, str):
        raise ConfigError.one("toml", type(text).__name__, "must be text", source=source)
    if not text.strip():
        raise ConfigError.one("toml", "", "must not be empty", source=source)
    if len(text) > MAX_TOML_CHARS:
        raise ConfigError.one(
            "toml",
            f"{len(text)} characters",
            f"must be at most {MAX_TOML_CHARS} characters",
            source=source,
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = ""
        if position is not None:
            number = int(position.group(1))
            lines = text.splitlines()
            line = lines[number - 1].strip()[:120] if 0 < number <= len(lines) else ""
        raise ConfigError.one(
            "toml", line, f"is not valid TOML: {message}", source=source
        ) from None
    try:
        return parse_clinic(data, source=source)
    except ConfigError as exc:
        # A rule about several keys reports the whole table as its value; keep messages short.
        raise ConfigError([_compact(p) for p in exc.problems], source=exc.source) from None


def _compact(problem: FieldProblem) -> FieldProblem:
    value = problem.value
    if isinstance(value, Mapping):
        return FieldProblem(problem.field, "{...}", problem.rule)
    if isinstance(value, list):
        return FieldProblem(problem.field, "[...]", problem.rule)
    return problem


def bundled_clinic_toml() -> str:
    """The text of the bundled example clinic."""
    return resources.files("needleplan.scheduling").joinpath(EXAMPLE_CLINIC).read_text("utf-8")


def _clean_line(value: str, field: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InputError.one(field, value, "must be text")
    clean = value.strip()
    if required and not clean:
        raise InputError.one(field, value, "must not be empty")
    if len(clean) > limit:
        raise InputError.one(field, value[:40] + "…", f"must be at most {limit} characters")
    if not clean.isprintable():
        raise InputError.one(field, clean, "must be one line of printable text")
    return clean


# --------------------------------------------------------------------------- quick edits


def _period(start: date, end: date | None, reason: str) -> tuple[date, date | None, str]:
    if not isinstance(start, date):
        raise InputError.one("start", start, "must be a date like 2027-03-01")
    if end is not None and not isinstance(end, date):
        raise InputError.one("end", end, "must be a date like 2027-03-01 or empty")
    if end is not None and end < start:
        raise InputError.one("end", end.isoformat(), f"must be on or after start ({start})")
    clean = _clean_line(reason, "reason", MAX_REASON_CHARS, required=True)
    return start, (None if end == start else end), clean


def _entry(start: date, end: date | None, reason: str, *, inline: bool) -> Table | InlineTable:
    table: Table | InlineTable = tomlkit.inline_table() if inline else tomlkit.table()
    table.append("start", start)
    if end is not None:
        table.append("end", end)
    table.append("reason", reason)
    return table


def _append_entry(container: Any, start: date, end: date | None, reason: str) -> None:
    if isinstance(container, AoT):
        container.append(_entry(start, end, reason, inline=False))
    elif isinstance(container, Array):
        container.append(_entry(start, end, reason, inline=True))
    else:
        raise TypeError(type(container).__name__)


def _tidy(text: str) -> str:
    """A blank line before a table header that directly follows a value (tomlkit appends new
    ``[[...]]`` tables without one), and never more than one blank line in a row. Layout only:
    comments and values are untouched, and a header under its own comment stays with it."""
    lines: list[str] = []
    for line in text.split("\n"):
        header = line.lstrip().startswith("[")
        previous = lines[-1].strip() if lines else ""
        if header and previous and not previous.startswith("#"):
            lines.append("")
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line)
    return "\n".join(lines).rstrip("\n") + "\n"


def _edited(toml_text: str, edit: Any) -> str:
    base = parse_clinic_toml(toml_text)
    try:
        document = tomlkit.parse(toml_text)
        edit(document, base)
        raw = tomlkit.dumps(document)
        out = _tidy(raw)
        if tomllib.loads(out) != tomllib.loads(raw):  # e.g. a multi-line string with a "[" line
            out = raw
    except (TOMLKitError, tomllib.TOMLDecodeError, TypeError, KeyError) as exc:
        raise InputError.one(
            "toml",
            type(exc).__name__,
            "the calendar's TOML is laid out in a way this form cannot extend; "
            "edit the TOML text instead",
        ) from None
    parse_clinic_toml(out)
    return out


def with_closure(toml_text: str, start: date, end: date | None, reason: str) -> str:
    """``toml_text`` with one more whole-clinic closure (``end`` inclusive; None: one day).

    The text is edited in place: comments and layout stay as they were.
    """
    first, last, why = _period(start, end, reason)

    def edit(document: Any, _base: ClinicConfig) -> None:
        if "closures" in document:
            _append_entry(document["closures"], first, last, why)
        else:
            table = _entry(first, last, why, inline=False)
            document.append("closures", tomlkit.aot())
            document["closures"].append(table)

    return _edited(toml_text, edit)


def with_leave(
    toml_text: str, practitioner: str, start: date, end: date | None, reason: str
) -> str:
    """``toml_text`` with a period off (``end`` inclusive; None: one day) for ``practitioner``."""
    first, last, why = _period(start, end, reason)

    def edit(document: Any, base: ClinicConfig) -> None:
        base.practitioner(practitioner)  # InputError listing the names when unknown
        for person in document["practitioners"]:
            if str(person.get("name")) != practitioner:
                continue
            if "days_off" in person:
                _append_entry(person["days_off"], first, last, why)
            else:
                days_off = tomlkit.array()
                days_off.append(_entry(first, last, why, inline=True))
                person["days_off"] = days_off
            return
        raise KeyError(practitioner)

    return _edited(toml_text, edit)

"""The clinic settings forms: one change to the calendar in force, without writing TOML.

Each settings form (opening hours, practitioners, visit lengths, prices, closures, the recall
threshold, the clinic's public identity) sends plain fields. :func:`settings_change` turns them
into the calendar keys they set (an :class:`~needleplan.exceptions.InputError` naming the form
field, the value and the rule when one is wrong); :func:`apply_settings` writes those keys into
the TOML text of the calendar in force with ``tomlkit`` (every other key, comment and layout
stays) and validates the result. Saving goes through
:func:`~needleplan.services.clinic_calendar.save_clinic_config`, exactly as the TOML editor
does: a new version, audited in the same transaction, refused when another version was saved
since the form was shown. :func:`field_for` tells a form which of its fields a problem
reported by the calendar's own validation belongs to, so the page shows it beside that field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any, Final

import tomlkit
from tomlkit.exceptions import TOMLKitError

from needleplan.exceptions import FieldProblem, InputError
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.clinic import Closure, TimeSpan, Weekday
from needleplan.services.clinic_calendar_text import MAX_REASON_CHARS, parse_clinic_toml

#: The forms, as the page and the audit detail name them.
SECTIONS: Final = (
    "hours",
    "practitioner",
    "visits",
    "prices",
    "closures",
    "recall",
    "identity",
)
WEEKDAYS: Final = tuple(d.value for d in Weekday)
VISIT_KINDS: Final = ("consultation", "session", "maintenance", "review")
IDENTITY_FIELDS: Final = ("name", "location", "phone", "email", "website")
#: Every field name the settings forms use (a problem names one of them, or a calendar key).
FORM_FIELDS: Final = (
    *WEEKDAYS,
    *VISIT_KINDS,
    *IDENTITY_FIELDS,
    "logo",
    "initial_session",
    "maintenance_session",
    "currency",
    "recall_threshold",
    "start",
    "end",
    "reason",
    "remove",
    "off_start",
    "off_end",
    "off_reason",
    "remove_off",
)
#: Longest value a settings field takes [characters].
MAX_FIELD_CHARS = 300
#: Most closures or days off a form lists (the rest stay, untouched).
MAX_PERIODS = 500

_SPAN_SPLIT = re.compile(r"[,;]")


@dataclass
class Change:
    """What a form sets: top-level calendar keys (None removes the key), or one practitioner."""

    keys: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


# --------------------------------------------------------------------------- field parsing


def _text(form: Mapping[str, Any], name: str, *, limit: int = MAX_FIELD_CHARS) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InputError.one(name, type(value).__name__, "must be text")
    clean = value.strip()
    if len(clean) > limit:
        raise InputError.one(name, clean[:40] + "…", f"must be at most {limit} characters")
    if clean and not clean.isprintable():
        raise InputError.one(name, clean[:40], "must be one line of printable text")
    return clean


def spans_text(spans: Sequence[TimeSpan] | None) -> str:
    """Spans as a form shows them: ``09:00-13:00, 14:00-18:00`` (empty: closed / not working)."""
    return ", ".join(str(s) for s in spans or [])


def parse_spans(value: str, name: str) -> list[str]:
    """``09:00-13:00, 14:00-18:00`` -> the spans (empty: none); a gap between spans is a break.

    Raises InputError naming the field when a span is malformed, ends before it starts, or
    overlaps another.
    """
    parts = [p.strip() for p in _SPAN_SPLIT.split(value) if p.strip()]
    spans: list[TimeSpan] = []
    for part in parts:
        try:
            spans.append(TimeSpan.model_validate(part))
        except ValueError:
            raise InputError.one(
                name,
                part,
                "must be times like 09:00-13:00, several separated by commas (a gap is a break)",
            ) from None
    ordered = sorted(spans, key=lambda s: s.start)
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise InputError.one(name, value, f"the spans {before} and {after} overlap")
    return [str(s) for s in ordered]


def _week(form: Mapping[str, Any]) -> dict[str, list[str]]:
    return {day: spans for day in WEEKDAYS if (spans := parse_spans(_text(form, day), day))}


def _whole(form: Mapping[str, Any], name: str, low: int, high: int, unit: str) -> int:
    raw = _text(form, name, limit=20)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InputError.one(name, raw, f"must be a whole number of {unit} from {low} to {high}")
    return int(raw)


def _amount(form: Mapping[str, Any], name: str) -> float:
    raw = _text(form, name, limit=20).replace(",", ".")
    try:
        amount = float(raw)
    except ValueError:
        raise InputError.one(name, raw, "must be a price like 350 or 349.50") from None
    if not 0 < amount <= 1_000_000 or round(amount, 2) != amount:
        raise InputError.one(name, raw, "must be more than 0 and at most 1000000, in cents at most")
    return amount


def _day(form: Mapping[str, Any], name: str) -> date | None:
    raw = _text(form, name, limit=20)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError.one(name, raw, "must be a date like 2027-03-01") from None


def _new_period(
    form: Mapping[str, Any], start: str, end: str, reason: str, default_reason: str
) -> dict[str, Any] | None:
    """An added closure or period off from three fields (all empty: none added)."""
    first, last = _day(form, start), _day(form, end)
    why = _text(form, reason, limit=MAX_REASON_CHARS)
    if first is None:
        if last is not None or why:
            raise InputError.one(start, "", "must be the first day (a date like 2027-03-01)")
        return None
    if last is not None and last < first:
        raise InputError.one(end, last.isoformat(), f"must be on or after the first day ({first})")
    entry: dict[str, Any] = {"start": first}
    if last is not None and last != first:
        entry["end"] = last
    entry["reason"] = why or default_reason
    return entry


def _removed(form: Mapping[str, Any], name: str, count: int) -> set[int]:
    raw = form.get(name, [])
    values = [raw] if isinstance(raw, str) else list(raw)
    out: set[int] = set()
    for value in values[:MAX_PERIODS]:
        text = str(value).strip()
        if not text.isdigit() or int(text) >= count:
            raise InputError.one(name, text[:20], f"must be a listed entry (0-{count - 1})")
        out.add(int(text))
    return out


def _period(closure: Closure) -> dict[str, Any]:
    entry: dict[str, Any] = {"start": closure.start}
    if closure.end is not None and closure.end != closure.start:
        entry["end"] = closure.end
    entry["reason"] = closure.reason
    return entry


def _periods(
    kept: Sequence[Closure], removed: set[int], added: dict[str, Any] | None
) -> list[dict[str, Any]]:
    out = [_period(c) for i, c in enumerate(kept) if i not in removed]
    if added is not None:
        out.append(added)
    return out


# --------------------------------------------------------------------------- the forms


def settings_change(
    section: str, form: Mapping[str, Any], clinic: ClinicConfig, *, person: int | None = None
) -> Change:
    """The calendar keys one settings form sets, from its fields.

    ``section`` is one of :data:`SECTIONS`. For ``practitioner``, ``person`` is the index of the
    practitioner edited (None: one is added) and ``form["action"]`` may be ``deactivate``.

    Raises
    ------
    InputError
        naming the form field, the value and the rule.
    """
    if section == "hours":
        week = _week(form)
        if not week:
            raise InputError.one("monday", "", "the clinic must be open on at least one day")
        return Change({"opening_hours": week}, "opening hours")
    if section == "visits":
        minutes = {k: _whole(form, k, 5, 480, "minutes") for k in VISIT_KINDS}
        return Change({"visit_minutes": minutes}, "visit lengths")
    if section == "prices":
        names = ("initial_session", "maintenance_session", "currency")
        if not any(_text(form, n) for n in names):
            return Change({"prices": None}, "prices removed")
        currency = _text(form, "currency", limit=10).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise InputError.one("currency", currency, "must be a 3-letter ISO 4217 code like EUR")
        prices = {
            "initial_session": _amount(form, "initial_session"),
            "maintenance_session": _amount(form, "maintenance_session"),
            "currency": currency,
        }
        return Change({"prices": prices}, "prices")
    if section == "recall":
        raw = _text(form, "recall_threshold", limit=20).replace(",", ".")
        try:
            threshold = float(raw)
        except ValueError:
            threshold = -1.0
        if not 0 < threshold < 100:
            raise InputError.one(
                "recall_threshold", raw, "must be a number above 0 and below 100 (% improvement)"
            )
        return Change({"recall_threshold": threshold}, "recall threshold")
    if section == "closures":
        removed = _removed(form, "remove", len(clinic.closures))
        added = _new_period(form, "start", "end", "reason", "closed")
        closures = _periods(clinic.closures, removed, added)
        return Change({"closures": closures or None}, "closures")
    if section == "identity":
        values = {k: _text(form, k) for k in IDENTITY_FIELDS}
        if not values["name"]:
            raise InputError.one("name", "", "must not be empty: the clinic's name")
        return Change(dict(values), "identity")
    if section == "practitioner":
        return _practitioner(form, clinic, person)
    raise InputError.one("section", section, "must be one of " + ", ".join(SECTIONS))


def _practitioner_entry(
    name: str, hours: dict[str, list[str]] | None, days_off: list[dict[str, Any]]
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    if days_off:
        entry["days_off"] = days_off
    if hours:
        entry["hours"] = hours
    return entry


def _practitioner_rows(clinic: ClinicConfig) -> list[dict[str, Any]]:
    return [
        _practitioner_entry(
            p.name,
            {d.value: [str(s) for s in spans] for d, spans in p.hours.items() if spans}
            if p.hours
            else None,
            [_period(c) for c in p.days_off],
        )
        for p in clinic.practitioners
    ]


def _practitioner(form: Mapping[str, Any], clinic: ClinicConfig, person: int | None) -> Change:
    rows = _practitioner_rows(clinic)
    if person is not None and not 0 <= person < len(rows):
        raise InputError.one("practitioner", person, "is not listed any more; reload the page")
    current = clinic.practitioners[person] if person is not None else None
    if current is not None and _text(form, "current") != current.name:
        raise InputError.one(
            "practitioner", _text(form, "current"), "the list changed meanwhile; reload the page"
        )
    action = _text(form, "action", limit=20) or "save"
    if action == "deactivate":
        if current is None or person is None:
            raise InputError.one("action", action, "needs a listed practitioner")
        if len(rows) == 1:
            raise InputError.one("name", current.name, "the clinic needs at least one practitioner")
        del rows[person]
        return Change({"practitioners": rows}, f"practitioner {current.name} deactivated")
    if action != "save":
        raise InputError.one("action", action, "must be save or deactivate")
    name = current.name if current is not None else _text(form, "name", limit=120)
    if not name:
        raise InputError.one("name", "", "must not be empty: the practitioner's name")
    if current is None and any(p.name == name for p in clinic.practitioners):
        raise InputError.one("name", name, "is already a practitioner of the clinic")
    hours = _week(form)
    kept = current.days_off if current is not None else []
    removed = _removed(form, "remove_off", len(kept))
    added = _new_period(form, "off_start", "off_end", "off_reason", "day off")
    entry = _practitioner_entry(name, hours or None, _periods(kept, removed, added))
    if person is None:
        rows.append(entry)
        return Change({"practitioners": rows}, f"practitioner {name} added")
    rows[person] = entry
    return Change({"practitioners": rows}, f"practitioner {name} changed")


# --------------------------------------------------------------------------- writing the TOML


def _item(value: Any, *, inline: bool = False) -> Any:
    """A plain value as a tomlkit item: mappings as tables (inline inside arrays)."""
    if isinstance(value, Mapping):
        table: Any = tomlkit.inline_table() if inline else tomlkit.table()
        scalars = [(k, v) for k, v in value.items() if not isinstance(v, Mapping) or inline]
        tables = [(k, v) for k, v in value.items() if isinstance(v, Mapping) and not inline]
        for key, sub in [*scalars, *tables]:  # sub-tables after the plain keys
            table.append(key, _item(sub, inline=inline))
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for element in value:
            array.append(_item(element, inline=True))
        return array
    return value


def _set(document: Any, key: str, value: Any) -> None:
    if value is None:
        if key in document:
            del document[key]
        return
    if key in ("practitioners", "closures"):
        tables = tomlkit.aot()
        for entry in value:
            tables.append(_item(entry))
        value = tables
    else:
        value = _item(value)
    document[key] = value


def apply_settings(toml_text: str, change: Change) -> tuple[str, ClinicConfig]:
    """``toml_text`` with the keys of ``change`` set (the rest as it was), and its validation.

    Raises
    ------
    InputError
        a :class:`~needleplan.exceptions.ConfigError` for a result that breaks the calendar's
        rules (key, value, rule), or when the text cannot be edited.
    """
    parse_clinic_toml(toml_text)
    try:
        document = tomlkit.parse(toml_text)
        for key, value in change.keys.items():
            _set(document, key, value)
        out = tomlkit.dumps(document)
    except (TOMLKitError, TypeError, KeyError, ValueError) as exc:
        raise InputError.one(
            "toml",
            type(exc).__name__,
            "the calendar's TOML is laid out in a way this form cannot change; "
            "edit the TOML text instead",
        ) from None
    return out, parse_clinic_toml(out)


_ALIASES: Final = {
    "practitioner": {"start": "off_start", "end": "off_end", "reason": "off_reason"},
    "visits": {},
}


def field_for(section: str, problem: FieldProblem, fields: Sequence[str]) -> str:
    """Which form field of ``section`` a problem belongs to (``""``: the form as a whole).

    A problem from the form itself names its field; one from the calendar's validation names
    a dotted key (``opening_hours``, ``visit_minutes.review``, ``practitioners.2.hours.monday``):
    the last part of it that is one of the form's ``fields`` (a weekday named at the start of
    the rule counts too).
    """
    if problem.field in fields:
        return problem.field
    aliases = _ALIASES.get(section, {})
    for part in reversed(problem.field.split(".")):
        part = aliases.get(part, part)
        if part in fields:
            return part
    head = str(problem.rule).split(":", 1)[0]
    return head if head in fields and head in WEEKDAYS else ""


def form_values(clinic: ClinicConfig) -> dict[str, dict[str, str]]:
    """The settings forms filled with the calendar's values (as text, by section)."""
    hours = {d.value: spans_text(clinic.opening_hours.get(d)) for d in Weekday}
    prices = clinic.prices
    return {
        "hours": hours,
        "visits": {k: str(getattr(clinic.visit_minutes, k)) for k in VISIT_KINDS},
        "prices": {
            "initial_session": f"{prices.initial_session:g}" if prices else "",
            "maintenance_session": f"{prices.maintenance_session:g}" if prices else "",
            "currency": prices.currency if prices else "",
        },
        "recall": {"recall_threshold": f"{clinic.recall_threshold:g}"},
        "closures": {"start": "", "end": "", "reason": ""},
        "identity": {k: str(getattr(clinic, k)) for k in IDENTITY_FIELDS},
        "practitioner": {"name": "", "off_start": "", "off_end": "", "off_reason": ""}
        | {d: "" for d in WEEKDAYS},
    }


def practitioner_values(clinic: ClinicConfig, index: int) -> dict[str, str]:
    """The edit form of one practitioner, filled (her hours; empty days: not working)."""
    person = clinic.practitioners[index]
    values = {"name": person.name, "off_start": "", "off_end": "", "off_reason": ""}
    for day in Weekday:
        values[day.value] = spans_text(person.hours.get(day)) if person.hours else ""
    return values


__all__ = [
    "FORM_FIELDS",
    "IDENTITY_FIELDS",
    "SECTIONS",
    "VISIT_KINDS",
    "WEEKDAYS",
    "Change",
    "apply_settings",
    "field_for",
    "form_values",
    "parse_spans",
    "practitioner_values",
    "settings_change",
    "spans_text",
]

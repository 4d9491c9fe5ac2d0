"""Clinic calendar versions (services.clinic_calendar): save, validate, revert, history, what is in force,
the booked appointments a new calendar would not allow, and the quick edits of the TOML text.

The storage-backed tests run on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needleplan import services
from needleplan.exceptions import ConfigError, ConflictError, InputError, NotFoundError
from needleplan.scheduling import parse_clinic
from needleplan.services import clinic_calendar
from needleplan.services.clinic_calendar import ClinicSource
from tests.strategies import examples

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2031, 3, 3)
NOW = datetime(2031, 1, 1, tzinfo=UTC)

#: The calendar of the ``clinic`` fixture's two practitioners; comments must survive edits.
BASE = """\
# Test clinic calendar (comments are kept by the quick edits)
name = "Test clinic"
timezone = "Europe/London"

[opening_hours]
monday    = ["09:00-18:00"]
tuesday   = ["09:00-18:00"]
wednesday = ["09:00-18:00"]
thursday  = ["09:00-18:00"]
friday    = ["09:00-18:00"]

[session_minutes]
default = 60

[[practitioners]]
name = "Alice Practitioner"

[[practitioners]]
name = "Bob Practitioner"
# Bob works mornings only
[practitioners.hours]
monday    = ["09:00-13:00"]
tuesday   = ["09:00-13:00"]
wednesday = ["09:00-13:00"]
thursday  = ["09:00-13:00"]
friday    = ["09:00-13:00"]
"""


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def book(clinic: Any, who: Any, day: date, hour: int, minutes: int = 60) -> int:
    start = at(day, hour)
    appt = services.book_appointment(
        clinic.db, clinic.patient.id, (start, start + timedelta(minutes=minutes), who.id)
    )
    return appt.id


def stored(db: Any) -> tuple[int, int]:
    """(saved versions, audit rows)."""
    versions = len(clinic_calendar.clinic_config_history(db))
    return versions, len(services.audit_log(db, limit=1000))


# --------------------------------------------------------------------------- save and history


def test_save_puts_the_version_in_force_with_who_when_and_an_audit_row(clinic: Any) -> None:
    admin = services.create_user(clinic.db, "boss", "a long enough password", "admin")
    assert clinic_calendar.current_clinic_config(clinic.db) is None
    version = clinic_calendar.save_clinic_config(clinic.db, BASE, admin, "first calendar")
    found = clinic_calendar.current_clinic_config(clinic.db)
    assert found is not None
    current, config = found
    assert current == version
    assert (current.user_id, current.username, current.note) == (admin.id, "boss", "first calendar")
    assert current.toml == BASE  # stored exactly as written, comments included
    assert config.name == "Test clinic"
    assert [p.name for p in config.practitioners] == ["Alice Practitioner", "Bob Practitioner"]
    assert current.created_at.tzinfo is not None
    (event,) = services.audit_log(clinic.db)
    assert (event.action, event.user_id, event.username, event.patient_id) == (
        "clinic.config.save",
        admin.id,
        "boss",
        None,
    )
    assert f"version {version.id}" in event.detail


def test_history_lists_every_version_newest_first_and_the_newest_is_in_force(clinic: Any) -> None:
    first = clinic_calendar.save_clinic_config(clinic.db, BASE, "cli:ops", "one")
    second = clinic_calendar.save_clinic_config(
        clinic.db, BASE.replace("Test clinic", "Renamed clinic"), None, "two"
    )
    history = clinic_calendar.clinic_config_history(clinic.db)
    assert [v.id for v in history] == [second.id, first.id]
    assert second.id > first.id
    assert [(v.username, v.user_id) for v in history] == [("system", None), ("cli:ops", None)]
    assert clinic_calendar.newest_clinic_version_id(clinic.db) == second.id
    eff = clinic_calendar.effective_clinic(clinic.db)
    assert (eff.source, eff.version_id, eff.clinic.name) == (
        ClinicSource.SAVED,
        second.id,
        "Renamed clinic",
    )
    assert clinic_calendar.clinic_config_history(clinic.db, limit=1) == [second]


def test_revert_appends_a_copy_and_keeps_the_history(clinic: Any) -> None:
    first = clinic_calendar.save_clinic_config(clinic.db, BASE, "ops")
    clinic_calendar.save_clinic_config(clinic.db, BASE.replace("Test clinic", "Other"), "ops")
    copy = clinic_calendar.revert_clinic_config(clinic.db, first.id, "ops")
    history = clinic_calendar.clinic_config_history(clinic.db)
    assert len(history) == 3
    assert history[0] == copy
    assert copy.toml == first.toml
    assert copy.note == f"revert to version {first.id}"
    assert clinic_calendar.effective_clinic(clinic.db).clinic.name == "Test clinic"
    event = services.audit_log(clinic.db, limit=1)[0]
    assert event.action == "clinic.config.revert"
    assert f"copy of version {first.id}" in event.detail


def test_revert_to_a_missing_version_stores_nothing(clinic: Any) -> None:
    clinic_calendar.save_clinic_config(clinic.db, BASE, "ops")
    before = stored(clinic.db)
    with pytest.raises(NotFoundError, match="version 99 does not exist"):
        clinic_calendar.revert_clinic_config(clinic.db, 99, "ops")
    assert stored(clinic.db) == before


def test_a_save_based_on_an_older_version_is_refused_naming_the_newer_one(clinic: Any) -> None:
    first = clinic_calendar.save_clinic_config(clinic.db, BASE, "anna", base_version=None)
    second = clinic_calendar.save_clinic_config(clinic.db, BASE, "ben", base_version=first.id)
    before = stored(clinic.db)
    with pytest.raises(ConflictError, match=f"version {second.id} was saved by ben"):
        clinic_calendar.save_clinic_config(clinic.db, BASE, "anna", base_version=first.id)
    with pytest.raises(ConflictError):
        clinic_calendar.save_clinic_config(clinic.db, BASE, "anna", base_version=None)
    assert stored(clinic.db) == before


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "field", "value", "rule"),
    [
        (BASE.replace('"Europe/London"', '"Mars/Olympus"'), "timezone", "Mars/Olympus", "IANA"),
        (BASE.replace('monday    = ["09:00-18:00"]', 'monday = ["18:00-09:00"]', 1),
         "opening_hours.monday.0", "18:00-09:00", "ends before it starts"),
        ("colour = 3\n" + BASE, "colour", 3, "unknown field"),
        (BASE.replace("default = 60", "default = 2"), "session_minutes", "{...}", "outside 5-480"),
        (BASE.replace('name = "Bob Practitioner"', 'name = "Alice Practitioner"'),
         "clinic", "{...}", "must be unique"),
        ("slot_minutes = 3\n" + BASE, "slot_minutes", 3, "greater than or equal to 5"),
    ],
    ids=["timezone", "span", "unknown-key", "session-length", "duplicate-name", "slot-grid"],
)  # fmt: skip
def test_a_bad_key_is_refused_naming_key_value_and_rule_and_nothing_is_stored(
    clinic: Any, text: str, field: str, value: Any, rule: str
) -> None:
    before = stored(clinic.db)
    with pytest.raises(ConfigError) as caught:
        clinic_calendar.save_clinic_config(clinic.db, text, "ops")
    problems = caught.value.problems
    assert any(p.field == field and p.value == value and rule in p.rule for p in problems), problems
    assert stored(clinic.db) == before


@pytest.mark.parametrize(
    ("text", "value", "position"),
    [
        ('name = "Test clinic"\ntimezone = \n', "timezone =", "line 2, column 12"),
        ("[opening_hours\nmonday = []\n", "[opening_hours", "line 1"),
        ('name = "unterminated\n', 'name = "unterminated', "line 1"),
    ],
)
def test_text_that_is_not_toml_is_refused_naming_the_line_and_nothing_is_stored(
    clinic: Any, text: str, value: str, position: str
) -> None:
    before = stored(clinic.db)
    with pytest.raises(ConfigError) as caught:
        clinic_calendar.save_clinic_config(clinic.db, text, "ops")
    (problem,) = caught.value.problems
    assert problem.field == "toml"
    assert problem.value == value
    assert "not valid TOML" in problem.rule
    assert position in problem.rule
    assert stored(clinic.db) == before


@pytest.mark.parametrize(
    ("text", "note", "field"),
    [
        ("   \n", "", "toml"),
        ("x" * (clinic_calendar.MAX_TOML_CHARS + 1), "", "toml"),
        (BASE, "n" * 201, "note"),
        (BASE, "two\nlines", "note"),
    ],
    ids=["empty", "too-long", "long-note", "multi-line-note"],
)
def test_empty_or_oversized_input_is_refused(clinic: Any, text: str, note: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        clinic_calendar.save_clinic_config(clinic.db, text, "ops", note)
    assert caught.value.problems[0].field == field
    assert stored(clinic.db) == (0, 0)


def test_a_stored_version_that_no_longer_validates_is_reported_not_used(clinic: Any) -> None:
    """A version saved under older rules: the error names the version, key and rule."""
    from needleplan.storage.clinic_configs import ClinicConfigRepository

    with clinic.db.transaction() as uow:
        ClinicConfigRepository(uow.session).add(
            BASE.replace("default = 60", "default = 1000"), "", NOW, None, "old"
        )
    with pytest.raises(ConfigError, match=r"clinic calendar version 1: session_minutes"):
        clinic_calendar.effective_clinic(clinic.db)
    with pytest.raises(ConfigError, match="version 1"):
        clinic_calendar.revert_clinic_config(clinic.db, 1, "ops")
    assert len(clinic_calendar.clinic_config_history(clinic.db)) == 1


# --------------------------------------------------------------------------- in force


def test_without_a_saved_version_the_file_is_in_force_else_the_bundled_example(
    db: Any, tmp_path: Path
) -> None:
    bundled = clinic_calendar.effective_clinic(db)
    assert bundled.source is ClinicSource.BUNDLED
    assert bundled.clinic.name == "Example Skin Clinic"
    assert bundled.toml == clinic_calendar.bundled_clinic_toml()
    file = tmp_path / "clinic.toml"
    file.write_text(BASE, encoding="utf-8")
    from_file = clinic_calendar.effective_clinic(db, file)
    assert (from_file.source, from_file.file, from_file.clinic.name) == (
        ClinicSource.FILE,
        file,
        "Test clinic",
    )
    assert "file" in from_file.describe()
    clinic_calendar.save_clinic_config(db, BASE.replace("Test clinic", "Saved clinic"), "ops")
    saved = clinic_calendar.effective_clinic(db, file)
    assert (saved.source, saved.clinic.name) == (ClinicSource.SAVED, "Saved clinic")
    assert saved.describe().startswith("saved version 1 (by ops, ")


def test_a_missing_fallback_file_is_an_error_naming_the_file(db: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read") as caught:
        clinic_calendar.effective_clinic(db, tmp_path / "absent.toml")
    assert caught.value.problems[0].field == "file"


# --------------------------------------------------------------------------- conflicts


def test_appointments_outside_new_hours_on_a_new_closure_or_with_a_removed_practitioner_are_listed(
    clinic: Any,
) -> None:
    current = parse_clinic(tomllib.loads(BASE))
    late = book(clinic, clinic.alice, MONDAY, 16)  # 16:00-17:00
    closed_day = book(clinic, clinic.alice, MONDAY + timedelta(days=1), 10)
    bobs = book(clinic, clinic.bob, MONDAY + timedelta(days=2), 10)
    fine = book(clinic, clinic.alice, MONDAY + timedelta(days=3), 10)
    text = BASE.replace('monday    = ["09:00-18:00"]', 'monday    = ["09:00-15:00"]')
    text = text.replace('[[practitioners]]\nname = "Bob Practitioner"\n# Bob works mornings only\n'
                        '[practitioners.hours]\nmonday    = ["09:00-13:00"]\ntuesday   = ["09:00-13:00"]\n'
                        'wednesday = ["09:00-13:00"]\nthursday  = ["09:00-13:00"]\nfriday    = ["09:00-13:00"]\n',
                        "")  # fmt: skip
    text = clinic_calendar.with_closure(text, MONDAY + timedelta(days=1), None, "training")
    new = clinic_calendar.parse_clinic_toml(text)
    assert [p.name for p in new.practitioners] == ["Alice Practitioner"]

    affected = clinic_calendar.affected_appointments(clinic.db, new, NOW, current=current)
    reasons = {a.appointment.id: a.reason for a in affected}
    assert set(reasons) == {late, closed_day, bobs}
    assert fine not in reasons
    assert "outside Alice Practitioner's working hours" in reasons[late]
    assert reasons[closed_day] == "clinic closure (training)"
    assert reasons[bobs] == "Bob Practitioner is not a practitioner in this calendar"
    assert not any(a.already for a in affected)
    assert [a.appointment.start for a in affected] == sorted(a.appointment.start for a in affected)
    by_id = {a.appointment.id: a for a in affected}
    assert by_id[bobs].practitioner == "Bob Practitioner"


def test_practitioner_leave_and_a_new_public_holiday_are_conflicts(clinic: Any) -> None:
    good_friday = date(2031, 4, 11)  # a public holiday in England
    on_holiday = book(clinic, clinic.alice, good_friday, 10)
    on_leave = book(clinic, clinic.bob, MONDAY, 10)
    text = clinic_calendar.with_leave(BASE, "Bob Practitioner", MONDAY, None, "course")
    text = text.replace(
        "[session_minutes]", '[holidays]\ncountry = "GB"\nsubdivision = "ENG"\n\n[session_minutes]'
    )
    affected = clinic_calendar.affected_appointments(
        clinic.db, clinic_calendar.parse_clinic_toml(text), NOW
    )
    reasons = {a.appointment.id: a.reason for a in affected}
    assert reasons == {
        on_holiday: "public holiday (Good Friday)",
        on_leave: "Bob Practitioner: course",
    }


def test_only_future_booked_appointments_count_and_old_problems_are_marked_already(
    clinic: Any,
) -> None:
    current = clinic_calendar.parse_clinic_toml(BASE)
    bob_afternoon = book(clinic, clinic.bob, MONDAY, 15)  # already outside Bob's hours
    cancelled = book(clinic, clinic.alice, MONDAY, 17)
    services.cancel_appointment(clinic.db, cancelled)
    past = book(clinic, clinic.alice, date(2030, 12, 2), 17)
    new = clinic_calendar.parse_clinic_toml(BASE.replace('"09:00-18:00"', '"09:00-12:00"'))
    affected = clinic_calendar.affected_appointments(clinic.db, new, NOW, current=current)
    assert [(a.appointment.id, a.already) for a in affected] == [(bob_afternoon, True)]
    assert past not in {a.appointment.id for a in affected}
    assert clinic_calendar.new_conflicts(affected) == []
    # Without the current calendar nothing is marked.
    assert not clinic_calendar.affected_appointments(clinic.db, new, NOW)[0].already


def test_a_new_time_zone_moves_the_wall_clock_the_check_uses(clinic: Any) -> None:
    """10:00 in London is 11:00 in Berlin: still open 09:00-18:00; 17:00 London is 18:00 Berlin."""
    ten = book(clinic, clinic.alice, MONDAY, 10)
    five = book(clinic, clinic.alice, MONDAY, 17)
    berlin = clinic_calendar.parse_clinic_toml(BASE.replace("Europe/London", "Europe/Berlin"))
    affected = clinic_calendar.affected_appointments(clinic.db, berlin, NOW)
    assert [a.appointment.id for a in affected] == [five]
    assert ten not in {a.appointment.id for a in affected}


def test_naive_now_is_refused(clinic: Any) -> None:
    with pytest.raises(InputError, match="timezone-aware"):
        clinic_calendar.affected_appointments(
            clinic.db, clinic_calendar.parse_clinic_toml(BASE), datetime(2031, 1, 1)
        )


# --------------------------------------------------------------------------- quick edits


def test_a_closure_is_added_keeping_comments_and_layout() -> None:
    text = clinic_calendar.with_closure(BASE, date(2031, 5, 1), date(2031, 5, 3), "roof repair")
    assert text.startswith(BASE.split("[[practitioners]]")[0].rstrip("\n"))
    assert "# Bob works mornings only" in text
    config = clinic_calendar.parse_clinic_toml(text)
    (closure,) = config.closures
    assert (closure.start, closure.end, closure.reason) == (
        date(2031, 5, 1),
        date(2031, 5, 3),
        "roof repair",
    )
    again = clinic_calendar.with_closure(text, date(2031, 6, 1), None, "one day")
    assert [(c.start, c.end) for c in clinic_calendar.parse_clinic_toml(again).closures] == [
        (date(2031, 5, 1), date(2031, 5, 3)),
        (date(2031, 6, 1), None),
    ]


def test_leave_is_added_to_the_named_practitioner_only() -> None:
    text = clinic_calendar.with_leave(BASE, "Bob Practitioner", MONDAY, MONDAY, "course")
    config = clinic_calendar.parse_clinic_toml(text)
    bob = config.practitioner("Bob Practitioner")
    assert [(d.start, d.end, d.reason) for d in bob.days_off] == [(MONDAY, None, "course")]
    assert config.practitioner("Alice Practitioner").days_off == []
    assert bob.hours is not None  # the hours table stayed with Bob
    more = clinic_calendar.with_leave(text, "Bob Practitioner", date(2031, 8, 1), None, "leave")
    assert (
        len(clinic_calendar.parse_clinic_toml(more).practitioner("Bob Practitioner").days_off) == 2
    )


def test_the_example_clinics_inline_days_off_and_closures_are_extended() -> None:
    example = clinic_calendar.bundled_clinic_toml()
    text = clinic_calendar.with_leave(example, "Dr. Lena Vogel", date(2029, 3, 1), None, "x")
    text = clinic_calendar.with_closure(text, date(2029, 3, 2), None, "y")
    config = clinic_calendar.parse_clinic_toml(text)
    assert config.practitioner("Dr. Lena Vogel").days_off[-1].start == date(2029, 3, 1)
    assert config.closures[-1].start == date(2029, 3, 2)
    assert "# no [hours]: works whenever the clinic is open" in text


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: clinic_calendar.with_leave(BASE, "Nobody", MONDAY, None, "x"), "practitioner"),
        (lambda: clinic_calendar.with_closure(BASE, MONDAY, MONDAY - timedelta(1), "x"), "end"),
        (lambda: clinic_calendar.with_closure(BASE, MONDAY, None, "  "), "reason"),
        (lambda: clinic_calendar.with_closure(BASE, MONDAY, None, "a\nb"), "reason"),
        (lambda: clinic_calendar.with_closure("name = ", MONDAY, None, "x"), "toml"),
    ],
    ids=["unknown-practitioner", "end-before-start", "blank-reason", "two-lines", "bad-base"],
)
def test_quick_edit_input_is_checked(call: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.problems[0].field == field


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2090, 12, 31)),
    days=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    reason=st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
        min_size=1,
        max_size=120,
    ).filter(lambda r: r.strip() and r.isprintable()),
)
def test_any_closure_round_trips_through_the_toml_text(
    start: date, days: int | None, reason: str
) -> None:
    end = None if days is None else start + timedelta(days=days)
    config = clinic_calendar.parse_clinic_toml(
        clinic_calendar.with_closure(BASE, start, end, reason)
    )
    (closure,) = config.closures
    assert closure.start == start
    assert closure.last == (end or start)
    assert closure.reason == reason.strip()


# --------------------------------------------------------------------------- summary


def test_the_summary_reads_hours_days_off_closures_lengths_and_prices() -> None:
    example = clinic_calendar.parse_clinic_toml(clinic_calendar.bundled_clinic_toml())
    summary = clinic_calendar.clinic_summary(example, date(2027, 1, 4))
    assert summary.opening_hours["Friday"] == "09:00-15:00"
    assert summary.opening_hours["Saturday"] == ""
    kaya = next(p for p in summary.practitioners if p.name == "Dr. Aylin Kaya")
    assert kaya.hours["Monday"] == ""
    assert kaya.hours["Friday"] == "09:00-15:00"
    vogel = next(p for p in summary.practitioners if p.name == "Dr. Lena Vogel")
    assert vogel.hours["Wednesday"] == "09:00-13:00"  # her hours within the clinic's
    assert [str(d) for d in vogel.days_off] == [
        "2027-04-19 (day off)",
        "2027-07-19 to 2027-07-30 (leave)",
    ]
    assert [c.start for c in summary.closures] == [date(2027, 12, 24), date(2028, 12, 22)]
    assert summary.holidays == "DE-BE"
    assert summary.upcoming_holidays[0][0] > date(2027, 1, 4)
    assert summary.session_minutes["full_face"] == 60
    assert summary.prices == "initial session 350.00 EUR, maintenance session 300.00 EUR"


def test_a_new_closure_table_starts_after_a_blank_line_and_values_stay_as_they_were() -> None:
    """tomlkit appends ``[[closures]]`` right under the previous value; the quick edit puts a
    blank line before each header it adds, and changes nothing else but the new lines."""
    text = clinic_calendar.with_closure(BASE, date(2031, 5, 1), None, "a")
    text = clinic_calendar.with_closure(text, date(2031, 6, 1), None, "b")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("[") and i > 0:
            assert lines[i - 1] == "" or lines[i - 1].lstrip().startswith("#"), (i, line)
    assert "\n\n\n" not in text
    added = [line for line in lines if line.strip()]
    original = [line for line in BASE.splitlines() if line.strip()]
    assert added[: len(original)] == original
    assert added[len(original) :] == [
        "[[closures]]",
        "start = 2031-05-01",
        'reason = "a"',
        "[[closures]]",
        "start = 2031-06-01",
        'reason = "b"',
    ]


def test_tidying_never_changes_a_value_inside_a_multiline_string() -> None:
    text = BASE.replace(
        'name = "Test clinic"', 'name = "Test clinic"\nlocation = """\nFloor 2\n[B] wing"""', 1
    )
    assert text != BASE, "the base calendar has the expected name line"
    out = clinic_calendar.with_closure(text, date(2031, 5, 1), None, "a")
    assert clinic_calendar.parse_clinic_toml(out).location == "\nFloor 2\n[B] wing".lstrip("\n")

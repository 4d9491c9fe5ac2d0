"""The staff's name search and the duplicate check compare names by their search keys (case and
accents aside, the same on SQLite and PostgreSQL; migration 0029): a name starting with a
capital umlaut is found as typed on SQLite too, ``Nunez`` finds ``Núñez``, ``Mueller`` finds
``Müller``; the keys follow every change of a name (an edit, an anonymisation), a restore works
them out from the names, and the migration fills them for patients stored before it."""

from __future__ import annotations

import gzip
import json
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from needleplan import services
from needleplan.domain.name_keys import later_words, name_key, search_keys
from needleplan.storage import Database, migrate
from needleplan.storage.backup import backup, restore
from needleplan.storage.repositories import patients as patients_repository
from tests.strategies import examples

PEOPLE = [
    ("Ömer", "Özdemir"),
    ("Zoë", "Núñez"),
    ("Jürgen", "Müller"),
    ("Łucja", "Wałęsa"),
    ("Ines", "Straße"),
    ("Anna", "Mueller"),
    ("Anna Maria", "Müller-Lüdenscheidt"),
    ("Ana", "García López"),
]


def _register(db: Any, given_name: str, family_name: str, born: str = "1970-01-01") -> int:
    patient = services.register_patient(
        db,
        {"given_name": given_name, "family_name": family_name, "birth_date": born},
        confirm_duplicate=True,
    )
    return patient.id


def _found(db: Any, query: str) -> list[str]:
    patients, total = services.search_patients(db, query)
    assert total == len(patients)
    return sorted(f"{p.given_name} {p.family_name}" for p in patients)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("Özdemir", ["Ömer Özdemir"]),  # as typed: SQLite's lower() leaves Ö as it is
        ("özdemir", ["Ömer Özdemir"]),
        ("OZDEM", ["Ömer Özdemir"]),
        ("ömer öz", ["Ömer Özdemir"]),
        ("nunez", ["Zoë Núñez"]),
        ("zoe", ["Zoë Núñez"]),
        ("walesa", ["Łucja Wałęsa"]),
        ("strasse", ["Ines Straße"]),
        ("STRASSE", ["Ines Straße"]),
        ("straße", ["Ines Straße"]),
        ("müller", ["Anna Maria Müller-Lüdenscheidt", "Anna Mueller", "Jürgen Müller"]),
        ("MÜLLER", ["Anna Maria Müller-Lüdenscheidt", "Anna Mueller", "Jürgen Müller"]),
        ("mu\u0308ller", ["Anna Maria Müller-Lüdenscheidt", "Anna Mueller", "Jürgen Müller"]),
        ("muller", ["Anna Maria Müller-Lüdenscheidt", "Jürgen Müller"]),  # not Mueller
        ("mueller", ["Anna Maria Müller-Lüdenscheidt", "Anna Mueller", "Jürgen Müller"]),
        ("juergen", ["Jürgen Müller"]),
        ("üller", []),  # still a prefix search
        ("ozdemir nunez", []),  # every word must match the same patient
        ("ludensch", ["Anna Maria Müller-Lüdenscheidt"]),  # a later word of the name
        ("maria", ["Anna Maria Müller-Lüdenscheidt"]),
        ("lopez", ["Ana García López"]),
        ("lopez garc", ["Ana García López"]),
        ("muller-l", ["Anna Maria Müller-Lüdenscheidt"]),  # the name as written
    ],
)
def test_names_are_found_whatever_their_case_and_accents(
    db: Any, query: str, names: list[str]
) -> None:
    for given_name, family_name in PEOPLE:
        _register(db, given_name, family_name)
    assert _found(db, query) == names


def test_a_word_that_starts_many_later_words_gives_the_same_patients(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past TOKEN_IDS patients found by later words, the search is one UNION of index ranges
    instead of a list of ids: the same patients either way."""
    for given_name, family_name in PEOPLE:
        _register(db, given_name, family_name)
    queries = ("lopez", "maria", "l", "m", "ana lo", "anna")
    listed = {q: _found(db, q) for q in queries}
    assert listed["l"] == ["Ana García López", "Anna Maria Müller-Lüdenscheidt", "Łucja Wałęsa"]
    monkeypatch.setattr(patients_repository, "TOKEN_IDS", 0)
    assert {q: _found(db, q) for q in queries} == listed


def test_the_duplicate_check_sees_through_case_and_accents(db: Any) -> None:
    first = _register(db, "Zoë", "Núñez", "1981-05-06")
    draft = {"given_name": "ZOE", "family_name": "Nunez", "birth_date": "1981-05-06"}
    duplicates = services.likely_duplicates(db, draft)
    assert [(p.id, why) for p, why in duplicates] == [(first, "name and date of birth")]
    other_day = {**draft, "birth_date": "1981-05-07"}
    assert services.likely_duplicates(db, other_day) == []


def test_the_keys_follow_an_edit_and_an_anonymisation(db: Any) -> None:
    pid = _register(db, "Ömer", "Özdemir-Kaya")
    assert _found(db, "kaya") == ["Ömer Özdemir-Kaya"]
    services.update_patient(db, pid, {"phone": "+49 30 1234567"})  # her names stay
    assert _found(db, "kaya") == ["Ömer Özdemir-Kaya"]
    assert _found(db, "ozdemir") == ["Ömer Özdemir-Kaya"]
    services.update_patient(db, pid, {"family_name": "Çelik"})
    assert _found(db, "celik") == ["Ömer Çelik"]
    assert _found(db, "ozdemir") == []
    assert _found(db, "kaya") == []  # the old name's later word went with it
    with db.transaction() as uow:
        uow.retention.anonymise(pid, datetime(2031, 2, 1, tzinfo=UTC), "test")
    assert _found(db, "celik") == []  # her old name no longer finds the anonymised record
    assert _found(db, "omer") == []
    assert _found(db, "anonymised") == [f"Anonymised Patient {pid}"]


def test_a_merge_takes_the_merged_record_s_words_away(db: Any) -> None:
    kept = _register(db, "Ana", "García López")
    gone = _register(db, "Ana", "García Ruiz")
    services.merge_patients(db, kept, gone)
    assert _found(db, "lopez") == ["Ana García López"]
    assert _found(db, "ruiz") == []  # her record is gone; its words do not find the kept one


def test_a_restore_works_the_keys_out_from_the_names(
    db: Any, empty_database_url: str, tmp_path: Path
) -> None:
    _register(db, "Ömer", "Özdemir-Kaya")
    file = tmp_path / "clinic.json.gz"
    backup(db.engine, file)
    data = json.loads(gzip.decompress(file.read_bytes()))
    patients = data["tables"]["patients"]
    columns = patients["columns"]
    # a forged key: the restore does not trust it; then a file without keys (before 0029)
    patients["rows"][0][columns.index("family_key")] = "someone else"
    file.write_bytes(gzip.compress(json.dumps(data).encode()))
    target = Database.open(empty_database_url)
    try:
        restore(target.engine, file)
        assert _found(target, "ozdemir") == ["Ömer Özdemir-Kaya"]
        assert _found(target, "kaya") == ["Ömer Özdemir-Kaya"]  # its words rebuilt
        assert _found(target, "someone") == []
    finally:
        target.dispose()
    keep = [i for i, c in enumerate(columns) if c not in ("given_key", "family_key")]
    patients["columns"] = [columns[i] for i in keep]
    patients["rows"] = [[row[i] for i in keep] for row in patients["rows"]]
    file.write_bytes(gzip.compress(json.dumps(data).encode()))
    again = Database.open(f"sqlite:///{tmp_path / 'again.sqlite3'}")
    try:
        restore(again.engine, file)
        assert _found(again, "Özdemir") == ["Ömer Özdemir-Kaya"]
    finally:
        again.dispose()


def test_migration_0030_fills_the_words_of_the_patients_stored_before_it(
    empty_database_url: str,
) -> None:
    db = Database.open(empty_database_url)
    try:
        _register(db, "Anna Maria", "Müller-Lüdenscheidt")
        from alembic import command

        command.downgrade(migrate.alembic_config(db.engine), "0029")
        assert migrate.current_revision(db.engine) == "0029"
        migrate.upgrade(db.engine)
        assert _found(db, "ludenscheidt") == ["Anna Maria Müller-Lüdenscheidt"]
        assert _found(db, "maria") == ["Anna Maria Müller-Lüdenscheidt"]
    finally:
        db.dispose()


def test_migration_0029_fills_the_keys_of_the_patients_stored_before_it(
    empty_database_url: str,
) -> None:
    db = Database.open(empty_database_url)
    try:
        _register(db, "Ömer", "Özdemir")
        from alembic import command

        config = migrate.alembic_config(db.engine)
        command.downgrade(config, "0028")
        with db.engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM patients")).keys()
        assert "family_key" not in columns
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            keys = conn.execute(text("SELECT given_key, family_key FROM patients")).one()
        assert tuple(keys) == ("omer", "ozdemir")
        assert _found(db, "Özdemir") == ["Ömer Özdemir"]
    finally:
        db.dispose()


LATIN = string.ascii_letters + "ÄÖÜäöüßẞÉéÈèÑñÇçŁłØøÆæŒœÐðÞþıİ -'"


@given(st.text(alphabet=LATIN, max_size=30))
@settings(max_examples=examples(200))
def test_a_key_is_its_own_key_and_ignores_case(name: str) -> None:
    key = name_key(name)
    assert name_key(key) == key
    assert name_key(name.upper()) == key == name_key(name.lower())
    assert key == key.strip()
    assert "  " not in key
    assert key in search_keys(name)
    words = later_words(key)
    assert all(w and " " not in w and "-" not in w for w in words)
